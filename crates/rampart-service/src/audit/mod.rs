//! Audit records: one JSON line per denial, per detect-only hit and per admin call,
//! with the target [`AUDIT`] so collectors can route them apart from the access log.
//! Both tiers write them with the same request id (which is also the trace id), so one
//! decision can be followed across tiers.
//!
//! Only facts Rampart chose are written: tier, ids, route, the client address (full,
//! truncated or hashed by `[audit] client_address`), principal name, check, rule,
//! location, reason, score, action, and the detector's escaped, truncated fragments —
//! with fragments at credential-bearing locations (authorization, cookies, `*token*`,
//! `*key*`, ...) and token-shaped runs replaced by `[redacted]`. Never header values,
//! bodies or query strings as such.
//!
//! Writing never blocks a request: an [`Auditor`] hands lines to a writer thread through a
//! bounded queue and counts what it had to drop (`rampart_audit_dropped_total`). It also
//! keeps the recent denials ([`crate::events::EventStore`]) and broadcasts every record to
//! live subscribers (the dashboard's event stream).
//!
//! Tiers call [`record`]/[`record_with`]; once a tier has [`install`]ed its auditor those
//! go through it, before that they fall back to a `tracing` event with the same fields.

pub mod config;
pub mod syslog;

mod client;
mod redact;
mod sink;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_core::check::Denial;
use rampart_core::id::RequestId;
use serde::Serialize;
use tokio::sync::broadcast;

pub use config::{AuditConfig, ClientAddress, RawAuditConfig, Sink};

use crate::events::EventStore;

pub(crate) use redact::cut;

/// A request path as an admin record shows it: bounded, token-shaped runs redacted.
pub(crate) fn redact_path(path: &str) -> String {
    let segments: Vec<String> = path.split('/').map(redact::scrub_tokens).collect();
    redact::cut(&segments.join("/"), 256)
}

/// Target of audit records.
pub const AUDIT: &str = "rampart::audit";

/// What was done about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The request was refused.
    Block,
    /// Detect-only: the request went on.
    Report,
}

impl Action {
    /// `block` or `report`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Report => "report",
        }
    }
}

/// Where a decision was taken.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// `edge` or `inner`.
    pub tier: &'static str,
    /// The request.
    pub request_id: &'a RequestId,
    /// The route name, empty when none matched.
    pub route: &'a str,
    /// The client address as resolved by the edge.
    pub client: &'a str,
}

/// Facts about a request that not every call site knows; `Details::default()` for none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Details<'a> {
    /// The authenticated consumer or principal name, when there is one.
    pub principal: Option<&'a str>,
    /// The W3C trace id when it differs from the request id (today it never does).
    pub trace_id: Option<&'a str>,
}

/// One decision as written.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// Milliseconds since the epoch, for ordering and grouping.
    #[serde(skip)]
    pub unix_ms: u64,
    /// `edge` or `inner`.
    pub tier: &'static str,
    /// The request id.
    pub request_id: String,
    /// The trace id (the request id unless the caller gave another).
    pub trace_id: String,
    /// The route, empty when none matched.
    pub route: String,
    /// The client address as `[audit] client_address` shows it.
    pub client: String,
    /// The authenticated principal, when known.
    pub principal: Option<String>,
    /// The check that decided.
    pub check: &'static str,
    /// The rule within the check, empty when none.
    pub rule: String,
    /// Where in the request, empty when unknown.
    pub location: String,
    /// The stable reason code.
    pub reason: &'static str,
    /// The status the reason maps to.
    pub status: u16,
    /// The anomaly score, 0 when the check does not score.
    pub score: u32,
    /// Block or report.
    pub action: Action,
    /// Detector hits as `rule@location: fragment`, fragments redacted where needed.
    pub explanation: Vec<String>,
}

/// One admin call as written.
#[derive(Debug, Clone, Serialize)]
pub struct AdminRecord {
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// Milliseconds since the epoch.
    #[serde(skip)]
    pub unix_ms: u64,
    /// The tier whose admin listener answered.
    pub tier: &'static str,
    /// Id of this admin request (also in its problem responses).
    pub request_id: String,
    /// Token, certificate or session name; `-` when unauthenticated.
    pub actor: String,
    /// `token`, `certificate`, `session` or `none`.
    pub auth: &'static str,
    /// The caller's role, when authenticated.
    pub role: Option<&'static str>,
    /// The admin client's address.
    pub peer: String,
    /// HTTP method.
    pub method: String,
    /// Path, without query.
    pub endpoint: String,
    /// Status answered.
    pub status: u16,
    /// `ok`, `unauthenticated`, `forbidden`, `refused` or `failed`.
    pub outcome: &'static str,
    /// What was done, in Rampart's words (e.g. `route orders -> detect`).
    pub detail: String,
}

