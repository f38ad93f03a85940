//! rampart-inner: the LAN tier.
//!
//! Accepts the edge's requests over mutual-TLS gRPC — only from clients whose
//! certificate chains to the link CA *and* carries an allowed identity, or, in
//! `inner-dials` mode, over connections it dials out to the edges itself ([`dial`]),
//! binding no link listener at all — routes them by
//! host and path prefix to named upstreams, and streams the backends' answers back.
//! Backend failures become 502, backend slowness 504; nothing waits forever.
//!
//! Before forwarding, each route's requests are read whole within a limit, decoded,
//! parsed strictly, screened by the detection engine (head and every body leaf) and
//! scanned by the antivirus engines; the backend receives exactly what was inspected.
//!
//! What it does not do: no client-facing TLS or authentication (the edge's job), no
//! OpenAPI validation yet.

mod body;
pub mod cli;
pub mod config;
mod dial;
mod exchange;
pub mod identity;
pub mod inspect;
mod link_io;
mod link_server;
mod ops;
pub mod push;
mod reload;
mod response;
mod service;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_proto::v1::forwarder_server::ForwarderServer;
use rampart_service::admin::{AdminParts, AdminState};
use rampart_service::shutdown::Shutdown;
use tokio::net::TcpListener;

pub use config::{InnerConfig, LinkMode};

use crate::exchange::Router;
use crate::link_server::LinkServer;
use crate::service::{ForwarderService, authenticated_connections};

/// Largest gRPC message accepted on the link; body chunks are far smaller.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;
/// Largest body chunk sent back to the edge in one message.
const MAX_CHUNK: usize = 64 * 1024;

/// Already-bound listeners; tests bind port 0 and pass them in.
#[derive(Debug)]
pub struct InnerListeners {
    /// The link listener the edge connects to (none in `inner-dials` mode).
    pub link: Option<TcpListener>,
    /// Admin endpoints.
    pub admin: Option<TcpListener>,
}

/// Why the inner tier could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InnerError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// `edge-dials` mode without its link listener.
    #[error("server.link_listen is configured but no link listener was given")]
    NoLinkListener,
    /// An upstream's TLS configuration could not be built.
    #[error("upstream TLS: {0}")]
    Tls(#[from] rampart_tls::TlsError),
    /// The audit writer could not start.
    #[error("audit: {0}")]
    Audit(#[from] rampart_service::audit::AuditError),
}

impl InnerListeners {
    /// Binds the addresses named in `config`.
    pub async fn bind(config: &InnerConfig) -> Result<Self, InnerError> {
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| InnerError::Bind { addr, source })
        };
        let link = match &config.link {
            LinkMode::EdgeDials { listen, .. } => Some(bind(*listen).await?),
            // Nothing listens for the DMZ: the inner dials out.
            LinkMode::InnerDials(_) => None,
        };
        let admin = match config.admin_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        Ok(Self { link, admin })
    }
}

/// Builds everything an exchange is checked and routed by, from `config`; at start and
/// on every reload (`reload` keeps what must survive a generation).
pub(crate) fn router(config: &InnerConfig) -> Result<Router, InnerError> {
    Ok(Router {
        modes: ops::route_modes(&config.routes),
        undocumented: inspect::undocumented::Undocumented::new(
            (config.routes.iter())
                .filter(|r| r.value.inspection.contract.is_some())
                .map(|r| r.name.as_str()),
        ),
        routes: config.routes.clone(),
        identity_headers: config.identity_headers.clone(),
        upstreams: upstream::Upstreams::new(&config.upstreams)?,
        max_chunk: MAX_CHUNK,
        inspector: inspect::Inspector {
            engine: config.engine.clone(),
            rules: Arc::new(inspect::rulemodes::RuleModes::new(&config.engine)),
            scanners: inspect::Scanners::new(config.antivirus.as_ref()),
            slots: Arc::new(inspect::LargeSlots::new(config.large_inspections)),
        },
    })
}

