//! `inner-dials`: the edge's link listener.
//!
//! Each TCP connection must complete the mutual-TLS handshake (client certificate from
//! the link CA carrying an allowed inner identity) within the connect timeout; then the
//! edge, still the HTTP/2 client, runs the same handshake as on a dialled connection
//! and the connection joins the rotation as an endpoint of its own once a probe
//! answers. It leaves the rotation the moment it closes or stops answering keep-alive
//! pings (1 s interval, 2 s timeout); the inner replica dials a new one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_service::shutdown::Shutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::conn::{KeepAlive, handshake};
use super::endpoint::InnerEndpoint;
use super::{Link, LinkError, Source};

/// TLS handshakes in progress at once; more connections are closed unanswered, so a
/// flood of unauthenticated connections cannot grow memory.
const MAX_PENDING_HANDSHAKES: usize = 64;
/// Authenticated link connections kept at once (replicas x connections each).
const MAX_LINKS: usize = 1024;

impl Link {
    /// The address the link listener is to be bound to (`inner-dials` mode only).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        match &self.source {
            Source::Accept { listen, .. } => Some(*listen),
            Source::Dial { .. } => None,
        }
    }

    /// Accepts the inner replicas' link connections on `listener` until `shutdown`.
    /// Connections already in rotation stay until they close.
    pub fn spawn_listener(
        self: &Arc<Self>,
        listener: TcpListener,
        shutdown: Shutdown,
    ) -> Result<(), LinkError> {
        let Source::Accept {
            tls,
            handshake_timeout,
            ..
        } = &self.source
        else {
            return Err(LinkError::Protocol(
                "a link listener needs inner.mode = \"inner-dials\"",
            ));
        };
        let (tls, deadline) = (tls.clone(), *handshake_timeout);
        let link = Arc::clone(self);
        tokio::spawn(async move {
            let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
            let stop = shutdown.signalled();
            tokio::pin!(stop);
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
                    () = &mut stop => return,
                };
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    tracing::warn!(peer = %peer, "too many link handshakes in progress; connection closed");
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let link = link.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    link.serve_accepted(tcp, peer, &tls, deadline, permit).await;
                });
            }
        });
        Ok(())
    }

    /// Authenticates one connection, keeps it in rotation while it is open.
    async fn serve_accepted(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        tls: &TlsAcceptor,
        deadline: Duration,
        permit: OwnedSemaphorePermit,
    ) {
        let established = tokio::time::timeout(deadline, async {
            let stream = tls.accept(tcp).await?;
            let identity = peer_identity(&stream);
            let (sender, connection) = handshake(stream, KeepAlive::ACCEPTED)
                .await
                .map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>((identity, sender, connection))
        })
        .await;
        drop(permit);
        let (identity, sender, connection) = match established {
            Ok(Ok(established)) => established,
            Ok(Err(e)) => {
                tracing::warn!(peer = %peer, error = %e, "link connection refused");
                return;
            }
            Err(_) => {
                tracing::warn!(peer = %peer, "link handshake timed out");
                return;
            }
        };
        let endpoint = Arc::new(InnerEndpoint::accepted(peer, &identity, sender));
        if !self.insert(&endpoint) {
            tracing::warn!(peer = %peer, max = MAX_LINKS, "too many inner links; connection closed");
            return;
        }
        tracing::info!(endpoint = %endpoint.label, "inner link connected");
        let driver = tokio::spawn(connection);
        // In rotation once it answers, like a dialled endpoint after its first probe.
        self.probe(&endpoint, self.health_interval).await;
        let why = match driver.await {
            Ok(Ok(())) => "link closed".to_owned(),
            Ok(Err(e)) => format!("link failed: {e}"),
            Err(e) => format!("link task failed: {e}"),
        };
        endpoint.mark_down(&why);
        self.remove(&endpoint);
        tracing::info!(endpoint = %endpoint.label, reason = %why, "inner link gone");
    }

    /// Adds an accepted endpoint; false when the set is full.
    fn insert(&self, endpoint: &Arc<InnerEndpoint>) -> bool {
        let mut guard = self
            .endpoints
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.len() >= MAX_LINKS {
            return false;
        }
        let mut next: Vec<Arc<InnerEndpoint>> = guard.iter().cloned().collect();
        next.push(endpoint.clone());
        *guard = Arc::new(next);
        true
    }

    /// Takes `endpoint` out of the set; requests in flight on it keep their own `Arc`.
    fn remove(&self, endpoint: &Arc<InnerEndpoint>) {
        let mut guard = self
            .endpoints
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next: Vec<Arc<InnerEndpoint>> = guard
            .iter()
            .filter(|e| !Arc::ptr_eq(e, endpoint))
            .cloned()
            .collect();
        *guard = Arc::new(next);
    }
}

/// The first identity (DNS or URI SAN) of the verified client certificate, for logs
/// and status; the verifier has already checked that one of them is allowed.
fn peer_identity(stream: &tokio_rustls::server::TlsStream<TcpStream>) -> String {
    let identity = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| rampart_tls::identities_of(leaf).ok())
        .and_then(|ids| ids.into_iter().next());
    match identity {
        Some(rampart_tls::Identity::Dns(name)) => name,
        Some(rampart_tls::Identity::Uri(uri)) => uri,
        None => "inner".to_owned(),
    }
}
