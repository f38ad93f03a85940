//! One link connection: the HTTP/2 client handshake both link modes share, dialling
//! (TCP, mutual TLS, HTTP/2, all within the connect timeout), the task that drives a
//! connection and pings it, and the slot that holds a dialled connection until it closes.
//!
//! The edge speaks HTTP/2 through `h2` itself rather than hyper's client: hyper runs
//! every request through a dispatch task and spawns two more tasks per request (one
//! waits for the response, one pipes the body), which cost the edge more than the
//! exchange's own work. Exchanges ([`super::grpc`]) are sent from the request's task;
//! the tonic clients of the probes and the policy watch use [`H2Sender`].

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body;
use rampart_proto::h2link;
use rampart_service::coalesce::Coalesce;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::LinkError;

/// A link connection's sending side, shared by every request on it.
#[derive(Clone)]
pub(super) struct H2 {
    pub(super) send: h2::client::SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
}

impl H2 {
    /// True once the connection's driver stopped (closed, failed or unanswered pings).
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// HTTP/2 keep-alive pings on a link connection: a connection whose peer stops
/// answering closes after `interval + timeout`, and leaves the rotation with it.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeepAlive {
    pub(super) interval: Duration,
    pub(super) timeout: Duration,
}

impl KeepAlive {
    /// Edge-dials: a dead connection is re-dialled on demand, probes catch the rest.
    pub(super) const DIALLED: Self = Self {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    };
    /// Inner-dials: only the inner can re-dial, so a dead link must drop within seconds.
    pub(super) const ACCEPTED: Self = Self {
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
    };
}

/// Why a link connection's driver stopped.
#[derive(Debug, thiserror::Error)]
pub(super) enum DriveError {
    #[error("{0}")]
    H2(#[from] h2::Error),
    #[error("keep-alive ping unanswered")]
    PingTimeout,
}

/// The HTTP/2 client handshake on an established (TLS) stream, the same in both link
/// modes: the edge is the HTTP/2 client whoever opened the TCP connection. Writes
/// are coalesced (a request's HEADERS and DATA leave in one TLS record). The stream
/// is boxed so the connection future stays small wherever it moves. The returned
/// driver must be spawned or awaited for the connection to work; it ends when the
/// connection does, and the sender reports closed from then on.
pub(super) async fn handshake<T>(
    io: T,
    keep_alive: KeepAlive,
) -> Result<
    (
        H2,
        impl Future<Output = Result<(), DriveError>> + Send + 'static,
    ),
    h2::Error,
>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(1024 * 1024)
        .initial_connection_window_size(8 * 1024 * 1024)
        .max_frame_size(16 * 1024)
        .max_header_list_size(16 * 1024)
        .max_send_buffer_size(1024 * 1024)
        .enable_push(false)
        .handshake::<_, Bytes>(Coalesce::new(Box::new(io)))
        .await?;
    let closed = Arc::new(AtomicBool::new(false));
    let flag = ClosedOnDrop(closed.clone());
    let driver = async move {
        let _flag = flag;
        drive(connection, keep_alive).await
    };
    Ok((H2 { send, closed }, driver))
}

/// Sets the connection's closed flag when its driver ends, however it ends.
struct ClosedOnDrop(Arc<AtomicBool>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Drives `connection` and pings the peer every `interval`, idle or not; a ping
/// without its answer within `timeout` ends the connection.
async fn drive<T>(
    mut connection: h2::client::Connection<T, Bytes>,
    keep_alive: KeepAlive,
) -> Result<(), DriveError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(mut pings) = connection.ping_pong() else {
        // Only taken once, and here: cannot happen; drive without pings.
        return Ok(connection.await?);
    };
    loop {
        tokio::select! {
            done = &mut connection => return Ok(done?),
            () = tokio::time::sleep(keep_alive.interval) => {}
        }
        let pong = tokio::time::timeout(keep_alive.timeout, pings.ping(h2::Ping::opaque()));
        tokio::select! {
            done = &mut connection => return Ok(done?),
            answered = pong => match answered {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(DriveError::PingTimeout),
            },
        }
    }
}

/// A connection slot: holds a live connection, or re-dials when it is gone.
#[derive(Default)]
pub(super) struct Slot {
    live: std::sync::Mutex<Option<H2>>,
    /// Held while dialling, so one task dials and the others wait for its connection.
    pub(super) dialing: tokio::sync::Mutex<()>,
}

impl Slot {
    pub(super) fn current(&self) -> Option<H2> {
        let live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        live.as_ref().filter(|s| !s.is_closed()).cloned()
    }

    pub(super) fn store(&self, sender: H2) {
        *self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sender);
    }
}

/// Everything needed to dial a link connection.
pub(super) struct Dialer {
    pub(super) tls: TlsConnector,
    pub(super) server_name: rustls::pki_types::ServerName<'static>,
    pub(super) connect_timeout: Duration,
}

impl Dialer {
    pub(super) async fn dial(&self, addr: SocketAddr) -> Result<H2, LinkError> {
        let dial = async {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let tls = self.tls.connect(self.server_name.clone(), tcp).await?;
            let (sender, driver) = handshake(tls, KeepAlive::DIALLED)
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(async move {
                if let Err(e) = driver.await {
                    tracing::debug!(endpoint = %addr, error = %e, "link connection closed");
                }
            });
            Ok::<_, std::io::Error>(sender)
        };
        match tokio::time::timeout(self.connect_timeout, dial).await {
            Ok(Ok(sender)) => Ok(sender),
            Ok(Err(e)) => {
                tracing::debug!(endpoint = %addr, error = %e, "link dial failed");
                Err(LinkError::Unavailable)
            }
            Err(_) => {
                tracing::debug!(endpoint = %addr, "link dial timed out");
                Err(LinkError::Unavailable)
            }
        }
    }
}

/// A link connection as the tower service tonic's generated clients call (probes and
/// the policy watch; exchanges go through [`super::grpc`]).
#[derive(Clone)]
pub(super) struct H2Sender(pub(super) H2);

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for H2Sender {
    type Response = http::Response<h2link::RecvBody>;
    type Error = h2::Error;
    type Future = Boxed<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.send.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let mut send = self.0.send.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let end = body.is_end_stream();
            send = send.ready().await?;
            let (response, stream) =
                send.send_request(http::Request::from_parts(parts, ()), end)?;
            if !end {
                tokio::spawn(h2link::pipe(body, stream));
            }
            Ok(response.await?.map(h2link::RecvBody))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that completes the handshake and then stops reading: its pings go
    /// unanswered, the driver ends and the connection reports closed; a peer that
    /// keeps answering keeps the connection open.
    #[tokio::test]
    async fn an_unanswered_ping_closes_the_connection_and_an_answered_one_does_not() {
        let keep_alive = KeepAlive {
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(100),
        };
        for answers in [true, false] {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn(async move {
                let mut conn = h2::server::handshake(server_io)
                    .await
                    .expect("server handshake");
                if answers {
                    // Accepting drives the connection, which answers pings.
                    while conn.accept().await.is_some() {}
                } else {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
            let (h2, driver) = handshake(client_io, keep_alive).await.expect("handshake");
            let driver = tokio::spawn(driver);
            tokio::time::sleep(Duration::from_millis(600)).await;
            if answers {
                assert!(
                    !driver.is_finished(),
                    "an answering peer keeps the connection"
                );
                assert!(!h2.is_closed());
                driver.abort();
            } else {
                assert!(
                    matches!(driver.await, Ok(Err(DriveError::PingTimeout))),
                    "the driver ends on the unanswered ping"
                );
                assert!(h2.is_closed());
            }
            server.abort();
        }
    }
}
