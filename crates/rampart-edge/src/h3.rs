//! HTTP/3 on UDP: a QUIC endpoint (quinn) speaking HTTP/3 (h3) in front of the same
//! [`Proxy`] as the TCP listeners, so every request meets the same checks, caps, rate
//! limits, audit and access log.
//!
//! What differs from TCP, and why:
//! - the client address is the QUIC peer address (no PROXY header, no forwarding
//!   headers believed), and connection migration is off so it cannot change mid-way;
//! - before any handshake state is kept for an unvalidated address, a QUIC Retry can
//!   make the client prove it (`http3.retry`);
//! - HTTP/3 frames bodies itself, so [`body`] checks a declared `Content-Length`;
//! - a response that fails midway resets its stream: a truncated body is never
//!   finished as if it were complete.

mod body;
mod config;
mod conn;
mod failure;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use rampart_core::check::Denial;
use rampart_core::id::RequestId;
use rampart_core::problem::Reason;
use rampart_http::IpDecision;
use rampart_service::audit;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use config::{Http3Config, RetryPolicy};
pub(crate) use config::{RawHttp3, validate};

use crate::EdgeConfig;
use crate::capacity::Admission;
use crate::proxy::Proxy;
use rampart_tls::PrincipalRule;

/// More QUIC handshakes than this in progress count as load (`retry = "under_load"`).
const HANDSHAKES_UNDER_LOAD: usize = 64;

/// Client-opened unidirectional streams: control and the two QPACK streams, plus
/// room for grease and extensions the edge ignores.
const MAX_UNI_STREAMS: u8 = 8;

/// Per-stream and per-connection receive windows, as for HTTP/2 (REFERENCE §2).
const STREAM_WINDOW: u32 = 64 * 1024;
const CONNECTION_WINDOW: u32 = 1024 * 1024;

/// Why the HTTP/3 endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum H3Error {
    /// The TLS configuration cannot serve QUIC.
    #[error("QUIC TLS: {0}")]
    Tls(String),
    /// A transport setting is out of QUIC's range.
    #[error("QUIC transport: {0}")]
    Transport(String),
    /// The UDP socket could not be used.
    #[error("QUIC socket: {0}")]
    Socket(#[from] std::io::Error),
}

/// What every connection task of the endpoint shares.
struct Shared {
    proxy: Arc<Proxy>,
    settings: Http3Config,
    /// Deadline for a request's head once its stream is open.
    header_timeout: Duration,
    /// HTTP/3's field-section limit: the header-bytes limit plus RFC 9114's 32 bytes of
    /// overhead per field, so the edge's own 431 decides rather than a stream error.
    max_field_section: u64,
    /// Handshakes in progress.
    handshakes: AtomicUsize,
    /// Principal rules, when the TLS configuration asks for client certificates.
    client_auth: Option<Arc<[PrincipalRule]>>,
    /// Where failed handshakes are counted, when the admin listener shows TLS metrics.
    metrics: Option<Arc<crate::certs::TlsMetrics>>,
}

impl Shared {
    fn count_failure(&self, cause: rampart_tls::HandshakeFailure) {
        if let Some(metrics) = &self.metrics {
            metrics.quic_failures.record(cause);
        }
    }
}

/// A bound, configured QUIC endpoint, ready to [`run`](H3Endpoint::run).
pub(crate) struct H3Endpoint {
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
}

/// Builds the endpoint's quinn configuration.
fn server_config(
    tls: &rustls::ServerConfig,
    settings: &Http3Config,
) -> Result<quinn::ServerConfig, H3Error> {
    let tls =
        rampart_tls::public_quic_server_config(tls).map_err(|e| H3Error::Tls(e.to_string()))?;
    let crypto =
        QuicServerConfig::try_from(Arc::new(tls)).map_err(|e| H3Error::Tls(e.to_string()))?;
    let mut transport = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(settings.idle_timeout)
        .map_err(|e| H3Error::Transport(format!("idle_timeout: {e}")))?;
    transport
        .max_idle_timeout(Some(idle))
        .max_concurrent_bidi_streams(settings.max_concurrent_streams.into())
        .max_concurrent_uni_streams(MAX_UNI_STREAMS.into())
        .stream_receive_window(STREAM_WINDOW.into())
        .receive_window(CONNECTION_WINDOW.into());
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport));
    // The client address decides policies once per connection; it must not move.
    config.migration(false);
    Ok(config)
}

