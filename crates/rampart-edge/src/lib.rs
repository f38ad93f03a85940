//! rampart-edge: the DMZ tier.
//!
//! Terminates client TLS (HTTP/1.1 and HTTP/2 on one port, HTTP/3 over QUIC when enabled,
//! or plaintext HTTP behind a TLS-terminating load balancer), gives every request an id
//! and a trace, removes hop-by-hop and spoofed headers, and forwards each request as a
//! stream of chunks over a pooled mutual-TLS gRPC link to the inner tier. Fails closed:
//! with no healthy inner endpoint the client gets 503 and nothing is sent anywhere.
//!
//! What it does not do: it holds no backend addresses and no LAN secrets, and links
//! none of the inner tier's inspection engines.

pub mod auth;
pub mod capacity;
mod certs;
pub mod cli;
pub mod config;
pub mod feeds;
mod framing;
mod h3;
pub mod lifecycle;
pub mod limits;
pub mod link;
mod ops;
pub mod protect;
mod proxy;
pub mod push;
mod reload;
pub mod rules;
mod screen;
mod server;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::server::graceful::GracefulShutdown;
use rampart_core::pipeline::{Enforcement, Pipeline, Stage};
use rampart_service::admin::modes::RouteModes;
use rampart_service::admin::{AdminParts, AdminState, Mode};
use rampart_service::shutdown::Shutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use crate::h3::{H3Error, Http3Config, RetryPolicy};
pub use config::{EdgeConfig, RouteSettings};

use crate::link::Link;
use crate::proxy::{EdgeRoute, Proxy};
use crate::server::{Acceptor, accept_loop, http_builder};

/// Already-bound listeners; tests bind port 0 and pass them in.
#[derive(Debug, Default)]
pub struct EdgeListeners {
    /// Plaintext HTTP.
    pub http: Option<TcpListener>,
    /// HTTPS.
    pub https: Option<TcpListener>,
    /// Admin endpoints.
    pub admin: Option<TcpListener>,
    /// HTTP/3 (QUIC on UDP).
    pub h3: Option<std::net::UdpSocket>,
    /// The link listener the inner replicas dial (`inner.mode = "inner-dials"`).
    pub link: Option<TcpListener>,
}

