//! The admin listener: `/healthz` (the process runs), `/readyz` (it can serve traffic),
//! `/metrics` (Prometheus text) and, with [`serve_api`], the authenticated admin API with
//! roles ([`api`]), the live dashboard and its event stream. Meant for the management
//! network only.
//!
//! [`serve`] is the original probe-only listener and stays for tiers that do not wire the
//! API yet. [`serve_api`] answers the same probes the same way (unauthenticated unless
//! `[admin] protect_metrics`), optionally over TLS with client certificates.

pub mod actions;
pub mod api;
pub mod auth;
pub mod config;
mod dashboard;
mod login;
mod login_page;
pub mod modes;
pub mod peers;
pub mod session;
mod stream;
pub mod totp;
pub mod users;

pub use actions::{
    ActionError, ActionFuture, AddressBlock, AdminActions, Health, IpNet, Latency, ManageRequest,
    Mode, ReloadOutcome, StatusOnly, TierStatus,
};
pub use config::{AdminConfig, RawAdminConfig, Role, new_admin_token};

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::shutdown::Shutdown;

/// Answers whether the tier is ready.
pub trait Readiness: Send + Sync + 'static {
    /// True when the tier can serve traffic.
    fn is_ready(&self) -> bool;
}

impl<F: Fn() -> bool + Send + Sync + 'static> Readiness for F {
    fn is_ready(&self) -> bool {
        self()
    }
}

/// Renders the tier's metrics in the Prometheus text format.
pub trait Metrics: Send + Sync + 'static {
    /// The whole exposition.
    fn render(&self) -> String;
}

impl<F: Fn() -> String + Send + Sync + 'static> Metrics for F {
    fn render(&self) -> String {
        self()
    }
}

fn metrics_response(metrics: &dyn Metrics) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(metrics.render())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn respond(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn route(
    req: &Request<Incoming>,
    ready: &dyn Readiness,
    metrics: Option<&dyn Metrics>,
    draining: bool,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/healthz" => respond(StatusCode::OK, "ok\n"),
        "/readyz" if draining => respond(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        "/readyz" if ready.is_ready() => respond(StatusCode::OK, "ready\n"),
        "/readyz" => respond(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        "/metrics" => match metrics {
            Some(metrics) => metrics_response(metrics),
            None => respond(StatusCode::NOT_FOUND, "not found\n"),
        },
        _ => respond(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Serves the admin endpoints on `listener` until `shutdown`. During shutdown
/// `/readyz` answers 503 so load balancers stop sending traffic while the tier drains.
pub async fn serve(
    listener: TcpListener,
    ready: Arc<dyn Readiness>,
    metrics: Option<Arc<dyn Metrics>>,
    shutdown: Shutdown,
) {
    let draining = shutdown.clone();
    let stop = shutdown.signalled();
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let ready = ready.clone();
        let metrics = metrics.clone();
        let draining = draining.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let response = route(
                    &req,
                    ready.as_ref(),
                    metrics.as_deref(),
                    draining.is_signalled(),
                );
                async move { Ok::<_, Infallible>(response) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            // Admin requests are tiny; a stuck client is cut after a short while.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), conn).await;
        });
    }
}

/// What a call came to, for its audit record and `rampart_admin_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Unauthenticated,
    Forbidden,
    Refused,
    Failed,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::Unauthenticated,
        Outcome::Forbidden,
        Outcome::Refused,
        Outcome::Failed,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Forbidden => "forbidden",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One admin connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) peer: std::net::SocketAddr,
    /// DNS SANs and CN of the verified client certificate, if any.
    pub(crate) identities: Vec<String>,
    pub(crate) tls: bool,
}

/// What [`AdminState::new`] needs.
pub struct AdminParts {
    /// `edge` or `inner`.
    pub tier: &'static str,
    /// Readiness for `/readyz`.
    pub ready: Arc<dyn Readiness>,
    /// The tier's metrics for `/metrics`.
    pub metrics: Option<Arc<dyn Metrics>>,
    /// What the API can ask the tier to do.
    pub actions: Arc<dyn AdminActions>,
    /// Who may call.
    pub config: AdminConfig,
    /// Where admin calls are audited and recent denials are read from.
    pub auditor: Arc<crate::audit::Auditor>,
}

/// Everything the admin API serves from. Shared by all admin connections; the tier keeps
/// an `Arc` to swap the config on reload ([`AdminState::set_config`]).
pub struct AdminState {
    tier: &'static str,
    ready: Arc<dyn Readiness>,
    metrics: Option<Arc<dyn Metrics>>,
    actions: Arc<dyn AdminActions>,
    config: std::sync::RwLock<Arc<AdminConfig>>,
    auditor: Arc<crate::audit::Auditor>,
    sessions: session::Sessions,
    logins: login::Logins,
    last_reload: std::sync::Mutex<Option<ReloadOutcome>>,
    calls: [std::sync::atomic::AtomicU64; 5],
    history: std::sync::Mutex<std::collections::VecDeque<Sample>>,
    /// The latest overview, computed once per tick for every open stream.
    overview: std::sync::Mutex<Option<Arc<str>>>,
    /// What the `[admin] peers` last said.
    peers: Arc<peers::PeerCache>,
}

/// One point of the traffic history the dashboard draws: counters at a time, so rates
/// are right even for a page opened a second ago.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Sample {
    /// Milliseconds since the epoch.
    t: u64,
    /// Requests seen by the front tier (the edge when known).
    requests: u64,
    /// Requests refused, over all tiers.
    denials: u64,
}

