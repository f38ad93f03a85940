//! What a limiter answers: a decision for the request and, per policy that applied, the
//! numbers the `RateLimit` headers carry.

use std::sync::Arc;
use std::time::Duration;

/// The outcome for one request. A denial is data, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Admit. `remaining` and `reset_after` are those of the most restrictive policy
    /// (`u64::MAX` and zero when no policy applied).
    Allow {
        /// Requests left before the tightest policy refuses.
        remaining: u64,
        /// Time until that policy is fully replenished.
        reset_after: Duration,
    },
    /// Refuse with 429; nothing was consumed.
    Deny {
        /// The policy that refused (the one that frees up last when several did).
        policy: Arc<str>,
        /// When the request would be admitted (`Retry-After`).
        retry_after: Duration,
        /// Time until the refusing policy is fully replenished.
        reset_after: Duration,
    },
    /// The shared store could not decide in time and `fail_open` is off: refuse with 503.
    Unavailable,
}

/// What one policy did to one request, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOutcome {
    /// The policy admitted the request.
    Admit,
    /// A rate (or in-flight) limit refused it.
    Limit,
    /// A daily or monthly quota refused it.
    ExceedQuota,
    /// The shared store could not decide and the request was refused.
    Fail,
}

/// One policy's numbers for the response headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    /// The policy name.
    pub name: Arc<str>,
    /// Requests per window the policy advertises (`q`).
    pub quota: u64,
    /// The window (`w`).
    pub window: Duration,
    /// Requests left (`r`).
    pub remaining: u64,
    /// Time until the policy is replenished (`t`).
    pub reset_after: Duration,
}

/// A decision with the per-policy detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The outcome.
    pub decision: Decision,
    /// On admission, every policy that applied; on denial, the policies that refused.
    pub statuses: Vec<PolicyStatus>,
    /// True when the shared store did not answer and only local limits decided.
    pub degraded: bool,
}

impl Evaluation {
    /// Admission with no policy applying.
    pub(crate) fn unlimited() -> Self {
        Self {
            decision: Decision::Allow {
                remaining: u64::MAX,
                reset_after: Duration::ZERO,
            },
            statuses: Vec::new(),
            degraded: false,
        }
    }

    /// The shared store's failure, fail-closed.
    pub(crate) fn unavailable() -> Self {
        Self {
            decision: Decision::Unavailable,
            statuses: Vec::new(),
            degraded: true,
        }
    }

    /// True when the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self.decision, Decision::Allow { .. })
    }
}

/// One policy's verdict, before they are combined.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Allow(PolicyStatus),
    Deny {
        status: PolicyStatus,
        retry_after: Duration,
    },
}

/// All must admit; otherwise the denial that lasts longest is reported.
pub(crate) fn combine(outcomes: Vec<Outcome>) -> Evaluation {
    if outcomes.is_empty() {
        return Evaluation::unlimited();
    }
    let any_deny = outcomes.iter().any(|o| matches!(o, Outcome::Deny { .. }));
    if !any_deny {
        let statuses: Vec<PolicyStatus> = outcomes
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Allow(s) => Some(s),
                Outcome::Deny { .. } => None,
            })
            .collect();
        let tightest = statuses
            .iter()
            .min_by_key(|s| (s.remaining, std::cmp::Reverse(s.reset_after)));
        let decision = match tightest {
            Some(s) => Decision::Allow {
                remaining: s.remaining,
                reset_after: s.reset_after,
            },
            None => return Evaluation::unlimited(),
        };
        return Evaluation {
            decision,
            statuses,
            degraded: false,
        };
    }
    let mut denials: Vec<(PolicyStatus, Duration)> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Deny {
                status,
                retry_after,
            } => Some((status, retry_after)),
            Outcome::Allow(_) => None,
        })
        .collect();
    denials.sort_by_key(|(_, retry)| std::cmp::Reverse(*retry));
    let decision = match denials.first() {
        Some((status, retry_after)) => Decision::Deny {
            policy: status.name.clone(),
            retry_after: *retry_after,
            reset_after: status.reset_after,
        },
        None => Decision::Unavailable,
    };
    Evaluation {
        decision,
        statuses: denials.into_iter().map(|(s, _)| s).collect(),
        degraded: false,
    }
}
