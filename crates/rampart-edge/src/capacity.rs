//! Capacity: how many client connections the edge holds, globally and per client
//! address, and how long a connection may sit idle or stall a response.
//!
//! A connection over a soft cap is still accepted but served in refusal mode (every
//! request gets 503 + `Retry-After` and the connection closes), so a client learns why;
//! beyond the hard ceiling the socket is closed at once, before any TLS work.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Connection and request caps.
#[derive(Debug, Clone, Copy)]
pub struct CapacityLimits {
    /// Connections served normally, across all clients.
    pub max_connections: usize,
    /// Connections served normally from one client address.
    pub max_connections_per_ip: usize,
    /// Requests in flight across all connections; more get 503 at once.
    pub max_requests_in_flight: usize,
    /// A connection with no request in flight and no bytes moving is closed after this.
    pub idle_timeout: Duration,
    /// A response write that makes no progress for this long closes the connection.
    pub write_stall_timeout: Duration,
}

impl Default for CapacityLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_ip: 256,
            max_requests_in_flight: 4_096,
            idle_timeout: Duration::from_secs(60),
            write_stall_timeout: Duration::from_secs(30),
        }
    }
}

/// How an accepted connection is to be served.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Normally; the slot is released when the ticket drops.
    Serve(Ticket),
    /// Over a soft cap: answer 503 to every request, then close.
    Refuse(Ticket),
    /// Over the hard ceiling: close without reading.
    Drop,
}

/// Live connection counts.
#[derive(Debug)]
pub(crate) struct Capacity {
    limits: CapacityLimits,
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    in_flight: AtomicUsize,
}

/// A held connection slot.
#[derive(Debug)]
pub(crate) struct Ticket {
    capacity: Arc<Capacity>,
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.capacity.total.fetch_sub(1, Ordering::AcqRel);
        let mut per_ip = self
            .capacity
            .per_ip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// A held request slot.
#[derive(Debug)]
pub(crate) struct RequestSlot(Arc<Capacity>);

impl Drop for RequestSlot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Capacity {
    pub(crate) fn new(limits: CapacityLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
        })
    }

    pub(crate) fn limits(&self) -> &CapacityLimits {
        &self.limits
    }

    /// Decides how to serve a new connection from `ip`.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Admission {
        // The ceiling leaves room to tell refused clients why, but not unboundedly.
        let ceiling = self.limits.max_connections + self.limits.max_connections / 10 + 16;
        let total = self.total.fetch_add(1, Ordering::AcqRel) + 1;
        if total > ceiling {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Admission::Drop;
        }
        let mut per_ip = self
            .per_ip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = per_ip.entry(ip).or_insert(0);
        *n += 1;
        let over_ip = *n > self.limits.max_connections_per_ip;
        drop(per_ip);
        let ticket = Ticket {
            capacity: self.clone(),
            ip,
        };
        if total > self.limits.max_connections || over_ip {
            Admission::Refuse(ticket)
        } else {
            Admission::Serve(ticket)
        }
    }

    /// Takes a request slot, or `None` when the edge is at its in-flight cap.
    pub(crate) fn start_request(self: &Arc<Self>) -> Option<RequestSlot> {
        let n = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let slot = RequestSlot(self.clone());
        (n <= self.limits.max_requests_in_flight).then_some(slot)
    }
}

/// The slots one request holds until its response is done.
#[derive(Debug)]
pub(crate) struct RequestGuards {
    pub(crate) _slot: RequestSlot,
    pub(crate) _active: ActiveRequest,
    pub(crate) _permits: Option<rampart_ratelimit::Permits>,
}

/// Requests in flight on one connection. The connection is idle while none is, from
/// the moment the last one finished: bytes alone (h2 pings, a slow head) do not count
/// as activity.
#[derive(Debug)]
pub(crate) struct ConnActivity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Default for ConnActivity {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        }
    }
}

/// Marks one request in flight on its connection for as long as it lives.
#[derive(Debug)]
pub(crate) struct ActiveRequest(Arc<ConnActivity>);

impl ConnActivity {
    pub(crate) fn begin(self: &Arc<Self>) -> ActiveRequest {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        ActiveRequest(self.clone())
    }

    /// When the connection became idle, or `None` while a request is in flight.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(
            *self
                .idle_since
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        let mut since = self
            .0
            .idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *since = Instant::now();
        }
    }
}

/// Wraps a client connection: closes it when idle too long between requests, and when
/// a write makes no progress for too long (a client that stops reading its response).
pub(crate) struct TimedIo<IO> {
    io: IO,
    activity: Arc<ConnActivity>,
    idle_timeout: Duration,
    write_stall_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    stall: Option<Pin<Box<Sleep>>>,
}

