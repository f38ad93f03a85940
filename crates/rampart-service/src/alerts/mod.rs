//! Alerts: rules over the tier's audit stream (denials, detect-only hits, admin calls and
//! system events such as an inner endpoint going down) that raise deduplicated alerts,
//! sent to signed webhooks, written to the audit stream (so the dashboard and syslog see
//! them) and listed by `GET /admin/alerts`.
//!
//! Nothing here runs on the request path: the auditor hands each record over with a
//! `try_send` into a bounded queue (overflow counted in `rampart_alerts_dropped_total`);
//! the rules and the webhook deliveries run on their own thread. See [`engine`] for the
//! life of an alert and [`webhook`] for the exact bytes signed.
//!
//! What it does not do: it does not page anyone by itself, and it keeps no alert history
//! beyond the last [`RECENT`] alerts in memory.

pub mod config;
pub mod engine;
pub mod webhook;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::mpsc;

pub use config::{AlertsConfig, RawAlertsConfig};

use crate::audit::AuditEvent;

/// `[alerts]` and `[syslog]` as written (each absent when the file has no such section).
#[derive(Debug, Clone, Default)]
pub struct RawIntegrations {
    /// `[alerts]`.
    pub alerts: Option<RawAlertsConfig>,
    /// `[syslog]`.
    pub syslog: Option<crate::audit::syslog::RawSyslogConfig>,
    /// A section did not parse (the problem is recorded).
    broken: bool,
}

impl RawIntegrations {
    /// Takes `[alerts]` and `[syslog]` from a tier's file.
    pub fn take(
        sections: &mut rampart_core::config::Sections,
        p: &mut rampart_core::config::Problems,
    ) -> Self {
        let alerts: Option<Option<RawAlertsConfig>> = sections.take("alerts", p);
        let syslog: Option<Option<crate::audit::syslog::RawSyslogConfig>> =
            sections.take("syslog", p);
        RawIntegrations {
            broken: alerts.is_none() || syslog.is_none(),
            alerts: alerts.flatten(),
            syslog: syslog.flatten(),
        }
    }
}

/// Validated `[alerts]` and `[syslog]`, carried in [`crate::audit::AuditConfig`] so the
/// auditor starts them.
#[derive(Debug, Clone, Default)]
pub struct Integrations {
    /// The rules and webhooks, when `[alerts]` has rules.
    pub alerts: Option<Arc<AlertsConfig>>,
    /// The syslog writer, when `[syslog]` is present.
    pub syslog: Option<Arc<crate::audit::syslog::SyslogConfig>>,
}

impl PartialEq for Integrations {
    fn eq(&self, other: &Self) -> bool {
        fn same<T>(a: Option<&Arc<T>>, b: Option<&Arc<T>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
        }
        same(self.alerts.as_ref(), other.alerts.as_ref())
            && same(self.syslog.as_ref(), other.syslog.as_ref())
    }
}

impl Eq for Integrations {}

impl Integrations {
    /// Validates both sections, recording every problem.
    pub fn validate(
        raw: &RawIntegrations,
        base: &std::path::Path,
        p: &mut rampart_core::config::Problems,
    ) -> Option<Integrations> {
        let alerts = raw
            .alerts
            .as_ref()
            .map(|a| AlertsConfig::validate("alerts", a, base, p));
        let syslog = raw
            .syslog
            .as_ref()
            .map(|s| crate::audit::syslog::SyslogConfig::validate("syslog", s, base, p));
        if raw.broken || matches!(alerts, Some(None)) || matches!(syslog, Some(None)) {
            return None;
        }
        Some(Integrations {
            alerts: alerts
                .flatten()
                .filter(|a| !a.rules.is_empty())
                .map(Arc::new),
            syslog: syslog.flatten().map(Arc::new),
        })
    }
}

/// Alerts kept in memory for `GET /admin/alerts`.
pub const RECENT: usize = 200;
/// How often due alerts are looked for.
const TICK: Duration = Duration::from_millis(200);
/// Alert bodies waiting per webhook.
const DELIVERY_QUEUE: usize = 256;

