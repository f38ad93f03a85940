//! The inner's side of the link: an HTTP/2 server on `h2` directly, in both link
//! modes (the edge is the HTTP/2 client whoever dialled).
//!
//! `Forward`, which is every exchange, is read and answered here from the stream's
//! own task ([`forward`]); the other calls (`Ping`, the policy watch) go to tonic's
//! generated services. hyper's server, under tonic, ran each exchange through its
//! service stack and body pipe: about a sixth of the inner's cost of a GET.

mod conn;
mod forward;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rampart_service::shutdown::Shutdown;
use tokio::sync::mpsc;

use crate::exchange::Router;
use crate::link_io::LinkIo;

pub(crate) use forward::Inbound;

/// What every link connection is served with.
pub(crate) struct LinkServer {
    /// The router in force; each exchange loads it once and keeps it to the end.
    pub(crate) router: Arc<arc_swap::ArcSwap<Router>>,
    /// The calls other than `Forward`.
    pub(crate) others: tonic::service::Routes,
    pub(crate) limits: Limits,
}

/// Per-connection settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Deadline for the HTTP/2 preface and settings once TLS is up.
    pub(crate) handshake_timeout: Duration,
    /// Ping the edge this often; close when a ping is not answered within `ping_timeout`.
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    /// Largest gRPC message accepted from the edge.
    pub(crate) max_message: usize,
}

impl LinkServer {
    /// Serves the connections `incoming` yields until `shutdown`; then tells every
    /// connection to finish (GOAWAY) and waits for their exchanges for up to
    /// `drain_timeout`.
    pub(crate) async fn serve(
        self,
        mut incoming: mpsc::Receiver<Result<LinkIo, io::Error>>,
        shutdown: Shutdown,
        drain_timeout: Duration,
    ) {
        let server = Arc::new(self);
        // Every connection task holds a sender: `recv` yields `None` once all ended.
        let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
        let stop = shutdown.clone().signalled();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                next = incoming.recv() => match next {
                    Some(Ok(io)) => {
                        let open = open_tx.clone();
                        let server = server.clone();
                        let shutdown = shutdown.clone();
                        tokio::spawn(async move {
                            conn::serve(&server, io, shutdown).await;
                            drop(open);
                        });
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "link connection failed"),
                    None => break,
                },
                () = &mut stop => break,
            }
        }
        drop(incoming);
        drop(open_tx);
        tracing::info!(
            timeout_ms = drain_timeout.as_millis() as u64,
            "draining exchanges"
        );
        match tokio::time::timeout(drain_timeout, open_rx.recv()).await {
            Ok(_) => tracing::info!("drained"),
            Err(_) => tracing::warn!("drain timeout reached; closing remaining exchanges"),
        }
    }
}
