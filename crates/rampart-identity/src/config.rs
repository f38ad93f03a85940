//! The `[identity]` section of the edge config: raw as written, validated into
//! [`IdentityConfig`], loaded into [`Identity`].
//!
//! ```toml
//! [identity]
//! consumers = "consumers.toml"    # API keys; paths are relative to the config file
//! users = "users.htpasswd"        # HTTP Basic
//! deny_list = "revoked.list"
//! reload_interval = "10s"         # how often the edge polls the files
//! basic_concurrency = 2           # argon2 runs at once; default: one per CPU
//!
//! [identity.lockout]
//! threshold = 5                   # failures of one user before it is locked
//! ip_threshold = 20               # failures from one address before it is locked
//! window = "10m"                  # quiet time after which failures are forgotten
//! base = "1s"                     # first lock; doubles per further failure
//! max = "15m"
//! capacity = 10000                # users (and addresses) tracked at most
//!
//! [identity.basic_cache]
//! ttl = "60s"
//! capacity = 10000                # 0 disables the cache
//! ```
//!
//! The names the backend is told the identity under belong to the inner tier's
//! `[identity_headers]`: the edge knows no backend.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rampart_core::config::{ConfigError, Problems, resolve};
use serde::Deserialize;

use crate::apikey::ApiKeys;
use crate::basic::{BasicAuth, CacheConfig, Users};
use crate::denylist::DenyList;
use crate::lockout::LockoutConfig;
use crate::watch::{FromFile, Watched};

pub use crate::stores::Identity;

const SECTION: &str = "identity";
const DAY: Duration = Duration::from_secs(86_400);

/// `[identity]` as written. Take it with `Sections::take("identity", ..)`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    consumers: Option<PathBuf>,
    users: Option<PathBuf>,
    deny_list: Option<PathBuf>,
    reload_interval: Option<String>,
    basic_concurrency: Option<usize>,
    #[serde(default)]
    lockout: RawLockout,
    #[serde(default)]
    basic_cache: RawCache,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLockout {
    threshold: Option<u32>,
    ip_threshold: Option<u32>,
    window: Option<String>,
    base: Option<String>,
    max: Option<String>,
    capacity: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    ttl: Option<String>,
    capacity: Option<usize>,
}

/// The validated `[identity]` section. Files are named, not yet read: see [`Self::load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// Consumers file (API keys), resolved against the config file's directory.
    pub consumers: Option<PathBuf>,
    /// Users file (HTTP Basic).
    pub users: Option<PathBuf>,
    /// Deny list of revoked credentials.
    pub deny_list: Option<PathBuf>,
    /// How often the files are polled for changes.
    pub reload_interval: Duration,
    /// Most concurrent argon2 runs; `None`: one per CPU.
    pub basic_concurrency: Option<usize>,
    /// Lockout tuning.
    pub lockout: LockoutConfig,
    /// Basic success cache tuning.
    pub basic_cache: CacheConfig,
}

impl IdentityConfig {
    /// Validates `raw`, recording every problem under `identity.*`; relative paths are
    /// resolved against `base` (the config file's directory).
    pub fn validate(p: &mut Problems, raw: &RawIdentity, base: &Path) -> Self {
        let path = |p: &mut Problems, name: &str, v: &Option<PathBuf>| {
            let v = v.as_ref()?;
            if v.as_os_str().is_empty() {
                p.push(format!("{SECTION}.{name}"), "must not be empty");
                return None;
            }
            Some(resolve(base, v))
        };
        let d = LockoutConfig::default();
        let l = &raw.lockout;
        let lockout = LockoutConfig {
            threshold: count(p, "lockout.threshold", l.threshold, d.threshold, 1_000),
            ip_threshold: count(
                p,
                "lockout.ip_threshold",
                l.ip_threshold,
                d.ip_threshold,
                1_000_000,
            ),
            window: duration(p, "lockout.window", l.window.as_ref(), d.window, DAY),
            base: duration(p, "lockout.base", l.base.as_ref(), d.base, DAY),
            max: duration(p, "lockout.max", l.max.as_ref(), d.max, DAY),
            capacity: count(p, "lockout.capacity", l.capacity, d.capacity, 10_000_000),
        };
        if lockout.base > lockout.max {
            p.push(
                format!("{SECTION}.lockout.base"),
                "must not exceed lockout.max",
            );
        }
        let c = &raw.basic_cache;
        let dc = CacheConfig::default();
        let basic_cache = CacheConfig {
            ttl: duration(
                p,
                "basic_cache.ttl",
                c.ttl.as_ref(),
                dc.ttl,
                Duration::from_secs(3600),
            ),
            capacity: c.capacity.unwrap_or(dc.capacity),
        };
        if basic_cache.capacity > 10_000_000 {
            p.push(
                format!("{SECTION}.basic_cache.capacity"),
                "must be at most 10000000",
            );
        }
        let interval = raw.reload_interval.as_ref();
        Self {
            consumers: path(p, "consumers", &raw.consumers),
            users: path(p, "users", &raw.users),
            deny_list: path(p, "deny_list", &raw.deny_list),
            reload_interval: duration(p, "reload_interval", interval, Duration::from_secs(10), DAY),
            basic_concurrency: raw
                .basic_concurrency
                .map(|n| count(p, "basic_concurrency", Some(n), 1, 1024)),
            lockout,
            basic_cache,
        }
    }

    /// Reads every configured file (blocking; at startup or `--check`). Reports every
    /// file that failed, not just the first.
    pub fn load(&self) -> Result<Identity, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let api_keys = load::<ApiKeys>(self.consumers.as_deref(), &mut errors);
        let users = load::<Users>(self.users.as_deref(), &mut errors);
        let deny_list = load::<DenyList>(self.deny_list.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Identity {
            api_keys,
            basic: users.map(|u| {
                let basic = BasicAuth::new(u, self.lockout.clone(), self.basic_cache);
                match self.basic_concurrency {
                    Some(n) => basic.with_max_concurrent(n),
                    None => basic,
                }
            }),
            deny_list,
            reload_interval: self.reload_interval,
        })
    }
}

fn load<T: FromFile>(path: Option<&Path>, errors: &mut Vec<ConfigError>) -> Option<Watched<T>> {
    Watched::load(path?).map_err(|e| errors.push(e)).ok()
}

fn count<T: Copy + PartialOrd + From<u8> + std::fmt::Display>(
    p: &mut Problems,
    key: &str,
    raw: Option<T>,
    default: T,
    max: T,
) -> T {
    let v = raw.unwrap_or(default);
    if v < T::from(1) || v > max {
        p.push(
            format!("{SECTION}.{key}"),
            format!("must be between 1 and {max}"),
        );
        return default;
    }
    v
}

fn duration(
    p: &mut Problems,
    key: &str,
    raw: Option<&String>,
    default: Duration,
    max: Duration,
) -> Duration {
    let key = format!("{SECTION}.{key}");
    let v = p.duration_or(&key, raw, default);
    if v.is_zero() || v > max {
        p.push(
            key,
            format!("must be more than 0 and at most {}s", max.as_secs()),
        );
        return default;
    }
    v
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
