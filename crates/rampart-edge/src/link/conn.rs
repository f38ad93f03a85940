//! One link connection: the HTTP/2 client handshake both link modes share, dialling
//! (TCP, mutual TLS, HTTP/2 with keep-alive pings, all within the connect timeout) and
//! the slot that holds a dialled connection until it closes.

use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rampart_service::coalesce::Coalesce;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::LinkError;
use super::eager_end::{EagerEnd, LinkBody};

pub(super) type H2 = hyper::client::conn::http2::SendRequest<EagerEnd>;

/// One HTTP/2 connection of the link, used directly by request tasks (no dispatch task
/// in between, unlike a buffered channel).
#[derive(Clone)]
pub(super) struct H2Sender(pub(super) H2);

impl tower::Service<http::Request<LinkBody>> for H2Sender {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<LinkBody>) -> Self::Future {
        Box::pin(self.0.send_request(request.map(EagerEnd::new)))
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

/// The HTTP/2 client handshake on an established (TLS) stream, the same in both link
/// modes: the edge is the HTTP/2 client whoever opened the TCP connection. Its writes
/// are coalesced (a request's HEADERS and DATA leave in one TLS record). The
/// returned connection must be driven (spawned or awaited) for the sender to work.
///
/// The stream is boxed: hyper spawns two tasks per request whose future type is an
/// enum that also holds the connection, so an inline TLS stream (kilobytes of rustls
/// state) would be copied into every one of them.
pub(super) async fn handshake<T>(
    io: T,
    keep_alive: KeepAlive,
) -> Result<
    (
        H2,
        hyper::client::conn::http2::Connection<TokioIo<Coalesce<Box<T>>>, EagerEnd, TokioExecutor>,
    ),
    hyper::Error,
>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(1024 * 1024)
        .initial_connection_window_size(8 * 1024 * 1024)
        .keep_alive_interval(keep_alive.interval)
        .keep_alive_timeout(keep_alive.timeout)
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(Coalesce::new(Box::new(io))))
        .await
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
            let (sender, connection) = handshake(tls, KeepAlive::DIALLED)
                .await
                .map_err(std::io::Error::other)?;
            let label = addr;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(endpoint = %label, error = %e, "link connection closed");
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
