//! `[rate_limit.redis]`: where the shared store is and what to do when it fails.

use std::fmt;
use std::time::Duration;

use rampart_core::config::Problems;
use serde::Deserialize;

use super::SECTION;

const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRedis {
    url: String,
    timeout: Option<String>,
    fail_open: Option<bool>,
    key_prefix: Option<String>,
    local_share: Option<f64>,
}

impl fmt::Debug for RawRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRedis")
            .field("url", &RedisUrl(self.url.clone()))
            .finish_non_exhaustive()
    }
}

/// A redis URL; its `Debug` and `Display` hide any credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        let Some((scheme, rest)) = url.split_once("://") else {
            return f.write_str("(redis url)");
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => write!(f, "{scheme}://***@{}", &rest[at + 1..]),
            None => write!(f, "{scheme}://{rest}"),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// How the edge reaches redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Where redis is.
    pub url: RedisUrl,
    /// Deadline for one decision's round trip.
    pub timeout: Duration,
    /// When redis cannot answer: admit (still under the local limits) instead of 503.
    pub fail_open: bool,
    /// Prefix of every key written.
    pub key_prefix: String,
    /// Fraction in (0, 1] of each rate limit also enforced by this replica alone.
    pub local_share: f64,
}

pub(super) fn validate(p: &mut Problems, raw: &RawRedis) -> Option<RedisConfig> {
    let at = format!("{SECTION}.redis");
    let url = RedisUrl(raw.url.clone());
    let scheme_ok = raw.url.starts_with("redis://")
        || raw.url.starts_with("redis+unix://")
        || raw.url.starts_with("unix://");
    // The client's own error text may echo the URL, password included: never show it.
    if !scheme_ok || redis::Client::open(raw.url.as_str()).is_err() {
        p.push(
            format!("{at}.url"),
            format!("{url}: expected redis://[user:password@]host[:port][/db] or unix://path (TLS is not supported)"),
        );
        return None;
    }
    let timeout = p.duration_or(
        &format!("{at}.timeout"),
        raw.timeout.as_ref(),
        DEFAULT_TIMEOUT,
    );
    if timeout.is_zero() || timeout > Duration::from_secs(10) {
        p.push(format!("{at}.timeout"), "must be between 1ms and 10s");
    }
    let key_prefix = raw.key_prefix.clone().unwrap_or_else(|| "rampart:".into());
    if key_prefix.len() > 64 || !key_prefix.bytes().all(|b| b.is_ascii_graphic()) {
        p.push(
            format!("{at}.key_prefix"),
            "use at most 64 printable characters, no spaces",
        );
    }
    let local_share = raw.local_share.unwrap_or(1.0);
    if !(local_share > 0.0 && local_share <= 1.0) {
        p.push(format!("{at}.local_share"), "must be in (0, 1]");
    }
    Some(RedisConfig {
        url,
        timeout,
        fail_open: raw.fail_open.unwrap_or(false),
        key_prefix,
        local_share,
    })
}