/// Whether an alert is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Raised, or still receiving records (an update carries the new total).
    Firing,
    /// No matching record for a whole cooldown.
    Resolved,
}

/// One alert as sent to webhooks and written to the audit stream.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// RFC 3339 of this delivery.
    pub timestamp: String,
    /// Milliseconds since the epoch of this delivery.
    #[serde(skip)]
    pub unix_ms: u64,
    /// The alert id, the same for its updates and resolution.
    pub alert: String,
    /// `firing` or `resolved`.
    pub status: AlertStatus,
    /// The rule's name.
    pub rule: String,
    /// The client address (as audit records show it), or `total`.
    pub key: String,
    /// Matching records since the alert opened (including the burst that opened it).
    pub count: u64,
    /// RFC 3339 of the first record counted.
    pub first_seen: String,
    /// RFC 3339 of the latest record counted.
    pub last_seen: String,
    /// `edge` or `inner`.
    pub tier: &'static str,
    /// Up to five request ids of the records counted.
    pub sample_request_ids: Vec<String>,
    /// The alert's first delivery (not an update or resolution).
    #[serde(skip)]
    pub first: bool,
}

/// The view of `event` the rules match on; `None` for alerts themselves.
pub fn observed(event: &AuditEvent) -> Option<engine::Observed<'_>> {
    Some(match event {
        AuditEvent::Decision(d) => engine::Observed {
            kind: "decision",
            check: d.check,
            rule: &d.rule,
            reason: d.reason,
            action: Some(d.action.as_str()),
            client: &d.client,
            request_id: &d.request_id,
            at_ms: d.unix_ms,
        },
        AuditEvent::Admin(a) => engine::Observed {
            kind: "admin",
            check: "admin",
            rule: &a.endpoint,
            reason: a.outcome,
            action: None,
            client: &a.peer,
            request_id: &a.request_id,
            at_ms: a.unix_ms,
        },
        AuditEvent::System(s) => engine::Observed {
            kind: "system",
            check: &s.component,
            rule: &s.name,
            reason: s.state,
            action: None,
            client: &s.name,
            request_id: "",
            at_ms: s.unix_ms,
        },
        AuditEvent::Alert(_) => return None,
    })
}

