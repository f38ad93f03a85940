//! Keep-alive HTTP/1.1 connections to one backend address, on hyper's connection-level
//! client. It does what the inner needs from a pooled client and nothing else: no
//! shared map keyed by host, no connector service stack, no checkout futures.
//!
//! An idle connection is handed out only while its driver task runs and it is ready
//! for a request, and never after [`IDLE_TIMEOUT`] (checked on checkout and return, and
//! by one sweep per pool while no traffic comes). A connection goes back only once
//! its response body was read to the end. A request that a reused connection gives
//! back unsent (the backend closed the idle socket first) is tried once more on a
//! fresh connection; one whose bytes may have reached the backend never is.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::body::UpstreamBody;

/// An idle connection is closed after this long unused (as the legacy client did).
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why no response head came back. Display is one link: report with `error_chain`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PoolError {
    /// No connection could be opened: the address is down.
    #[error("connect failed")]
    Connect(#[from] ConnectError),
    /// The exchange on an open connection failed.
    #[error("request failed")]
    Send(#[source] hyper::Error),
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConnectError {
    /// The host name did not resolve.
    #[error("resolve")]
    Resolve(#[source] std::io::Error),
    /// TCP connect refused or failed.
    #[error("tcp connect")]
    Tcp(#[source] std::io::Error),
    /// TCP and TLS did not complete within the connect timeout.
    #[error("connect timed out")]
    TimedOut,
    /// The TLS handshake failed (untrusted certificate, wrong name, alert).
    #[error("tls handshake")]
    Tls(#[source] std::io::Error),
    /// The authority's host is not a valid TLS server name.
    #[error("invalid tls server name")]
    ServerName,
    /// The address's scheme is neither `http` nor `https`.
    #[error("unsupported scheme")]
    Scheme,
    /// hyper refused the connection (never expected).
    #[error("http handshake")]
    Handshake(#[source] hyper::Error),
}

/// How connections to an address are opened and kept.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    pub(crate) max_idle: usize,
    pub(crate) idle_timeout: Duration,
    /// Used for `https` addresses.
    pub(crate) tls: Arc<rustls::ClientConfig>,
}

enum Transport {
    Plain,
    Tls(TlsConnector, ServerName<'static>),
    /// Fails every connect with the reason (reported per request, as the legacy
    /// connector did, rather than at configuration time).
    Broken(fn() -> ConnectError),
}

struct Idle {
    conn: SendRequest<UpstreamBody>,
    since: Instant,
}

/// The connections to one `scheme://authority`.
pub(crate) struct Pool {
    /// Host without IPv6 brackets, for resolving.
    host: String,
    port: u16,
    transport: Transport,
    connect_timeout: Duration,
    max_idle: usize,
    idle_timeout: Duration,
    /// Oldest at the front; checkout takes the newest (warm) one.
    idle: Mutex<VecDeque<Idle>>,
}

impl Pool {
    /// A pool for `scheme://authority`; when inside a runtime, also a sweep task that
    /// closes idle connections nobody checks out (it ends with the pool).
    pub(crate) fn new(scheme: &Scheme, authority: &Authority, settings: &Settings) -> Arc<Self> {
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let tls = *scheme == Scheme::HTTPS;
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let transport = if tls {
            match ServerName::try_from(host.to_owned()) {
                Ok(name) => Transport::Tls(TlsConnector::from(settings.tls.clone()), name),
                Err(_) => Transport::Broken(|| ConnectError::ServerName),
            }
        } else if *scheme == Scheme::HTTP {
            Transport::Plain
        } else {
            Transport::Broken(|| ConnectError::Scheme)
        };
        let pool = Arc::new(Self {
            host: host.to_owned(),
            port,
            transport,
            connect_timeout: settings.connect_timeout,
            max_idle: settings.max_idle,
            idle_timeout: settings.idle_timeout,
            idle: Mutex::new(VecDeque::new()),
        });
        if settings.max_idle > 0 && tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(sweep(Arc::downgrade(&pool), settings.idle_timeout));
        }
        pool
    }

    /// Sends `request` (origin-form URI, `Host` set) on an idle connection or a new
    /// one, and returns the response head; its body returns the connection when read
    /// to the end.
    pub(crate) async fn send(
        self: &Arc<Self>,
        request: Request<UpstreamBody>,
    ) -> Result<Response<ResponseBody>, PoolError> {
        // Connecting is boxed: its state (resolver, TCP, TLS handshake) would otherwise
        // sit inline in every exchange's future, copied on each spawn of it.
        let (mut conn, reused) = match self.checkout() {
            Some(conn) => (conn, true),
            None => (Box::pin(self.connect()).await?, false),
        };
        let request = match conn.try_send_request(request).await {
            Ok(response) => return Ok(self.attach(response, conn)),
            Err(mut e) => match e.take_message() {
                // The keep-alive race: the backend closed the idle connection before
                // hyper wrote a byte of the request, so a new connection may carry it.
                Some(request) if reused => request,
                _ => return Err(PoolError::Send(e.into_error())),
            },
        };
        tracing::debug!(host = %self.host, "idle backend connection was closed; retrying on a new one");
        let mut conn = Box::pin(self.connect()).await?;
        match conn.try_send_request(request).await {
            Ok(response) => Ok(self.attach(response, conn)),
            Err(e) => Err(PoolError::Send(e.into_error())),
        }
    }

    fn attach(
        self: &Arc<Self>,
        response: Response<Incoming>,
        conn: SendRequest<UpstreamBody>,
    ) -> Response<ResponseBody> {
        response.map(|body| ResponseBody {
            body,
            conn: Some((conn, self.clone())),
        })
    }

    /// The newest idle connection that is still open and ready; stale ones are dropped.
    fn checkout(&self) -> Option<SendRequest<UpstreamBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(Idle { conn, since }) = idle.pop_back() {
            if since.elapsed() >= self.idle_timeout {
                // Everything older is stale too.
                idle.clear();
                return None;
            }
            if conn.is_ready() && !conn.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for reuse if it is ready, there is room, and it is still open.
    fn checkin(&self, conn: SendRequest<UpstreamBody>) {
        if self.max_idle == 0 || conn.is_closed() || !conn.is_ready() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        self.evict(&mut idle);
        if idle.len() < self.max_idle {
            idle.push_back(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// Returns `conn` once its response was read whole: now if the driver has already
    /// taken up the next request slot, otherwise when it does (a short-lived task).
    fn release(self: Arc<Self>, mut conn: SendRequest<UpstreamBody>) {
        if self.max_idle == 0 || conn.is_closed() {
            return;
        }
        if conn.is_ready() {
            return self.checkin(conn);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let idle_timeout = self.idle_timeout;
        runtime.spawn(async move {
            if let Ok(Ok(())) = tokio::time::timeout(idle_timeout, conn.ready()).await {
                self.checkin(conn);
            }
        });
    }

    /// Drops idle connections that expired or whose driver ended, from the oldest.
    fn evict(&self, idle: &mut VecDeque<Idle>) {
        while idle
            .front()
            .is_some_and(|i| i.since.elapsed() >= self.idle_timeout)
        {
            idle.pop_front();
        }
        idle.retain(|i| !i.conn.is_closed());
    }

    /// Opens a connection within the connect timeout: resolve, TCP (each resolved
    /// address in turn, sharing the timeout like the legacy connector), TLS.
    async fn connect(&self) -> Result<SendRequest<UpstreamBody>, ConnectError> {
        let opened = tokio::time::timeout(self.connect_timeout, self.open());
        opened.await.map_err(|_| ConnectError::TimedOut)?
    }

    async fn open(&self) -> Result<SendRequest<UpstreamBody>, ConnectError> {
        if let Transport::Broken(reason) = &self.transport {
            return Err(reason());
        }
        let tcp = self.tcp().await?;
        match &self.transport {
            Transport::Tls(connector, name) => {
                let tls = connector.connect(name.clone(), tcp).await;
                handshake(tls.map_err(ConnectError::Tls)?).await
            }
            _ => handshake(tcp).await,
        }
    }

    async fn tcp(&self) -> Result<TcpStream, ConnectError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(ConnectError::Resolve)?
            .collect();
        let share = u32::try_from(addrs.len()).unwrap_or(u32::MAX).max(1);
        let each = self.connect_timeout / share;
        let mut last = ConnectError::Resolve(std::io::ErrorKind::NotFound.into());
        for addr in addrs {
            last = match tokio::time::timeout(each, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => {
                    // Request heads are small writes; do not wait for Nagle.
                    tcp.set_nodelay(true).map_err(ConnectError::Tcp)?;
                    return Ok(tcp);
                }
                Ok(Err(e)) => ConnectError::Tcp(e),
                Err(_) => ConnectError::TimedOut,
            };
        }
        Err(last)
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The HTTP/1.1 handshake on an open stream; its driver runs as a task of its own.
async fn handshake<T>(io: T) -> Result<SendRequest<UpstreamBody>, ConnectError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (conn, driver) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(ConnectError::Handshake)?;
    tokio::spawn(async move {
        if let Err(e) = driver.await {
            tracing::debug!(error = %e, "backend connection ended with an error");
        }
    });
    Ok(conn)
}

/// Closes expired idle connections of `pool` while it lives.
async fn sweep(pool: Weak<Pool>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let mut idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        pool.evict(&mut idle);
    }
}

/// A backend response body that returns its connection to the pool once read to the
/// end. Dropped earlier, the connection is not returned (hyper closes it).
pub(crate) struct ResponseBody {
    body: Incoming,
    conn: Option<(SendRequest<UpstreamBody>, Arc<Pool>)>,
}

impl ResponseBody {
    fn release(&mut self) {
        if let Some((conn, pool)) = self.conn.take() {
            pool.release(conn);
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("body", &self.body)
            .field("pooled", &self.conn.is_some())
            .finish()
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        match &frame {
            None => self.release(),
            Some(Err(_)) => self.conn = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // A body nobody polled to its end but that has no more (HEAD, 204, the last
        // byte of a sized body) still frees its connection.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}

#[cfg(test)]
mod tests;
