//! The tonic side of the inner tier (the `Forwarder` service's `Ping`) and the
//! mutual-TLS accept loop in front of the link server.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rampart_proto::v1::forwarder_server::Forwarder;
use rampart_proto::v1::{PingReply, PingRequest, RequestPart, ResponsePart};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tonic::{Request, Response, Status, Streaming};

use crate::link_io::LinkIo;

/// The `Forwarder` implementation tonic serves: `Ping` only. `Forward` streams never
/// reach tonic (the link server answers them, [`crate::link_server`]).
pub(crate) struct ForwarderService {
    /// The configuration generation the Ping reply reports.
    pub(crate) reloads: Arc<rampart_service::reload::Reloader>,
}

#[tonic::async_trait]
impl Forwarder for ForwarderService {
    type ForwardStream = futures_util::stream::Empty<Result<ResponsePart, Status>>;

    async fn forward(
        &self,
        _request: Request<Streaming<RequestPart>>,
    ) -> Result<Response<Self::ForwardStream>, Status> {
        Err(Status::unimplemented(
            "Forward is served by the link server",
        ))
    }

    async fn ping(&self, _request: Request<PingRequest>) -> Result<Response<PingReply>, Status> {
        Ok(Response::new(PingReply {
            generation: self.reloads.status().generation(),
        }))
    }
}

/// Accepts TCP connections and completes the mutual-TLS handshake (with its identity
/// check) under a deadline, concurrently; only authenticated streams reach the server.
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
