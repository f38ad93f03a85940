//! The one abstraction every protection implements.
//!
//! A check looks at one phase and answers with a [`Verdict`]. A denial is an ordinary
//! outcome, not an error; [`CheckError`] means the check could not decide, and the
//! pipeline applies that check's fail mode (closed unless configured otherwise).

use std::future::Future;
use std::pin::Pin;

use crate::phase::Phase;
use crate::problem::Reason;

/// The outcome of a check that could decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the request continue to the next check.
    Allow,
    /// Refuse the request.
    Deny(Denial),
}

/// Why a check refused a request. Goes to the audit log whole; only `reason` reaches
/// the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Stable reason, which also picks the status.
    pub reason: Reason,
    /// The id of the check that decided.
    pub check: &'static str,
    /// The rule within the check, when it has several.
    pub rule: Option<String>,
    /// Where in the request (header name, JSON pointer, parameter), for operators.
    pub location: Option<String>,
    /// Anomaly score contributed, when the check scores.
    pub score: Option<u32>,
}

impl Denial {
    /// A denial by `check` for `reason`, without further detail.
    pub fn new(check: &'static str, reason: Reason) -> Self {
        Self {
            reason,
            check,
            rule: None,
            location: None,
            score: None,
        }
    }

    /// Names the rule that matched.
    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }

    /// Names where in the request the rule matched.
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

/// A check could not reach a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A dependency (antivirus engine, identity provider, rate-limit store) did not
    /// answer or answered nonsense.
    #[error("dependency {dependency} unavailable: {cause}")]
    DependencyUnavailable {
        /// Which dependency.
        dependency: &'static str,
        /// What went wrong, for logs only.
        cause: String,
    },
    /// The check ran out of its time budget.
    #[error("check timed out")]
    TimedOut,
    /// The check panicked (a bug): it could not decide, so its fail mode applies.
    #[error("check panicked")]
    Panicked,
}

/// The future a check returns. Boxed so checks of one phase can share a pipeline.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<Verdict, CheckError>> + Send + 'a>>;

/// A protection that inspects phase `P`.
pub trait Check<P: Phase>: Send + Sync + 'static {
    /// Stable id used in config, logs, metrics and denials.
    fn id(&self) -> &'static str;

    /// Inspects `input`. Pure CPU checks return `Box::pin(std::future::ready(..))`.
    fn check<'a>(&'a self, input: &'a P) -> CheckFuture<'a>;
}
