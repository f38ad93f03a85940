//! `RateLimit-Policy`, `RateLimit` (draft-ietf-httpapi-ratelimit-headers) and
//! `Retry-After` for an [`Evaluation`].
//!
//! Syntax, as structured-field lists of strings with parameters:
//! `RateLimit-Policy: "per-ip";q=100;w=1` and `RateLimit: "per-ip";r=42;t=3`.
//! For a token bucket, `q`/`w` are the configured rate, `r` the tokens left and `t` the
//! seconds until the bucket is full; for a quota, the calendar window and its end.
//! Seconds are rounded up so a client that waits `t` or `Retry-After` is not refused.

use std::fmt::Write as _;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::decision::{Decision, Evaluation};

/// `RateLimit-Policy`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The header values for one evaluation; absent when there is nothing to say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `RateLimit-Policy`.
    pub policy: Option<HeaderValue>,
    /// `RateLimit`.
    pub rate_limit: Option<HeaderValue>,
    /// `Retry-After`, on denial.
    pub retry_after: Option<HeaderValue>,
}

impl RateLimitHeaders {
    /// Adds the present headers to `headers`, replacing any with the same name.
    pub fn apply(self, headers: &mut HeaderMap) {
        let pairs = [
            (RATELIMIT_POLICY, self.policy),
            (RATELIMIT, self.rate_limit),
            (RETRY_AFTER, self.retry_after),
        ];
        for (name, value) in pairs {
            if let Some(value) = value {
                headers.insert(name, value);
            }
        }
    }
}

/// Whole seconds, rounded up.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Evaluation {
    /// The response headers for this evaluation.
    pub fn headers(&self) -> RateLimitHeaders {
        let mut policy = String::new();
        let mut limit = String::new();
        for s in &self.statuses {
            let sep = if policy.is_empty() { "" } else { ", " };
            let name = sf_string(&s.name);
            let _ = write!(
                policy,
                "{sep}{name};q={};w={}",
                s.quota,
                ceil_secs(s.window)
            );
            let _ = write!(
                limit,
                "{sep}{name};r={};t={}",
                s.remaining,
                ceil_secs(s.reset_after)
            );
        }
        let retry_after = match &self.decision {
            Decision::Deny { retry_after, .. } => Some(ceil_secs(*retry_after).max(1)),
            Decision::Allow { .. } | Decision::Unavailable => None,
        };
        RateLimitHeaders {
            policy: value(policy),
            rate_limit: value(limit),
            retry_after: retry_after.and_then(|s| value(s.to_string())),
        }
    }
}

fn value(s: String) -> Option<HeaderValue> {
    if s.is_empty() {
        return None;
    }
    HeaderValue::try_from(s).ok()
}

/// An RFC 8941 string: printable ASCII with `"` and `\` escaped; anything else dropped
/// (config names are restricted to a safe alphabet already).
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|c| (' '..='~').contains(c)) {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