impl<IO> TimedIo<IO> {
    pub(crate) fn new(io: IO, activity: Arc<ConnActivity>, limits: &CapacityLimits) -> Self {
        Self {
            io,
            activity,
            idle_timeout: limits.idle_timeout,
            write_stall_timeout: limits.write_stall_timeout,
            idle: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            stall: None,
        }
    }
}

impl<IO> TimedIo<IO> {
    /// Passes a write result on; a write pending for longer than the stall timeout
    /// becomes an error that closes the connection.
    fn watch_stall(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if let Poll::Ready(result) = polled {
            self.stall = None;
            return Poll::Ready(result);
        }
        let timeout = self.write_stall_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stall.as_mut().poll(cx));
        Poll::Ready(Err(timed_out("response write stalled")))
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl<IO: AsyncRead + Unpin> AsyncRead for TimedIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(result) = Pin::new(&mut this.io).poll_read(cx, buf) {
            return Poll::Ready(result);
        }
        // While a request is in flight its own deadlines apply.
        let Some(since) = this.activity.idle_since() else {
            return Poll::Pending;
        };
        let deadline = since + this.idle_timeout;
        if this.idle.deadline() != deadline {
            this.idle.as_mut().reset(deadline);
        }
        ready!(this.idle.as_mut().poll(cx));
        Poll::Ready(Err(timed_out("idle connection")))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for TimedIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, data);
        this.watch_stall(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch_stall(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> CapacityLimits {
        CapacityLimits {
            max_connections: total,
            max_connections_per_ip: per_ip,
            max_requests_in_flight: 2,
            ..CapacityLimits::default()
        }
    }

    fn kind(a: &Admission) -> &'static str {
        match a {
            Admission::Serve(_) => "serve",
            Admission::Refuse(_) => "refuse",
            Admission::Drop => "drop",
        }
    }

    #[test]
    fn per_ip_cap_refuses_one_client_without_affecting_others() {
        let cap = Capacity::new(limits(100, 2));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| cap.admit(a)).collect();
        let kinds: Vec<_> = held.iter().map(kind).collect();
        assert_eq!(kinds, ["serve", "serve", "refuse"]);
        assert_eq!(kind(&cap.admit(b)), "serve");
        drop(held);
        assert_eq!(kind(&cap.admit(a)), "serve", "slots come back when closed");
        assert!(
            cap.per_ip.lock().unwrap().is_empty(),
            "no entry outlives its connections"
        );
    }

    #[test]
    fn global_cap_refuses_then_drops_past_the_ceiling() {
        let cap = Capacity::new(limits(4, 100));
        let ip: IpAddr = "::1".parse().unwrap();
        let held: Vec<_> = (0..25).map(|_| cap.admit(ip)).collect();
        let count = |k| held.iter().filter(|a| kind(a) == k).count();
        // ceiling = 4 + 0 + 16 = 20
        assert_eq!((count("serve"), count("refuse"), count("drop")), (4, 16, 5));
        drop(held);
        assert_eq!(cap.total.load(Ordering::Acquire), 0);
    }

    #[test]
    fn in_flight_cap_is_released_by_drop() {
        let cap = Capacity::new(limits(10, 10));
        let one = cap.start_request();
        let two = cap.start_request();
        assert!(one.is_some() && two.is_some());
        assert!(cap.start_request().is_none());
        drop(one);
        assert!(cap.start_request().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_close_but_busy_ones_do_not() {
        use tokio::io::AsyncReadExt;
        let limits = CapacityLimits {
            idle_timeout: Duration::from_secs(5),
            ..CapacityLimits::default()
        };
        let (client, server) = tokio::io::duplex(64);
        let activity = Arc::new(ConnActivity::default());
        let mut io = TimedIo::new(server, activity.clone(), &limits);
        let busy = activity.begin();
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(60), io.read(&mut buf)).await;
        assert!(
            read.is_err(),
            "a connection serving a request is never idle"
        );
        drop(busy);
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_cut_off() {
        use tokio::io::AsyncWriteExt;
        let limits = CapacityLimits {
            write_stall_timeout: Duration::from_secs(3),
            ..CapacityLimits::default()
        };
        let (_client, server) = tokio::io::duplex(16);
        let mut io = TimedIo::new(server, Arc::new(ConnActivity::default()), &limits);
        let started = Instant::now();
        let err = io.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(3));
    }
}
