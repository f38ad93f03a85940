//! Audit events: one JSON log line per denial and per detect-only hit, on the target
//! [`AUDIT`], so collectors can route them apart from the access log. Both tiers write
//! them with the same request id, so one decision can be followed across tiers.
//!
//! Only facts Rampart chose are written (check, rule, location, reason, score and the
//! detector's escaped, truncated fragment); never header values, tokens or bodies.

use rampart_core::check::Denial;
use rampart_core::id::RequestId;

/// Target of audit records.
pub const AUDIT: &str = "rampart::audit";

/// What was done about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The request was refused.
    Block,
    /// Detect-only: the request went on.
    Report,
}

impl Action {
    fn as_str(self) -> &'static str {
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

/// Writes one audit record for `denial`; `explanation` lists detector hits as
/// `rule@location: fragment` when there were any.
pub fn record(ctx: &Context<'_>, denial: &Denial, action: Action, explanation: &[String]) {
    tracing::info!(
        target: AUDIT,
        tier = ctx.tier,
        request_id = %ctx.request_id,
        route = ctx.route,
        client = ctx.client,
        check = denial.check,
        rule = denial.rule.as_deref().unwrap_or(""),
        location = denial.location.as_deref().unwrap_or(""),
        reason = denial.reason.code(),
        status = denial.reason.status().as_u16(),
        score = denial.score.unwrap_or(0),
        action = action.as_str(),
        explanation = ?explanation,
        "audit"
    );
}