impl H3Endpoint {
    /// Sets up QUIC on `socket` as `config.http3` says, with the certificates (and
    /// client-certificate rules) of the HTTPS listener.
    pub(crate) fn new(
        socket: std::net::UdpSocket,
        config: &EdgeConfig,
        proxy: Arc<Proxy>,
        metrics: Option<Arc<crate::certs::TlsMetrics>>,
    ) -> Result<Self, H3Error> {
        let (Some(settings), Some(tls)) = (config.http3.clone(), config.public_tls.as_deref())
        else {
            return Err(H3Error::Tls(
                "HTTP/3 needs the HTTPS listener's [tls]".into(),
            ));
        };
        let limits = &config.limits;
        let max_header_bytes = limits.max_header_bytes.as_u64();
        let max_headers = limits.max_headers;
        let client_auth = config.tls.as_ref().and_then(|t| t.client_auth.clone());
        let config_header_timeout = config.header_read_timeout;
        let config = server_config(tls, &settings)?;
        let endpoint = quinn::Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(config),
            socket,
            Arc::new(quinn::TokioRuntime),
        )?;
        let max_field_section = max_header_bytes.saturating_add(32 * (max_headers as u64 + 8));
        Ok(Self {
            endpoint,
            shared: Arc::new(Shared {
                proxy,
                settings,
                header_timeout: config_header_timeout,
                max_field_section,
                handshakes: AtomicUsize::new(0),
                client_auth,
                metrics,
            }),
        })
    }

    /// The bound UDP address.
    pub(crate) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Serves until `stop`, then refuses new connections, sends GOAWAY on the open ones
    /// and waits up to `drain` for their requests before closing the endpoint.
    pub(crate) async fn run(self, stop: impl std::future::Future<Output = ()>, drain: Duration) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(stop);
        loop {
            let incoming = tokio::select! {
                incoming = self.endpoint.accept() => match incoming {
                    Some(incoming) => incoming,
                    None => break,
                },
                () = &mut stop => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            self.admit(incoming, &mut connections, &stop_rx);
        }
        self.endpoint.set_server_config(None);
        stop_tx.send_replace(true);
        let drained = tokio::time::timeout(drain, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("HTTP/3 drain timeout reached; closing remaining connections");
            connections.shutdown().await;
        }
        self.endpoint.close(0u32.into(), b"shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }

    fn under_load(&self) -> bool {
        match self.shared.settings.retry {
            RetryPolicy::Always => true,
            RetryPolicy::Never => false,
            RetryPolicy::UnderLoad => {
                self.shared.handshakes.load(Ordering::Acquire) > HANDSHAKES_UNDER_LOAD
            }
        }
    }

    /// Decides what to do with a connection attempt: Retry, ignore, refuse or serve.
    fn admit(
        &self,
        incoming: quinn::Incoming,
        connections: &mut JoinSet<()>,
        stop: &watch::Receiver<bool>,
    ) {
        let peer = incoming.remote_address();
        let validated = incoming.remote_address_validated();
        let may_retry = !validated && incoming.may_retry();
        let proxy = &self.shared.proxy;
        let policy = proxy.policy.load();
        let protections = &policy.protections;
        let ip = peer.ip().to_canonical();
        // Only socket-derived sources can decide here; the rest is decided per request.
        let denied = if protections.decides_at_connect() {
            match protections.ip_policy.decide(ip) {
                IpDecision::Deny { list } => Some(list),
                _ => None,
            }
        } else {
            None
        };
        // An unvalidated address may be spoofed: make it prove itself before it costs a
        // handshake, or (when denied) an audit record.
        let retry_denied = denied.is_some() && self.shared.settings.retry != RetryPolicy::Never;
        if may_retry && (retry_denied || self.under_load()) {
            if let Err(e) = incoming.retry() {
                tracing::debug!(client = %ip, error = %e, "QUIC retry failed");
            }
            return;
        }
        if let Some(list) = denied {
            let denial = Denial::new("ip-policy", Reason::AddressDenied)
                .with_rule(list.as_deref().unwrap_or("not-allowed").to_owned());
            let client = ip.to_string();
            let ctx = audit::Context {
                tier: "edge",
                request_id: &RequestId::generate(),
                route: "",
                client: &client,
            };
            audit::record(&ctx, &denial, audit::Action::Block, &[]);
            incoming.ignore();
            return;
        }
        let (ticket, refuse) = match proxy.capacity.admit(ip) {
            Admission::Serve(ticket) => (ticket, false),
            Admission::Refuse(ticket) => (ticket, true),
            Admission::Drop => {
                tracing::debug!(client = %ip, "connection ceiling reached; QUIC connection refused");
                incoming.refuse();
                return;
            }
        };
        let handshake = conn::Handshake::start(self.shared.clone());
        let local_port = self.endpoint.local_addr().map_or(0, |a| a.port());
        connections.spawn(conn::serve(
            self.shared.clone(),
            incoming,
            conn::Admitted {
                ticket,
                refuse,
                handshake,
                local_port,
            },
            stop.clone(),
        ));
    }
}

/// The `Alt-Svc` value advertising an HTTP/3 endpoint on `port`.
pub(crate) fn alt_svc_value(port: u16) -> http::HeaderValue {
    http::HeaderValue::from_str(&format!("h3=\":{port}\"; ma=86400"))
        .unwrap_or_else(|_| http::HeaderValue::from_static("clear"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_svc_names_the_udp_port() {
        assert_eq!(alt_svc_value(443), "h3=\":443\"; ma=86400");
        assert_eq!(alt_svc_value(8443), "h3=\":8443\"; ma=86400");
    }
}
