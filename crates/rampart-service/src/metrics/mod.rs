//! The process-wide request metrics both tiers expose on `/metrics`: requests by route,
//! method class and status; denials by check, rule and reason; request and per-phase
//! latency histograms; rate-limit decisions.
//!
//! Every series carries a `tier` label, and a tier's `/metrics` shows its own series only
//! ([`render`]), so two tiers in one process (tests) do not mix. Label values come from
//! configuration (route, policy names), fixed enums (method class, status, phase,
//! decision, check and reason codes) and detection rule ids — never from paths, client
//! addresses or principals — and each family is capped ([`registry::MAX_SERIES`]).
//!
//! What it does not do: TLS, antivirus, audit, admin and config metrics are rendered by
//! their owners; scrape-time health gauges use [`registry::render_gauge`].

pub mod registry;

use std::time::Duration;

use rampart_core::check::Denial;

pub use registry::{Counters, Gauges, Histograms, render_gauge};

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// `rampart_http_requests_total{tier,route,method,status}`.
pub static HTTP_REQUESTS: Counters = Counters::new(
    "rampart_http_requests_total",
    "Finished requests by route, method class and status.",
    &["tier", "route", "method", "status"],
);

/// `rampart_denials_total{tier,check,rule,reason,action}`.
pub static DENIALS: Counters = Counters::new(
    "rampart_denials_total",
    "Refusals (action block) and detect-only hits (action report) by check, rule and reason.",
    &["tier", "check", "rule", "reason", "action"],
);

/// `rampart_request_duration_seconds{tier,route}`.
pub static REQUEST_DURATION: Histograms = Histograms::new(
    "rampart_request_duration_seconds",
    "Time from request arrival to the end of its response, by route.",
    &["tier", "route"],
    LATENCY_BOUNDS,
);

/// `rampart_phase_duration_seconds{tier,phase}`.
pub static PHASE_DURATION: Histograms = Histograms::new(
    "rampart_phase_duration_seconds",
    "Time spent in one phase of a request: edge_checks, edge_to_inner (until the inner's response head), inner_inspection, backend (until the backend's response head).",
    &["tier", "phase"],
    LATENCY_BOUNDS,
);

/// `rampart_ratelimit_decisions_total{tier,policy,decision}`.
pub static RATELIMIT_DECISIONS: Counters = Counters::new(
    "rampart_ratelimit_decisions_total",
    "Rate-limit, quota and in-flight decisions per policy that decided.",
    &["tier", "policy", "decision"],
);

/// The label value for "none" (no route matched, no rule).
pub const NONE: &str = "-";

/// A method as its label shows it: the common ones, everything else `other`.
pub fn method_class(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A status as its label shows it: the code when it is one, `other` otherwise.
pub fn status_label(status: u16) -> String {
    status_digits(status)
        .as_ref()
        .map_or(registry::OVERFLOW, status_text)
        .to_owned()
}

/// The three digits of a status code, `None` outside 100..=599 (no allocation: this
/// runs once per request).
fn status_digits(status: u16) -> Option<[u8; 3]> {
    (100..=599).contains(&status).then(|| {
        let digit = |n: u16| b'0' + (n % 10) as u8;
        [digit(status / 100), digit(status / 10), digit(status)]
    })
}

fn status_text(digits: &[u8; 3]) -> &str {
    std::str::from_utf8(digits).unwrap_or(registry::OVERFLOW)
}

/// A configured name (route, policy) as a label value: `-` when empty.
fn name_label(name: &str) -> &str {
    if name.is_empty() { NONE } else { name }
}

/// A rule id as a label value: rule ids are short tokens; anything else (a rule text
/// built from request data by some check) becomes `other` rather than a new series.
pub fn rule_label(rule: Option<&str>) -> &str {
    match rule {
        None | Some("") => NONE,
        Some(r)
            if r.len() <= 64
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            r
        }
        Some(_) => registry::OVERFLOW,
    }
}