/// Samples kept: five minutes at one per [`stream::TICK`].
const HISTORY: usize = 151;

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("tier", &self.tier)
            .finish_non_exhaustive()
    }
}

impl AdminState {
    /// The shared state of one tier's admin listener.
    pub fn new(parts: AdminParts) -> Arc<AdminState> {
        Arc::new(AdminState {
            tier: parts.tier,
            ready: parts.ready,
            metrics: parts.metrics,
            actions: parts.actions,
            config: std::sync::RwLock::new(Arc::new(parts.config)),
            auditor: parts.auditor,
            sessions: session::Sessions::default(),
            logins: login::Logins::default(),
            last_reload: std::sync::Mutex::new(None),
            calls: Default::default(),
            history: std::sync::Mutex::new(std::collections::VecDeque::with_capacity(HISTORY)),
            overview: std::sync::Mutex::new(None),
            peers: Arc::default(),
        })
    }

    /// Applies a new `[admin]` (after a reload): removed tokens stop working at once,
    /// dashboard sessions included.
    pub fn set_config(&self, config: AdminConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    /// The `[admin]` in force.
    pub fn config(&self) -> Arc<AdminConfig> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The auditor admin calls are written to.
    pub fn auditor(&self) -> &Arc<crate::audit::Auditor> {
        &self.auditor
    }

    fn count(&self, outcome: Outcome) {
        if let Some(i) = Outcome::ALL.iter().position(|o| *o == outcome) {
            self.calls[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn set_last_reload(&self, outcome: ReloadOutcome) {
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }

    /// The tier's metrics, then the auditor's, the request metrics and the admin API's.
    fn render_metrics(&self) -> String {
        let mut out = self
            .metrics
            .as_ref()
            .map(|m| m.render())
            .unwrap_or_default();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&self.auditor.render_metrics());
        out.push_str(&crate::metrics::render(self.tier));
        let name = "rampart_admin_requests_total";
        out.push_str(&format!(
            "# HELP {name} Admin API calls by outcome.\n# TYPE {name} counter\n"
        ));
        for (i, outcome) in Outcome::ALL.iter().enumerate() {
            out.push_str(&format!(
                "{name}{{tier=\"{}\",outcome=\"{}\"}} {}\n",
                self.tier,
                outcome.as_str(),
                self.calls[i].load(std::sync::atomic::Ordering::Relaxed)
            ));
        }
        out
    }

    fn metrics_response(&self) -> Response<api::Body> {
        let mut response = Response::new(api::full(self.render_metrics()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }

    /// Takes one traffic sample from the status document.
    async fn sample(&self) {
        let doc = self.status_document().await;
        let tiers: Vec<&serde_json::Value> = std::iter::once(&doc["status"])
            .chain(doc["peers"].as_array().into_iter().flatten())
            .collect();
        let front = tiers
            .iter()
            .find(|t| t["tier"] == "edge")
            .or_else(|| tiers.first());
        let requests = front
            .and_then(|t| t["requests_total"].as_u64())
            .unwrap_or(0);
        let denials: u64 = tiers
            .iter()
            .filter_map(|t| t["denials_total"].as_u64())
            .sum();
        let denials = if denials == 0 {
            self.auditor.events().totals().blocks
        } else {
            denials
        };
        let t = crate::audit::timestamp(std::time::SystemTime::now()).1;
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(Sample {
            t,
            requests,
            denials,
        });
    }

    fn history(&self) -> Vec<Sample> {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        history.iter().copied().collect()
    }

    /// `/admin/status`: this tier, its peers (when it can reach them) and the audit path.
    async fn status_document(&self) -> serde_json::Value {
        let mut status = self.actions.status();
        if status.last_reload.is_none() {
            status.last_reload = self
                .last_reload
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
        }
        let mut peers: Vec<serde_json::Value> =
            match tokio::time::timeout(api::PEER_TIMEOUT, self.actions.peers()).await {
                Ok(Ok(peers)) => peers
                    .iter()
                    .filter_map(|p| serde_json::to_value(p).ok())
                    .collect(),
                _ => Vec::new(),
            };
        // `[admin] peers` come from the cache their followers fill: never waited for.
        peers.extend(self.peers.statuses());
        serde_json::json!({
            "tier": self.tier,
            "status": status,
            "peers": peers,
            "audit": {
                "written": self.auditor.written(),
                "dropped": self.auditor.dropped(),
                "totals": self.auditor.events().totals(),
                "peers": self.peers.audits(),
            },
        })
    }
}

/// `/healthz` and `/readyz` as the original listener answers them.
fn probe(path: &str, ready: &dyn Readiness, draining: bool) -> Response<api::Body> {
    use http_body_util::BodyExt;
    let response = match path {
        "/healthz" => respond(StatusCode::OK, "ok\n"),
        "/readyz" if draining => respond(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        "/readyz" if ready.is_ready() => respond(StatusCode::OK, "ready\n"),
        _ => respond(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
    };
    response.map(|b| b.boxed())
}

/// Admin connections at once; more are closed on arrival.
const MAX_CONNECTIONS: usize = 64;
/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A request head must arrive within this.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// One request is answered (its head; event streams continue) within this.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(75);
/// A connection lives at most this long (event streams end earlier and reconnect).
const CONNECTION_MAX: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Serves the probes, metrics, admin API and dashboard on `listener` until `shutdown`.
/// With `tls`, connections are TLS (the config decides whether client certificates are
/// required; verified ones are mapped to roles by `[admin] certificates`).
pub async fn serve_api(
    listener: TcpListener,
    state: Arc<AdminState>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: Shutdown,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let sampler = state.clone();
    let sampler_stop = shutdown.clone().signalled();
    tokio::spawn(async move {
        tokio::pin!(sampler_stop);
        let mut tick = tokio::time::interval(stream::TICK);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    sampler.sample().await;
                    let overview: Arc<str> = stream::overview(&sampler).await.into();
                    *sampler.overview.lock().unwrap_or_else(|e| e.into_inner()) = Some(overview);
                }
                () = &mut sampler_stop => break,
            }
            // The users file reloads when it changes, like the tiers' other files.
            if let Some(users) = sampler.config().users.clone() {
                let _ = tokio::task::spawn_blocking(move || users.reload_if_changed()).await;
            }
        }
    });
    let configured = state.clone();
    tokio::spawn(peers::run(
        move || configured.config().peers.clone(),
        state.peers.clone(),
        shutdown.clone(),
    ));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let stop = shutdown.clone().signalled();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "admin connection refused: too many connections");
            continue;
        };
        let state = state.clone();
        let shutdown = shutdown.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                None => {
                    let conn = Arc::new(Conn {
                        peer,
                        identities: Vec::new(),
                        tls: false,
                    });
                    serve_connection(TokioIo::new(stream), state, conn, shutdown).await;
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::info!(%peer, error = %e, "admin TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let identities = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|leaf| auth::certificate_identities(leaf))
                        .unwrap_or_default();
                    let conn = Arc::new(Conn {
                        peer,
                        identities,
                        tls: true,
                    });
                    serve_connection(TokioIo::new(tls), state, conn, shutdown).await;
                }
            }
        });
    }
}

async fn serve_connection<I>(io: I, state: Arc<AdminState>, conn: Arc<Conn>, shutdown: Shutdown)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service_shutdown = shutdown.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let state = state.clone();
        let conn = conn.clone();
        let shutdown = service_shutdown.clone();
        async move {
            let response = match tokio::time::timeout(
                REQUEST_TIMEOUT,
                api::handle(state, conn, shutdown, req),
            )
            .await
            {
                Ok(response) => response,
                Err(_) => api::problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "The admin request did not finish in time.",
                    &rampart_core::id::RequestId::generate(),
                    None,
                ),
            };
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let stop = shutdown.signalled();
    tokio::pin!(stop);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = &mut stop => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), connection).await;
        }
        () = tokio::time::sleep(CONNECTION_MAX) => {}
    }
}

#[cfg(test)]
mod tests;
