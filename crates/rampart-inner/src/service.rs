//! The gRPC side of the inner tier: the `Forwarder` service and the mutual-TLS accept
//! loop in front of it.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rampart_proto::v1::forwarder_server::Forwarder;
use rampart_proto::v1::{PingReply, PingRequest, RequestPart, request_part};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tonic::{Request, Response, Status, Streaming};

use crate::exchange::{PartStream, Router};
use crate::link_io::LinkIo;

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
) -> mpsc::Receiver<Result<LinkIo, io::Error>> {
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
                        let _ = tx.send(Ok(LinkIo::accepted(stream))).await;
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