/// Any audit record.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AuditEvent {
    /// A denial or detect-only hit.
    Decision(#[serde(serialize_with = "shared")] Arc<DecisionRecord>),
    /// An admin call.
    Admin(Box<AdminRecord>),
    /// A component went down or came back.
    System(Box<SystemRecord>),
    /// An alert was sent (see [`crate::alerts`]).
    Alert(Box<crate::alerts::Alert>),
}

/// A component of the tier changed health (an inner endpoint, an antivirus engine, an
/// upstream): what alert rules on `kind = "system"` match.
#[derive(Debug, Clone, Serialize)]
pub struct SystemRecord {
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// Milliseconds since the epoch.
    #[serde(skip)]
    pub unix_ms: u64,
    /// The tier it happened in.
    pub tier: &'static str,
    /// The kind of component: `link`, `antivirus`, `upstream`, ...
    pub component: String,
    /// Which one (an address or engine name).
    pub name: String,
    /// `down` or `up`.
    pub state: &'static str,
    /// Why, in Rampart's words (bounded).
    pub detail: String,
}

/// Records that `component` `name` went down (`up = false`) or came back, through the
/// auditor installed for `tier` (without one, a log line only).
pub fn system_event(tier: &'static str, component: &str, name: &str, up: bool, detail: &str) {
    let (timestamp, unix_ms) = timestamp(SystemTime::now());
    let record = SystemRecord {
        timestamp,
        unix_ms,
        tier,
        component: redact::cut(component, 64),
        name: redact::cut(name, 256),
        state: if up { "up" } else { "down" },
        detail: redact::cut(detail, 256),
    };
    match installed(tier) {
        Some(auditor) => auditor.submit(Arc::new(AuditEvent::System(Box::new(record)))),
        None => tracing::info!(target: AUDIT, kind = "system", tier, component, name, up, "audit"),
    }
}

impl AuditEvent {
    /// The JSON line written for this record (with `target` and `message` like the other
    /// log lines, so one collector rule handles both).
    pub fn to_line(&self) -> Vec<u8> {
        const HEAD: &[u8] =
            b"{\"level\":\"INFO\",\"target\":\"rampart::audit\",\"message\":\"audit\",";
        let body = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        let mut line = Vec::with_capacity(HEAD.len() + body.len() + 1);
        line.extend_from_slice(HEAD);
        // `body` is an object with at least its `kind`: splice its members in after ours.
        line.extend_from_slice(body.get(1..).unwrap_or(b"}"));
        line.push(b'\n');
        line
    }
}

fn shared<S: serde::Serializer>(record: &Arc<DecisionRecord>, s: S) -> Result<S::Ok, S::Error> {
    record.as_ref().serialize(s)
}

/// The audit writer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The audit file could not be opened.
    #[error("{}: cannot open audit file: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the audit writer: {0}")]
    Thread(std::io::Error),
}

/// Writes one tier's audit records and remembers recent denials.
pub struct Auditor {
    tier: &'static str,
    tx: RwLock<mpsc::SyncSender<sink::Msg>>,
    counters: Arc<sink::Counters>,
    anonymizer: RwLock<Arc<client::Anonymizer>>,
    events: EventStore,
    live: broadcast::Sender<Arc<AuditEvent>>,
    alerts: RwLock<Option<Arc<crate::alerts::Alerts>>>,
    syslog: RwLock<Option<Arc<syslog::Syslog>>>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").field("tier", &self.tier).finish()
    }
}

/// Live subscribers that fall this far behind miss records (they are told so).
const LIVE_BUFFER: usize = 1024;

/// The time as records show it.
pub(crate) fn timestamp(at: SystemTime) -> (String, u64) {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let text = time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| ms.to_string());
    (text, ms)
}

impl Auditor {
    /// Starts the writer for `tier` (opening the audit file now, so a bad path fails at
    /// startup, not at the first denial).
    pub fn start(tier: &'static str, config: &AuditConfig) -> Result<Arc<Auditor>, AuditError> {
        let counters = Arc::new(sink::Counters::default());
        let tx = sink::spawn(&config.sink, config.queue, counters.clone())?;
        Arc::new(Auditor {
            tier,
            tx: RwLock::new(tx),
            counters,
            anonymizer: RwLock::new(Arc::new(client::Anonymizer::new(&config.client_address))),
            events: EventStore::new(config.recent),
            live: broadcast::channel(LIVE_BUFFER).0,
            alerts: RwLock::new(None),
            syslog: RwLock::new(None),
        })
        .integrated(&config.integrations)
    }

