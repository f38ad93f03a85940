//! The gRPC side of the inner tier: the `Forwarder` service and the mutual-TLS accept
//! loop in front of it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rampart_proto::v1::forwarder_server::Forwarder;
use rampart_proto::v1::{PingReply, PingRequest, RequestPart, request_part};
use rampart_service::coalesce::Coalesce;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::{Request, Response, Status, Streaming};

use crate::exchange::{PartStream, Router};

/// The `Forwarder` implementation.
pub(crate) struct ForwarderService {
    /// The router in force; each exchange loads it once and keeps it to the end.
    pub(crate) router: Arc<arc_swap::ArcSwap<Router>>,
    /// The configuration generation the Ping reply reports.
    pub(crate) reloads: Arc<rampart_service::reload::Reloader>,
}

#[tonic::async_trait]
impl Forwarder for ForwarderService {
    type ForwardStream = PartStream;

    async fn forward(
        &self,
        request: Request<Streaming<RequestPart>>,
    ) -> Result<Response<Self::ForwardStream>, Status> {
        let mut inbound = request.into_inner();
        let head = match inbound.message().await {
            Ok(Some(RequestPart {
                part: Some(request_part::Part::Head(head)),
            })) => head,
            Ok(_) => {
                return Err(Status::invalid_argument(
                    "the first message must be the request head",
                ));
            }
            Err(status) => return Err(status),
        };
        let router = self.router.load_full();
        let stream = router.exchange(head, inbound).await?;
        Ok(Response::new(stream))
    }

    async fn ping(&self, _request: Request<PingRequest>) -> Result<Response<PingReply>, Status> {
        Ok(Response::new(PingReply {
            generation: self.reloads.status().generation(),
        }))
    }
}

/// Accepts TCP connections and completes the mutual-TLS handshake (with its identity
/// check) under a deadline, concurrently; only authenticated streams reach tonic.
pub(crate) fn authenticated_connections(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    handshake_timeout: Duration,
) -> mpsc::Receiver<Result<AcceptedLink, io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "link accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = tx.closed() => return,
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(AcceptedLink(Coalesce::new(stream)))).await;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(peer = %peer, error = %e, "link handshake refused");
                    }
                    Err(_) => tracing::warn!(peer = %peer, "link handshake timed out"),
                }
            });
        }
    });
    rx
}

/// An accepted link connection, as the gRPC server sees it: its writes are coalesced, so
/// a response's frames (and those of the exchanges ready with it) leave in one record.
pub(crate) struct AcceptedLink(Coalesce<TlsStream<TcpStream>>);

impl AsyncRead for AcceptedLink {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for AcceptedLink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl Connected for AcceptedLink {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        let tcp = self.0.get_ref().get_ref().0;
        TcpConnectInfo {
            local_addr: tcp.local_addr().ok(),
            remote_addr: tcp.peer_addr().ok(),
        }
    }
}
