//! The entry point the edge calls per request: local limits always, the shared store
//! when configured, and in-flight limits.
//!
//! With redis, a request first passes the local limiter (each rate scaled to
//! `local_share`), which reserves its tokens; then the store decides for the whole fleet
//! in one round trip. A store refusal gives the local tokens back; a store failure keeps
//! them when `fail_open` admits the request (the local limits are then the only guard)
//! and gives them back when it does not (the request gets 503). So the local limiter
//! protects the edge in both modes, and a refused request consumes nothing anywhere.
//! `local_share = 1.0` (the default) lets each replica alone admit the full limit, so an
//! outage with `fail_open` admits at most replicas x limit; a smaller share tightens that
//! but can refuse locally before the fleet limit is reached when traffic is unevenly
//! spread. Quotas are kept locally at their full value (a share of a monthly count per
//! replica would be meaningless); near a window boundary the local and the redis clocks
//! may disagree by their skew.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::{Clock, SystemClock};
use crate::concurrency::{Busy, ConcurrencyLimiter, Permits};
use crate::config::{Policy, PolicyKind, RateLimitConfig, RedisUrl};
use crate::decision::{Decision, Evaluation, PolicyOutcome};
use crate::key::{IpPrefixes, RequestFacts};
use crate::local::LocalLimiter;
use crate::store::Store;

/// A limiter could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// The redis client could not be prepared from the URL.
    #[error("cannot use redis at {url}")]
    RedisClient {
        /// The URL, credentials hidden.
        url: RedisUrl,
    },
    /// A redis client was configured outside a Tokio runtime.
    #[error("the redis client needs a Tokio runtime; build the limiter inside one")]
    NoRuntime,
}

/// Rate limits, quotas and in-flight limits for every request.
#[derive(Debug)]
pub struct RateLimiter<C: Clock = SystemClock> {
    policies: Vec<Policy>,
    prefixes: IpPrefixes,
    local: LocalLimiter<C>,
    shared: Option<Shared>,
    concurrency: ConcurrencyLimiter,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    fail_open: bool,
    healthy: AtomicBool,
}