    fn integrated(
        self: Arc<Self>,
        config: &crate::alerts::Integrations,
    ) -> Result<Arc<Auditor>, AuditError> {
        self.integrate(config)?;
        Ok(self)
    }

    /// Starts (or replaces) the alert engine and the syslog writer of `config`.
    fn integrate(self: &Arc<Self>, config: &crate::alerts::Integrations) -> Result<(), AuditError> {
        let syslog = match &config.syslog {
            Some(c) => Some(syslog::Syslog::start(self.tier, c).map_err(AuditError::Thread)?),
            None => None,
        };
        *self.syslog.write().unwrap_or_else(|e| e.into_inner()) = syslog;
        let alerts = match &config.alerts {
            Some(c) => {
                // Weak: the engine's thread must not keep the auditor alive.
                let auditor = Arc::downgrade(self);
                let emit: crate::alerts::Emit = Arc::new(move |alert| {
                    if let Some(a) = auditor.upgrade() {
                        a.submit(Arc::new(AuditEvent::Alert(Box::new(alert))));
                    }
                });
                Some(crate::alerts::Alerts::start(self.tier, c, emit).map_err(AuditError::Thread)?)
            }
            None => None,
        };
        *self.alerts.write().unwrap_or_else(|e| e.into_inner()) = alerts;
        Ok(())
    }

