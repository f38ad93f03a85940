//! The `[rate_limit]` section: raw structs as written, validated into [`RateLimitConfig`].
//!
//! ```toml
//! [rate_limit]
//! max_keys = 100000          # per policy; see `table` for what happens when full
//! ipv4_prefix = 32
//! ipv6_prefix = 64
//!
//! [[rate_limit.policies]]
//! name = "per-ip"
//! key = ["client_ip"]        # any of client_ip, consumer, route, upstream; [] = global
//! rate = "100/s"             # or a bare number of requests per second
//! burst = 50                 # bucket size; default: the rate's count
//! routes = ["api"]           # optional: only these routes (default all)
//! plans = ["gold"]           # optional: only consumers on these plans (default all)
//! upstreams = []             # optional: only these upstream groups (default all)
//!
//! [[rate_limit.policies]]
//! name = "payments-cap"      # one bucket per upstream group: a global cap
//! key = ["upstream"]
//! rate = "2000/s"
//! upstreams = ["payments"]
//!
//! [[rate_limit.quotas]]
//! name = "daily"
//! key = ["consumer"]
//! limit = 10000
//! period = "day"             # or "month" (calendar windows, UTC)
//!
//! [[rate_limit.concurrency]]
//! name = "in-flight"
//! key = ["consumer"]
//! max_in_flight = 20
//!
//! [rate_limit.redis]         # optional: limits shared by every edge replica
//! url = "redis://127.0.0.1:6379/0"
//! timeout = "50ms"
//! fail_open = false
//! key_prefix = "rampart:"
//! local_share = 1.0          # fraction of each rate also enforced by each replica
//! ```
//!
//! Names of policies and quotas share one namespace (they meet in `RateLimit-Policy`).
//! Route and upstream names are not checked here: the edge knows which exist.

use std::sync::Arc;

use rampart_core::config::Problems;
use serde::Deserialize;

use crate::key::{IpPrefixes, KeyPart, KeySpec, RequestFacts};
use crate::quota::{MAX_QUOTA, Quota, QuotaPeriod};
use crate::rate::{Limit, Rate};

mod store;

pub use store::{RedisConfig, RedisUrl};

const SECTION: &str = "rate_limit";
const DEFAULT_MAX_KEYS: usize = 100_000;
const MAX_MAX_KEYS: usize = 10_000_000;
const MAX_BURST: u32 = 1_000_000;

/// `[rate_limit]` as written. Take it with `Sections::take("rate_limit", ..)`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    max_keys: Option<usize>,
    ipv4_prefix: Option<u8>,
    ipv6_prefix: Option<u8>,
    #[serde(default)]
    policies: Vec<RawPolicy>,
    #[serde(default)]
    quotas: Vec<RawQuota>,
    #[serde(default)]
    concurrency: Vec<RawConcurrency>,
    redis: Option<store::RawRedis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    #[serde(default)]
    key: Vec<KeyPart>,
    rate: RawRate,
    burst: Option<u32>,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    upstreams: Vec<String>,
    #[serde(default)]
    plans: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRate {
    PerSecond(u32),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuota {
    name: String,
    #[serde(default)]
    key: Vec<KeyPart>,
    limit: u32,
    period: QuotaPeriod,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    upstreams: Vec<String>,
    #[serde(default)]
    plans: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConcurrency {
    name: String,
    #[serde(default)]
    key: Vec<KeyPart>,
    max_in_flight: u32,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    upstreams: Vec<String>,
    #[serde(default)]
    plans: Vec<String>,
}

/// The validated `[rate_limit]` section.
#[derive(Debug, Clone, Default)]
pub struct RateLimitConfig {
    /// Most keys each policy's table holds.
    pub max_keys: usize,
    /// How client addresses are grouped.
    pub ip_prefixes: IpPrefixes,
    /// Rate limits and quotas; a request must pass all that apply.
    pub policies: Vec<Policy>,
    /// In-flight limits.
    pub concurrency: Vec<ConcurrencyPolicy>,
    /// The shared store, when limits span replicas.
    pub redis: Option<RedisConfig>,
}

/// Which requests a policy applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Route names; empty means every route.
    pub routes: Vec<String>,
    /// Upstream groups; empty means every group.
    pub upstreams: Vec<String>,
    /// Consumer plans (from the consumers file); empty means every caller, including
    /// anonymous ones. A plan-scoped policy never applies to a request without a plan.
    pub plans: Vec<String>,
}

impl Scope {
    /// True when the request is in scope.
    pub fn applies(&self, facts: &RequestFacts<'_>) -> bool {
        (self.routes.is_empty() || self.routes.iter().any(|r| r == facts.route))
            && (self.upstreams.is_empty() || self.upstreams.iter().any(|u| u == facts.upstream))
            && (self.plans.is_empty()
                || facts
                    .plan
                    .is_some_and(|p| self.plans.iter().any(|q| q == p)))
    }
}

/// A rate limit or a quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKind {
    /// A token bucket.
    Rate(Limit),
    /// A calendar quota.
    Quota(Quota),
}

/// One named limit.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Name, as shown in `RateLimit-Policy` and logs.
    pub name: Arc<str>,
    /// What is counted together.
    pub key: KeySpec,
    /// Which requests it applies to.
    pub scope: Scope,
    /// The limit.
    pub kind: PolicyKind,
}