/// Runs the inner tier until `shutdown`, then drains in-flight exchanges for up to
/// the configured drain timeout.
pub async fn serve(
    config: InnerConfig,
    listeners: InnerListeners,
    shutdown: Shutdown,
) -> Result<(), InnerError> {
    // Installed first, so every `audit::record` of this process goes through it.
    let auditor = rampart_service::audit::Auditor::start("inner", &config.audit)?;
    rampart_service::audit::install(auditor.clone());
    let _flush = ops::FlushOnDrop(auditor.clone());
    // Routes, upstreams, inspection: one swappable router (see `reload`).
    let reloader = reload::InnerReload::start(&config, auditor.clone(), &shutdown)?;
    let router = reloader.router().clone();
    let reloads =
        rampart_service::reload::Reloader::new("inner", config.source.clone(), reloader.clone());
    reloads.spawn(config.reload_interval, &shutdown);
    // The edge policy, signed and streamed to every edge that watches (`[push]`).
    let publisher = push::Publisher::start(config.push.as_ref(), &shutdown);
    if let Some(admin) = listeners.admin {
        if let Ok(addr) = admin.local_addr() {
            tracing::info!(listener = "admin", addr = %addr, "listening");
        }
        let ready: Arc<dyn rampart_service::admin::Readiness> = Arc::new(|| true);
        let metrics_router = router.clone();
        let reload_metrics = reloads.clone();
        let metrics_push = publisher.clone();
        let metrics: Arc<dyn rampart_service::admin::Metrics> = Arc::new(move || {
            let metrics_router = metrics_router.load();
            let mut out = metrics_router.inspector.scanners.render_metrics();
            out.push_str(&metrics_router.inspector.slots.render_metrics());
            out.push_str(&rampart_service::metrics::upstreams_up(
                "inner",
                metrics_router.upstreams.up(),
            ));
            out.push_str(&reload_metrics.status().render_metrics());
            out.push_str(&metrics_push.render_metrics());
            out
        });
        let state = AdminState::new(AdminParts {
            tier: "inner",
            ready,
            metrics: Some(metrics),
            actions: Arc::new(ops::InnerActions {
                router: router.clone(),
                reloads: reloads.clone(),
            }),
            config: config.admin.clone(),
            auditor: auditor.clone(),
        });
        reloader.set_admin(&state);
        // The admin listener has no TLS settings yet: plain HTTP on the management network.
        tokio::spawn(rampart_service::admin::serve_api(
            admin,
            state,
            None,
            shutdown.clone(),
        ));
    }
    let others = tonic::service::Routes::new(ForwarderServer::new(ForwarderService { reloads }))
        // The edge's policy watch (`[push]`); in both link modes the edge is the caller.
        .add_service(
            rampart_proto::v1::policy_push_server::PolicyPushServer::new(publisher.service())
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .prepare();
    // In inner-dials mode only the inner can re-dial: a dead link must show within
    // seconds, so it pings as often as the edge does.
    let (ping_interval, ping_timeout) = match &config.link {
        LinkMode::EdgeDials { .. } => (Duration::from_secs(10), Duration::from_secs(5)),
        LinkMode::InnerDials(_) => (Duration::from_secs(1), Duration::from_secs(2)),
    };
    let server = LinkServer {
        router,
        others,
        limits: link_server::Limits {
            handshake_timeout: config.handshake_timeout,
            ping_interval,
            ping_timeout,
            max_message: MAX_MESSAGE,
        },
    };
    let incoming = match &config.link {
        LinkMode::EdgeDials { tls, .. } => {
            let listener = listeners.link.ok_or(InnerError::NoLinkListener)?;
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(listener = "link", addr = %addr, "listening");
            }
            authenticated_connections(listener, tls.clone(), config.handshake_timeout)
        }
        LinkMode::InnerDials(dials) => {
            tracing::info!(edges = ?dials.edges, connections_per_edge = dials.connections_per_edge, "dialling the edges; no link listener");
            dial::spawn(dials, config.handshake_timeout, &shutdown)
        }
    };
    server
        .serve(incoming, shutdown.clone(), config.drain_timeout)
        .await;
    Ok(())
}