impl RateLimiter<SystemClock> {
    /// A limiter on the system clock. With `[rate_limit.redis]` it must be called inside
    /// a Tokio runtime; it does not wait for redis (it connects on first use).
    pub fn new(config: &RateLimitConfig) -> Result<Self, RateLimitError> {
        Self::with_clock(config, SystemClock::new())
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter whose local decisions read `clock` (the store uses the server's clock).
    pub fn with_clock(config: &RateLimitConfig, clock: C) -> Result<Self, RateLimitError> {
        let (shared, share) = match &config.redis {
            None => (None, 1.0),
            Some(redis) => {
                // The client spawns its connection task: without a runtime it would panic.
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(RateLimitError::NoRuntime);
                }
                let store = Store::new(redis).map_err(|_| RateLimitError::RedisClient {
                    url: redis.url.clone(),
                })?;
                let shared = Shared {
                    store,
                    fail_open: redis.fail_open,
                    healthy: AtomicBool::new(true),
                };
                (Some(shared), redis.local_share)
            }
        };
        Ok(Self {
            policies: config.policies.clone(),
            prefixes: config.ip_prefixes,
            local: LocalLimiter::new(config, share, clock),
            shared,
            concurrency: ConcurrencyLimiter::new(config),
        })
    }

    /// Decides one request. Never fails: a store problem becomes
    /// [`Decision::Unavailable`](crate::Decision::Unavailable) or, with `fail_open`, a
    /// local-only admission marked `degraded`.
    pub async fn check(&self, facts: &RequestFacts<'_>) -> Evaluation {
        let Some(shared) = &self.shared else {
            return self.local.check(facts);
        };
        let (local, reservation) = self.local.reserve(facts);
        // Refused locally, or no policy applies: the store has nothing to add.
        let Some(reservation) = reservation else {
            return local;
        };
        let policies: Vec<&Policy> = self
            .policies
            .iter()
            .filter(|p| p.scope.applies(facts))
            .collect();
        match shared.store.decide(&policies, facts, &self.prefixes).await {
            Ok(evaluation) => {
                if !shared.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!("rate-limit store answers again");
                }
                if !evaluation.is_allowed() {
                    self.local.refund(reservation);
                }
                evaluation
            }
            Err(error) => {
                if shared.healthy.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, fail_open = shared.fail_open, "rate-limit store unavailable");
                }
                if shared.fail_open {
                    Evaluation {
                        degraded: true,
                        ..local
                    }
                } else {
                    self.local.refund(reservation);
                    Evaluation::unavailable()
                }
            }
        }
    }

    /// Takes an in-flight permit from every applicable concurrency policy; hold the
    /// [`Permits`] until the response is complete.
    pub fn acquire(&self, facts: &RequestFacts<'_>) -> Result<Permits, Busy> {
        self.concurrency.acquire(facts)
    }

    /// What each deciding policy did in `evaluation`: on admission every policy that
    /// applied, on refusal the refusing ones; a store failure is one entry with an empty
    /// name (no single policy decided).
    pub fn outcomes<'e>(&self, evaluation: &'e Evaluation) -> Vec<(&'e str, PolicyOutcome)> {
        let refused = |name: &str| {
            let quota = self
                .policies
                .iter()
                .any(|p| &*p.name == name && matches!(p.kind, PolicyKind::Quota(_)));
            if quota {
                PolicyOutcome::ExceedQuota
            } else {
                PolicyOutcome::Limit
            }
        };
        match evaluation.decision {
            Decision::Allow { .. } => evaluation
                .statuses
                .iter()
                .map(|s| (&*s.name, PolicyOutcome::Admit))
                .collect(),
            Decision::Deny { .. } => evaluation
                .statuses
                .iter()
                .map(|s| (&*s.name, refused(&s.name)))
                .collect(),
            Decision::Unavailable => vec![("", PolicyOutcome::Fail)],
        }
    }

    /// True when any rate limit or quota applies to `facts`.
    pub fn applies(&self, facts: &RequestFacts<'_>) -> bool {
        self.local.applies(facts)
    }

    /// The local limiter (scaled to `local_share` when a store is configured).
    pub fn local(&self) -> &LocalLimiter<C> {
        &self.local
    }

    /// The in-flight limiter.
    pub fn concurrency(&self) -> &ConcurrencyLimiter {
        &self.concurrency
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn outcomes_name_each_deciding_policy_and_tell_quotas_from_rates() {
        let config = crate::local::tests::config(
            r#"
[[policies]]
name = "per-ip"
key = ["client_ip"]
rate = "1/min"
burst = 2

[[quotas]]
name = "daily"
key = ["client_ip"]
limit = 1
period = "day"
"#,
        );
        let limiter = RateLimiter::with_clock(&config, ManualClock::at_unix_secs(1_000)).unwrap();
        let facts = |ip: &'static str| RequestFacts {
            client_ip: ip.parse().unwrap(),
            consumer: None,
            plan: None,
            route: "orders",
            upstream: "orders",
        };
        let first = limiter.check(&facts("192.0.2.1")).await;
        let mut got = limiter.outcomes(&first);
        got.sort_by_key(|(name, _)| *name);
        assert_eq!(
            got,
            [
                ("daily", PolicyOutcome::Admit),
                ("per-ip", PolicyOutcome::Admit)
            ]
        );
        // The quota of one runs out before the burst of two.
        let second = limiter.check(&facts("192.0.2.1")).await;
        assert_eq!(
            limiter.outcomes(&second),
            [("daily", PolicyOutcome::ExceedQuota)]
        );
        assert_eq!(
            limiter.outcomes(&Evaluation::unavailable()),
            [("", PolicyOutcome::Fail)]
        );
    }
}