/// One named in-flight limit.
#[derive(Debug, Clone)]
pub struct ConcurrencyPolicy {
    /// Name, for logs.
    pub name: Arc<str>,
    /// What is counted together.
    pub key: KeySpec,
    /// Which requests it applies to.
    pub scope: Scope,
    /// Most requests in flight per key.
    pub max_in_flight: u32,
}

impl RateLimitConfig {
    /// Validates `raw`, recording every problem under `rate_limit.*`. Entries with
    /// problems are left out of the result (and `p` makes the whole config refused).
    pub fn validate(p: &mut Problems, raw: &RawRateLimit) -> Self {
        let max_keys = raw.max_keys.unwrap_or(DEFAULT_MAX_KEYS);
        if !(1..=MAX_MAX_KEYS).contains(&max_keys) {
            p.push(
                format!("{SECTION}.max_keys"),
                format!("must be between 1 and {MAX_MAX_KEYS}"),
            );
        }
        let d = IpPrefixes::default();
        let ip_prefixes = IpPrefixes {
            v4: bounded(p, "ipv4_prefix", raw.ipv4_prefix, d.v4, 32),
            v6: bounded(p, "ipv6_prefix", raw.ipv6_prefix, d.v6, 128),
        };
        let mut names = Vec::new();
        let mut policies = Vec::new();
        for (i, raw) in raw.policies.iter().enumerate() {
            let at = format!("{SECTION}.policies[{i}]");
            let name = check_name(p, &at, &raw.name, &mut names);
            let limit = validate_rate(p, &at, raw);
            if let (Some(name), Some(limit)) = (name, limit) {
                policies.push(Policy {
                    name,
                    key: KeySpec::new(&raw.key),
                    scope: scope(&raw.routes, &raw.upstreams, &raw.plans),
                    kind: PolicyKind::Rate(limit),
                });
            }
        }
        for (i, raw) in raw.quotas.iter().enumerate() {
            let at = format!("{SECTION}.quotas[{i}]");
            let name = check_name(p, &at, &raw.name, &mut names);
            if !(1..=MAX_QUOTA).contains(&raw.limit) {
                p.push(
                    format!("{at}.limit"),
                    format!("must be between 1 and {MAX_QUOTA}"),
                );
                continue;
            }
            if let Some(name) = name {
                policies.push(Policy {
                    name,
                    key: KeySpec::new(&raw.key),
                    scope: scope(&raw.routes, &raw.upstreams, &raw.plans),
                    kind: PolicyKind::Quota(Quota {
                        limit: raw.limit,
                        period: raw.period,
                    }),
                });
            }
        }
        let mut concurrency_names = Vec::new();
        let mut concurrency = Vec::new();
        for (i, raw) in raw.concurrency.iter().enumerate() {
            let at = format!("{SECTION}.concurrency[{i}]");
            let name = check_name(p, &at, &raw.name, &mut concurrency_names);
            if raw.max_in_flight == 0 {
                p.push(format!("{at}.max_in_flight"), "must be at least 1");
                continue;
            }
            if let Some(name) = name {
                concurrency.push(ConcurrencyPolicy {
                    name,
                    key: KeySpec::new(&raw.key),
                    scope: scope(&raw.routes, &raw.upstreams, &raw.plans),
                    max_in_flight: raw.max_in_flight,
                });
            }
        }
        Self {
            max_keys: max_keys.clamp(1, MAX_MAX_KEYS),
            ip_prefixes,
            policies,
            concurrency,
            redis: raw.redis.as_ref().and_then(|r| store::validate(p, r)),
        }
    }
}

fn bounded(p: &mut Problems, key: &str, raw: Option<u8>, default: u8, max: u8) -> u8 {
    let value = raw.unwrap_or(default);
    if value > max {
        p.push(
            format!("{SECTION}.{key}"),
            format!("must be between 0 and {max}"),
        );
        return default;
    }
    value
}

fn scope(routes: &[String], upstreams: &[String], plans: &[String]) -> Scope {
    Scope {
        routes: routes.to_vec(),
        upstreams: upstreams.to_vec(),
        plans: plans.to_vec(),
    }
}

/// Names appear in response headers and redis keys: keep them to a safe alphabet.
fn check_name(p: &mut Problems, at: &str, name: &str, seen: &mut Vec<String>) -> Option<Arc<str>> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if name.is_empty() || name.len() > 64 || !ok_chars {
        p.push(format!("{at}.name"), "use 1 to 64 of A-Z a-z 0-9 - _ .");
        return None;
    }
    if seen.iter().any(|s| s == name) {
        p.push(format!("{at}.name"), format!("{name:?} is used twice"));
        return None;
    }
    seen.push(name.to_owned());
    Some(Arc::from(name))
}

fn validate_rate(p: &mut Problems, at: &str, raw: &RawPolicy) -> Option<Limit> {
    let rate = match &raw.rate {
        RawRate::PerSecond(n) => Rate::per_second(*n),
        RawRate::Text(s) => s.parse(),
    };
    let rate = rate.map_err(|e| p.push(format!("{at}.rate"), e)).ok()?;
    let burst = raw.burst.unwrap_or(rate.count().min(MAX_BURST));
    if burst > MAX_BURST {
        p.push(
            format!("{at}.burst"),
            format!("must be at most {MAX_BURST}"),
        );
        return None;
    }
    Limit::new(rate, burst)
        .map_err(|e| p.push(format!("{at}.burst"), e))
        .ok()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