    /// The alert engine, when `[alerts]` has rules.
    pub fn alerts(&self) -> Option<Arc<crate::alerts::Alerts>> {
        self.alerts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The syslog writer, when `[syslog]` is configured.
    pub fn syslog(&self) -> Option<Arc<syslog::Syslog>> {
        self.syslog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies a changed `[audit]` after a reload: a new writer (the old one finishes
    /// its queue and ends) and the new address mode. The recent-events ring, its capacity
    /// and the counters stay.
    pub fn reconfigure(self: &Arc<Self>, config: &AuditConfig) -> Result<(), AuditError> {
        self.integrate(&config.integrations)?;
        let tx = sink::spawn(&config.sink, config.queue, self.counters.clone())?;
        *self.tx.write().unwrap_or_else(|e| e.into_inner()) = tx;
        *self.anonymizer.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(client::Anonymizer::new(&config.client_address));
        Ok(())
    }

    fn sender(&self) -> mpsc::SyncSender<sink::Msg> {
        self.tx.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The tier this auditor writes for.
    pub fn tier(&self) -> &'static str {
        self.tier
    }

    /// Records a denial or detect-only hit.
    pub fn record(
        &self,
        ctx: &Context<'_>,
        details: &Details<'_>,
        denial: &Denial,
        action: Action,
        explanation: &[String],
    ) {
        let record = decision_record(
            ctx,
            details,
            denial,
            action,
            explanation,
            &self
                .anonymizer
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            SystemTime::now(),
        );
        let record = Arc::new(record);
        self.events.push(record.clone());
        self.submit(Arc::new(AuditEvent::Decision(record)));
    }

    /// Records an admin call.
    pub fn record_admin(&self, record: AdminRecord) {
        self.submit(Arc::new(AuditEvent::Admin(Box::new(record))));
    }

    fn submit(&self, event: Arc<AuditEvent>) {
        if self
            .sender()
            .try_send(sink::Msg::Event(event.clone()))
            .is_err()
        {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        // Off the request path: both only `try_send` into their own bounded queues.
        if let Some(alerts) = self
            .alerts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            alerts.observe(&event);
        }
        if let Some(syslog) = self
            .syslog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            syslog.send(&event);
        }
        // No subscriber is the normal case, not an error.
        let _ = self.live.send(event);
    }

    /// Recent denials.
    pub fn events(&self) -> &EventStore {
        &self.events
    }

    /// Every record from now on, for live views.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AuditEvent>> {
        self.live.subscribe()
    }

    /// Waits (up to `timeout`) until every record queued so far is written. For tests and
    /// shutdown.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done_tx, done_rx) = mpsc::channel();
        let deadline = std::time::Instant::now() + timeout;
        let mut msg = sink::Msg::Flush(done_tx);
        let tx = self.sender();
        // The flush marker waits for room like nothing else may: it is not on a request path.
        loop {
            match tx.try_send(msg) {
                Ok(()) => break,
                Err(mpsc::TrySendError::Full(back)) if std::time::Instant::now() < deadline => {
                    msg = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
        done_rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .is_ok()
    }

    /// Stops the writer until the returned sender is dropped or sends.
    #[cfg(test)]
    pub(crate) fn hold_writer(&self) -> mpsc::Sender<()> {
        let (release, held) = mpsc::channel();
        let _ = self.sender().send(sink::Msg::Hold(held));
        release
    }

    /// Records written.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// The auditor's metrics in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let tier = self.tier;
        let c = &self.counters;
        let mut out = String::new();
        for (name, help, value) in [
            (
                "rampart_audit_records_total",
                "Audit records written.",
                c.written.load(Ordering::Relaxed),
            ),
            (
                "rampart_audit_dropped_total",
                "Audit records dropped because the writer queue was full.",
                c.dropped.load(Ordering::Relaxed),
            ),
            (
                "rampart_audit_write_errors_total",
                "Audit records that could not be written.",
                c.write_errors.load(Ordering::Relaxed),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{tier=\"{tier}\"}} {value}\n"
            ));
        }
        if let Some(alerts) = self.alerts() {
            out.push_str(&alerts.render_metrics());
        }
        if let Some(syslog) = self.syslog() {
            out.push_str(&syslog.render_metrics());
        }
        out
    }
}

fn decision_record(
    ctx: &Context<'_>,
    details: &Details<'_>,
    denial: &Denial,
    action: Action,
    explanation: &[String],
    anonymizer: &client::Anonymizer,
    at: SystemTime,
) -> DecisionRecord {
    let (timestamp, unix_ms) = timestamp(at);
    DecisionRecord {
        timestamp,
        unix_ms,
        tier: ctx.tier,
        request_id: ctx.request_id.to_string(),
        trace_id: details
            .trace_id
            .map_or_else(|| ctx.request_id.to_string(), |t| redact::cut(t, 64)),
        route: redact::cut(ctx.route, 64),
        client: anonymizer.show(ctx.client),
        principal: details.principal.map(|p| redact::cut(p, 128)),
        check: denial.check,
        rule: redact::cut(denial.rule.as_deref().unwrap_or(""), 128),
        location: redact::cut(denial.location.as_deref().unwrap_or(""), 256),
        reason: denial.reason.code(),
        status: denial.reason.status().as_u16(),
        score: denial.score.unwrap_or(0),
        action,
        explanation: redact::explanation(explanation),
    }
}

type Registry = RwLock<Vec<(&'static str, Arc<Auditor>)>>;

static REGISTRY: Registry = RwLock::new(Vec::new());

/// Makes `auditor` the one [`record`] uses for its tier (replacing an earlier one, e.g.
/// after a reload changed `[audit]`).
pub fn install(auditor: Arc<Auditor>) {
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    registry.retain(|(tier, _)| *tier != auditor.tier);
    registry.push((auditor.tier, auditor));
}

/// The auditor installed for `tier`.
pub fn installed(tier: &str) -> Option<Arc<Auditor>> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    registry
        .iter()
        .find(|(t, _)| *t == tier)
        .map(|(_, a)| a.clone())
}

/// Writes one audit record for `denial`; `explanation` lists detector hits as
/// `rule@location: fragment` when there were any.
pub fn record(ctx: &Context<'_>, denial: &Denial, action: Action, explanation: &[String]) {
    record_with(ctx, &Details::default(), denial, action, explanation);
}

/// [`record`] with the principal and trace id when the call site knows them.
pub fn record_with(
    ctx: &Context<'_>,
    details: &Details<'_>,
    denial: &Denial,
    action: Action,
    explanation: &[String],
) {
    crate::metrics::denial(ctx.tier, denial, action);
    if let Some(auditor) = installed(ctx.tier) {
        auditor.record(ctx, details, denial, action, explanation);
        return;
    }
    let r = decision_record(
        ctx,
        details,
        denial,
        action,
        explanation,
        &client::Anonymizer::new(&ClientAddress::Full),
        SystemTime::now(),
    );
    tracing::info!(
        target: AUDIT,
        kind = "decision",
        tier = r.tier,
        request_id = %r.request_id,
        trace_id = %r.trace_id,
        route = %r.route,
        client = %r.client,
        principal = r.principal.as_deref().unwrap_or(""),
        check = r.check,
        rule = %r.rule,
        location = %r.location,
        reason = r.reason,
        status = r.status,
        score = r.score,
        action = action.as_str(),
        explanation = ?r.explanation,
        "audit"
    );
}

#[cfg(test)]
pub(crate) mod tests;