/// Why the edge could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The rate limiter could not be set up.
    #[error("rate limits: {0}")]
    RateLimit(#[from] rampart_ratelimit::RateLimitError),
    /// The link to the inner tier could not be set up.
    #[error("inner link: {0}")]
    Link(#[from] link::LinkError),
    /// `inner-dials` mode without its link listener.
    #[error("inner.mode = \"inner-dials\" needs the link listener on {0}")]
    MissingLinkListener(SocketAddr),
    /// HTTPS listener given without TLS configuration.
    #[error("an https listener needs [tls] configuration")]
    MissingTls,
    /// The HTTP/3 endpoint could not be set up.
    #[error("http3: {0}")]
    Http3(#[from] crate::h3::H3Error),
    /// The audit writer could not start.
    #[error("audit: {0}")]
    Audit(#[from] rampart_service::audit::AuditError),
}

async fn bind(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, EdgeError> {
    match addr {
        None => Ok(None),
        Some(addr) => TcpListener::bind(addr)
            .await
            .map(Some)
            .map_err(|source| EdgeError::Bind { addr, source }),
    }
}

impl EdgeListeners {
    /// Binds the addresses named in `config`.
    pub async fn bind(config: &EdgeConfig) -> Result<Self, EdgeError> {
        Ok(Self {
            http: bind(config.http_listen).await?,
            https: bind(config.https_listen).await?,
            admin: bind(config.admin_listen).await?,
            link: bind(config.inner.listen()).await?,
            h3: match config.http3.as_ref().map(|h| h.listen) {
                None => None,
                Some(addr) => Some(
                    std::net::UdpSocket::bind(addr)
                        .map_err(|source| EdgeError::Bind { addr, source })?,
                ),
            },
        })
    }
}

fn announce(name: &str, listener: Option<&TcpListener>) {
    if let Some(addr) = listener.and_then(|l| l.local_addr().ok()) {
        tracing::info!(listener = name, addr = %addr, "listening");
    }
}

/// Builds one route's checks, in the order they run: client address, framing, size
/// limits, the route's request rules, then injection screening (the costliest last).
fn edge_route(
    limits: &limits::Limits,
    protections: &protect::Protections,
    settings: &RouteSettings,
    route: (&str, &Arc<ops::Blocklist>, &mut RouteModes),
) -> EdgeRoute {
    let (name, blocks, modes) = route;
    let limits = limits::Limits {
        max_body: settings.max_body.unwrap_or(limits.max_body),
        ..*limits
    };
    let mut policies = Vec::new();
    if !protections.decides_at_connect() {
        policies.push(protections.ip_policy.clone());
    }
    policies.extend(settings.ip_policy.clone());
    let mut stages: Vec<Stage<rampart_core::phase::RequestHead>> = Vec::new();
    // Operators' runtime blocks answer like list entries, before anything else.
    stages.push(Stage::new(Arc::new(ops::BlockCheck {
        blocks: blocks.clone(),
    })));
    if !policies.is_empty() {
        stages.push(Stage::new(Arc::new(screen::AddressCheck { policies })));
    }
    stages.push(Stage::new(Arc::new(limits::FramingCheck)));
    stages.push(Stage::new(Arc::new(limits)));
    // A retired version answers 410 before auth, limits or the inner tier are involved.
    if let Some(retired) = settings.lifecycle.as_ref().and_then(|l| l.retired_check()) {
        stages.push(Stage::new(Arc::new(retired)));
    }
    stages.push(Stage::new(Arc::new(settings.rules.clone())));
    let screening = settings
        .screening
        .as_ref()
        .unwrap_or(&protections.screening);
    if let Some(enforcement) = screening.enforcement {
        let check = screen::Screening::new(
            protections.engine.clone(),
            screening.policy.clone(),
            screening.seen.clone(),
        )
        .leaving_authorization(settings.auth.judges_authorization());
        let configured = match enforcement {
            Enforcement::Block => Mode::Block,
            Enforcement::DetectOnly => Mode::Detect,
        };
        // The stage blocks; the switch decides at run time whether a denial only reports.
        stages.push(Stage::new(Arc::new(ops::Switched {
            check: Arc::new(check),
            switch: modes.register(name, Some(configured)),
            route: name.to_owned(),
        })));
    } else {
        modes.register(name, None);
    }
    let head_checks = Pipeline::new(stages);
    EdgeRoute {
        lifecycle: settings.lifecycle.clone(),
        auth: settings.auth.clone(),
        head_checks,
        body_policy: stream::BodyPolicy {
            max_bytes: limits.max_body.as_u64(),
            deadline: limits.body_timeout,
            min_rate: limits.min_body_rate.as_u64(),
            grace: limits.body_rate_grace,
        },
    }
}

fn log_list_reload(event: rampart_http::ReloadEvent) {
    match event {
        rampart_http::ReloadEvent::Reload { list, ranges } => {
            tracing::info!(list, ranges, "address list reloaded");
        }
        rampart_http::ReloadEvent::KeepPrevious { list, error } => {
            tracing::warn!(list, error = %error, "address list file refused; keeping the previous list");
        }
        other => tracing::warn!(event = ?other, "address list event"),
    }
}

/// Runs the edge until `shutdown`, then stops accepting and drains in-flight requests
/// for up to the configured drain timeout.
pub async fn serve(
    config: EdgeConfig,
    listeners: EdgeListeners,
    shutdown: Shutdown,
) -> Result<(), EdgeError> {
    let link = Arc::new(Link::new(&config.inner)?);
    link.spawn_health_checks(config.inner.health_interval, shutdown.clone());
    match (link.listen_addr(), listeners.link) {
        (None, _) => {}
        (Some(_), Some(listener)) => {
            announce("link", Some(&listener));
            link.spawn_listener(listener, shutdown.clone())?;
        }
        (Some(addr), None) => return Err(EdgeError::MissingLinkListener(addr)),
    }
    // Installed first, so every `audit::record` of this process goes through it.
    let auditor = rampart_service::audit::Auditor::start("edge", &config.audit)?;
    rampart_service::audit::install(auditor.clone());
    let blocks = Arc::new(ops::Blocklist::default());
    // Routes, protections, limits and auth: one swappable policy (see `reload`).
    let reloader = reload::EdgeReload::start(&config, blocks.clone(), auditor.clone(), &shutdown)?;
    let proxy = Arc::new(Proxy {
        policy: reloader.policy().clone(),
        link: link.clone(),
        max_chunk: config.inner.max_chunk.as_usize(),
        capacity: capacity::Capacity::new(config.capacity),
        alt_svc: match (&config.http3, &listeners.h3) {
            (Some(h3), Some(socket)) if h3.alt_svc => socket
                .local_addr()
                .ok()
                .map(|a| crate::h3::alt_svc_value(a.port())),
            _ => None,
        },
    });
    let reloads =
        rampart_service::reload::Reloader::new("edge", config.source.clone(), reloader.clone());
    reloads.spawn(config.reload_interval, &shutdown);
    // Policy pushed from the LAN: the last good bundle before any request, then the watch.
    let pusher = config
        .push
        .clone()
        .map(|c| push::Pusher::new(c, reloader.clone()));
    if let Some(pusher) = &pusher {
        pusher.restore().await;
        pusher.clone().spawn(link.clone(), shutdown.clone());
    }
    let push_status = pusher.as_ref().map(|p| p.status().clone());
    let builder = Arc::new(http_builder(config.header_read_timeout));
    let graceful = GracefulShutdown::new();
    let tls_metrics = config
        .tls
        .as_ref()
        .filter(|_| listeners.https.is_some())
        .map(|tls| certs::spawn(tls, shutdown.clone()));

    announce("http", listeners.http.as_ref());
    announce("https", listeners.https.as_ref());
    announce("admin", listeners.admin.as_ref());

    if let Some(admin) = listeners.admin {
        let ready_link = link.clone();
        let ready: Arc<dyn rampart_service::admin::Readiness> =
            Arc::new(move || ready_link.is_ready());
        let feed_policy = reloader.policy().clone();
        let tls_part = tls_metrics.clone();
        let reload_metrics = reloads.clone();
        let push_metrics = push_status.clone();
        let endpoints_link = link.clone();
        let metrics = Some({
            Arc::new(move || {
                let now = std::time::SystemTime::now();
                let mut out = tls_part.as_ref().map(|m| m.render(now)).unwrap_or_default();
                out.push_str(&feeds::render_metrics(
                    &feed_policy.load().protections.feeds,
                    now,
                ));
                out.push_str(&reload_metrics.status().render_metrics());
                if let Some(push) = &push_metrics {
                    out.push_str(&push.render_metrics());
                }
                out.push_str(&rampart_service::metrics::inner_endpoints_up(
                    "edge",
                    endpoints_link
                        .endpoints()
                        .into_iter()
                        .map(|(e, up, _)| (e, up)),
                ));
                out
            }) as Arc<dyn rampart_service::admin::Metrics>
        });
        let state = AdminState::new(AdminParts {
            tier: "edge",
            ready,
            metrics,
            actions: Arc::new(ops::EdgeActions {
                link: link.clone(),
                blocks: blocks.clone(),
                policy: reloader.policy().clone(),
                reloads: reloads.clone(),
                push: push_status.clone(),
                pushed_dir: config.push.as_ref().map(|p| p.state_dir.clone()),
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

    let mut acceptors = Vec::new();
    if let Some(listener) = listeners.http {
        acceptors.push(Acceptor {
            listener,
            tls: None,
            name: "http",
        });
    }
    if let Some(listener) = listeners.https {
        let tls = config.public_tls.clone().ok_or(EdgeError::MissingTls)?;
        acceptors.push(Acceptor {
            listener,
            tls: Some(Arc::new(server::PublicTls {
                acceptor: TlsAcceptor::from(tls),
                deadline: config.tls_handshake_timeout,
                client_auth: config.tls.as_ref().and_then(|t| t.client_auth.clone()),
                metrics: tls_metrics.clone(),
            })),
            name: "https",
        });
    }
    let h3 = match listeners.h3 {
        Some(socket) if config.http3.is_some() => {
            let endpoint =
                crate::h3::H3Endpoint::new(socket, &config, proxy.clone(), tls_metrics.clone())?;
            if let Ok(addr) = endpoint.local_addr() {
                tracing::info!(listener = "h3", addr = %addr, "listening");
            }
            Some(tokio::spawn(
                endpoint.run(shutdown.clone().signalled(), config.drain_timeout),
            ))
        }
        _ => None,
    };
    let loops = acceptors.into_iter().map(|acceptor| {
        accept_loop(
            acceptor,
            proxy.clone(),
            builder.clone(),
            &graceful,
            shutdown.clone().signalled(),
        )
    });
    futures_util::future::join_all(loops).await;
    tracing::info!(
        timeout_ms = config.drain_timeout.as_millis() as u64,
        "draining connections"
    );
    match tokio::time::timeout(config.drain_timeout, graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained"),
        Err(_) => tracing::warn!("drain timeout reached; closing remaining connections"),
    }
    if let Some(h3) = h3 {
        let _ = h3.await;
    }
    // Records of the last requests reach the audit sink before the process exits.
    let _ =
        tokio::task::spawn_blocking(move || auditor.flush(std::time::Duration::from_secs(2))).await;
    Ok(())
}