/// The body of `GET /admin/alerts`: whether rules are configured, counters, and the
/// latest `limit` alerts sent, newest first.
pub fn document(auditor: &crate::audit::Auditor, limit: usize) -> serde_json::Value {
    match auditor.alerts() {
        Some(a) => serde_json::json!({
            "enabled": true,
            "rules": a.rules,
            "dropped": a.dropped(),
            "webhook_deliveries": a.webhook_deliveries(),
            "webhook_failures": a.webhook_failures(),
            "alerts": a.recent(limit),
        }),
        None => serde_json::json!({ "enabled": false, "rules": [], "alerts": [] }),
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    dropped: AtomicU64,
    delivered: AtomicU64,
    failures: AtomicU64,
    delivery_dropped: AtomicU64,
    /// Alerts raised (first deliveries), by rule in config order.
    raised: Vec<AtomicU64>,
}

/// Hands an alert to the rest of the tier (the audit stream).
pub type Emit = Arc<dyn Fn(Alert) + Send + Sync>;

/// A running rule engine with its webhooks.
pub struct Alerts {
    tier: &'static str,
    tx: mpsc::Sender<Arc<AuditEvent>>,
    rules: Vec<String>,
    counters: Arc<Counters>,
    recent: Arc<Mutex<VecDeque<Alert>>>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("tier", &self.tier)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Alerts {
    /// Starts the engine thread; `emit` receives every alert sent (it must not block).
    /// The thread ends when the returned handle is dropped.
    pub fn start(
        tier: &'static str,
        config: &AlertsConfig,
        emit: Emit,
    ) -> std::io::Result<Arc<Alerts>> {
        let (tx, rx) = mpsc::channel(config.queue);
        let counters = Arc::new(Counters {
            raised: config.rules.iter().map(|_| AtomicU64::new(0)).collect(),
            ..Counters::default()
        });
        let recent = Arc::new(Mutex::new(VecDeque::new()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let engine = engine::Engine::new(tier, config.group_wait, &config.rules);
        let worker = Worker {
            engine,
            rules: config.rules.iter().map(|r| r.name.clone()).collect(),
            counters: counters.clone(),
            recent: recent.clone(),
            emit,
        };
        let webhooks = config.webhooks.clone();
        std::thread::Builder::new()
            .name("rampart-alerts".into())
            .spawn(move || runtime.block_on(worker.run(rx, webhooks)))?;
        Ok(Arc::new(Alerts {
            tier,
            tx,
            rules: config.rules.iter().map(|r| r.name.clone()).collect(),
            counters,
            recent,
        }))
    }

    /// Hands a record to the rules; never waits (a full queue drops and counts).
    pub fn observe(&self, event: &Arc<AuditEvent>) {
        if matches!(**event, AuditEvent::Alert(_)) {
            return;
        }
        if self.tx.try_send(event.clone()).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The latest alerts sent, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Alert> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().rev().take(limit).cloned().collect()
    }

    /// Records dropped because the engine's queue was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Webhook deliveries that failed after every retry.
    pub fn webhook_failures(&self) -> u64 {
        self.counters.failures.load(Ordering::Relaxed)
    }

    /// Webhook deliveries answered with 2xx.
    pub fn webhook_deliveries(&self) -> u64 {
        self.counters.delivered.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let tier = self.tier;
        let c = &self.counters;
        let mut out = String::from(
            "# HELP rampart_alerts_total Alerts raised, by rule.\n# TYPE rampart_alerts_total counter\n",
        );
        for (rule, n) in self.rules.iter().zip(&c.raised) {
            out.push_str(&format!(
                "rampart_alerts_total{{tier=\"{tier}\",rule=\"{rule}\"}} {}\n",
                n.load(Ordering::Relaxed)
            ));
        }
        for (name, help, value) in [
            (
                "rampart_alerts_dropped_total",
                "Audit records the alert rules never saw because their queue was full.",
                &c.dropped,
            ),
            (
                "rampart_alert_webhook_deliveries_total",
                "Alert webhook deliveries answered with 2xx.",
                &c.delivered,
            ),
            (
                "rampart_alert_webhook_failures_total",
                "Alert webhook deliveries that failed after every retry.",
                &c.failures,
            ),
            (
                "rampart_alert_webhook_dropped_total",
                "Alert webhook deliveries dropped because the webhook's queue was full.",
                &c.delivery_dropped,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{tier=\"{tier}\"}} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

struct Worker {
    engine: engine::Engine,
    rules: Vec<String>,
    counters: Arc<Counters>,
    recent: Arc<Mutex<VecDeque<Alert>>>,
    emit: Emit,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Worker {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Arc<AuditEvent>>,
        webhooks: Vec<Arc<config::Webhook>>,
    ) {
        let queues: Vec<mpsc::Sender<bytes::Bytes>> = webhooks
            .into_iter()
            .map(|w| {
                let (tx, rx) = mpsc::channel(DELIVERY_QUEUE);
                tokio::spawn(webhook::deliver_all(w, rx, self.counters.clone()));
                tx
            })
            .collect();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => {
                        if let Some(ev) = observed(&event) {
                            self.engine.observe(&ev);
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    for alert in self.engine.tick(now_ms()) {
                        self.send(alert, &queues);
                    }
                }
            }
        }
    }

    fn send(&self, alert: Alert, queues: &[mpsc::Sender<bytes::Bytes>]) {
        if alert.first
            && let Some(i) = self.rules.iter().position(|r| *r == alert.rule)
            && let Some(n) = self.counters.raised.get(i)
        {
            n.fetch_add(1, Ordering::Relaxed);
        }
        tracing::warn!(
            alert = %alert.alert,
            rule = %alert.rule,
            status = ?alert.status,
            count = alert.count,
            "alert"
        );
        let body = bytes::Bytes::from(serde_json::to_vec(&alert).unwrap_or_default());
        for q in queues {
            if q.try_send(body.clone()).is_err() {
                self.counters
                    .delivery_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(alert.clone());
        }
        (self.emit)(alert);
    }
}

#[cfg(test)]
pub(crate) mod tests;