/// Counts one finished request (called by [`crate::logging::AccessRecord::log`]).
pub fn request_finished(tier: &str, route: &str, method: &str, status: u16, elapsed: Duration) {
    let route = name_label(route);
    let digits = status_digits(status);
    let status = digits.as_ref().map_or(registry::OVERFLOW, status_text);
    HTTP_REQUESTS.inc(&[tier, route, method_class(method), status]);
    REQUEST_DURATION.observe(&[tier, route], elapsed.as_secs_f64());
}

/// Counts one audited decision (called by [`crate::audit::record_with`]).
pub fn denial(tier: &str, denial: &Denial, action: crate::audit::Action) {
    DENIALS.inc(&[
        tier,
        denial.check,
        rule_label(denial.rule.as_deref()),
        denial.reason.code(),
        action.as_str(),
    ]);
}

/// A timed part of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Edge: from arrival until the request is handed to the link (every edge check).
    EdgeChecks,
    /// Edge: from handing the request to the link until the inner's response head.
    EdgeToInner,
    /// Inner: reading and inspecting the request (head and body).
    InnerInspection,
    /// Inner: from sending to the backend until its response head.
    Backend,
}

impl Phase {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::EdgeChecks => "edge_checks",
            Phase::EdgeToInner => "edge_to_inner",
            Phase::InnerInspection => "inner_inspection",
            Phase::Backend => "backend",
        }
    }
}

/// Records the time one phase took.
pub fn phase(tier: &str, phase: Phase, elapsed: Duration) {
    PHASE_DURATION.observe(&[tier, phase.as_str()], elapsed.as_secs_f64());
}

/// What a rate-limit policy decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Admitted.
    Allow,
    /// Refused by a rate or in-flight limit.
    Limit,
    /// Refused by a daily or monthly quota.
    ExceedQuota,
    /// The shared store could not decide and the request was refused.
    Fail,
}

impl RateDecision {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RateDecision::Allow => "allowed",
            RateDecision::Limit => "limited",
            RateDecision::ExceedQuota => "quota_exceeded",
            RateDecision::Fail => "error",
        }
    }
}

/// Counts one policy's decision (`policy` empty when no single policy decided).
pub fn ratelimit(tier: &str, policy: &str, decision: RateDecision) {
    RATELIMIT_DECISIONS.inc(&[tier, name_label(policy), decision.as_str()]);
}

/// `rampart_inner_endpoint_up{tier,endpoint}` from the link's endpoints (configured
/// addresses) and whether each answered its last probe; read at scrape time.
pub fn inner_endpoints_up(
    tier: &str,
    endpoints: impl IntoIterator<Item = (String, bool)>,
) -> String {
    health_gauge(
        tier,
        "rampart_inner_endpoint_up",
        "1 when the inner endpoint answered its last health probe.",
        "endpoint",
        endpoints,
    )
}

/// `rampart_upstream_up{tier,upstream}` from the configured upstream groups and whether
/// any of their addresses is in rotation; read at scrape time.
pub fn upstreams_up(tier: &str, upstreams: impl IntoIterator<Item = (String, bool)>) -> String {
    health_gauge(
        tier,
        "rampart_upstream_up",
        "1 when the upstream has an address in rotation (none failed to connect within its cooldown).",
        "upstream",
        upstreams,
    )
}

fn health_gauge(
    tier: &str,
    name: &str,
    help: &str,
    label: &str,
    items: impl IntoIterator<Item = (String, bool)>,
) -> String {
    let items: Vec<(String, bool)> = items.into_iter().collect();
    let mut out = String::new();
    render_gauge(
        &mut out,
        name,
        help,
        &["tier", label],
        items
            .iter()
            .map(|(what, up)| (vec![tier, what.as_str()], if *up { 1.0 } else { 0.0 })),
    );
    out
}

/// Every family above, series of `tier` only.
pub fn render(tier: &str) -> String {
    let mut out = String::new();
    HTTP_REQUESTS.render(&mut out, Some(tier));
    DENIALS.render(&mut out, Some(tier));
    REQUEST_DURATION.render(&mut out, Some(tier));
    PHASE_DURATION.render(&mut out, Some(tier));
    RATELIMIT_DECISIONS.render(&mut out, Some(tier));
    out
}

#[cfg(test)]
mod tests;
