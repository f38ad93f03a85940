//! The `[antivirus]` section: raw structs as operators write them, validated into
//! [`AvConfig`].
//!
//! ```toml
//! [antivirus]
//! cache_ttl = "1h"
//! cache_entries = 10000
//! signature_check = "1m"          # how often a cached verdict's signatures are confirmed
//!
//! [antivirus.clamd]
//! address = "127.0.0.1:3310"      # or: socket = "/run/clamav/clamd.ctl"
//! timeout = "5s"                  # queue + connect + whole exchange
//! connect_timeout = "1s"
//! max_concurrency = 8
//! stream_max_length = "25MiB"     # = clamd's StreamMaxLength; larger bodies are Oversize
//!
//! [antivirus.icap]
//! url = "icap://127.0.0.1:1344/avscan"
//! timeout = "5s"
//! connect_timeout = "1s"
//! max_connections = 8
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rampart_core::config::{ConfigError, Problems, Sections};
use rampart_core::units::ByteSize;
use serde::Deserialize;

use crate::clamd::ClamdAddress;
use crate::icap::IcapUrl;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_CONCURRENCY: usize = 8;
const MAX_CONCURRENCY: usize = 1024;
const DEFAULT_STREAM_MAX: ByteSize = ByteSize::mib(25);
/// clamd refuses a StreamMaxLength above 4 GiB.
const MAX_STREAM_MAX: ByteSize = ByteSize::bytes(4 << 30);
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(3600);
const DEFAULT_CACHE_ENTRIES: usize = 10_000;
const MAX_CACHE_ENTRIES: usize = 10_000_000;
const DEFAULT_SIGNATURE_CHECK: Duration = Duration::from_secs(60);

/// `[antivirus]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAntivirus {
    /// `[antivirus.clamd]`.
    pub clamd: Option<RawClamd>,
    /// `[antivirus.icap]`.
    pub icap: Option<RawIcap>,
    /// How long a clean or infected verdict is reused, e.g. `"1h"`; `"0s"` disables.
    pub cache_ttl: Option<String>,
    /// Most verdicts kept; `0` disables the cache.
    pub cache_entries: Option<usize>,
    /// How often the engines' signature versions are asked for before a cached verdict is
    /// reused, e.g. `"1m"`; `"0s"` asks before every reuse.
    pub signature_check: Option<String>,
}

/// `[antivirus.clamd]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClamd {
    /// `IP:port` of clamd's TCPSocket.
    pub address: Option<String>,
    /// Path of clamd's LocalSocket.
    pub socket: Option<PathBuf>,
    /// Deadline for one scan, from queueing to the reply.
    pub timeout: Option<String>,
    /// Deadline for connecting.
    pub connect_timeout: Option<String>,
    /// Scans in flight at once (each holds one connection).
    pub max_concurrency: Option<usize>,
    /// clamd's StreamMaxLength.
    pub stream_max_length: Option<String>,
}

/// `[antivirus.icap]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIcap {
    /// `icap://host:port/service`.
    pub url: Option<String>,
    /// Deadline for one scan, from queueing to the final response.
    pub timeout: Option<String>,
    /// Deadline for connecting.
    pub connect_timeout: Option<String>,
    /// Connections kept and used at once (lowered to the server's Max-Connections).
    pub max_connections: Option<usize>,
}

/// Validated clamd settings.
#[derive(Debug, Clone)]
pub struct ClamdConfig {
    /// Where clamd listens.
    pub address: ClamdAddress,
    /// Deadline for one scan, from queueing to the reply.
    pub timeout: Duration,
    /// Deadline for connecting.
    pub connect_timeout: Duration,
    /// Scans in flight at once (at least 1).
    pub max_concurrency: usize,
    /// Largest body sent; larger bodies are Oversize without a round trip.
    pub stream_max_length: ByteSize,
}

/// Validated ICAP settings.
#[derive(Debug, Clone)]
pub struct IcapConfig {
    /// The service.
    pub url: IcapUrl,
    /// Deadline for one scan, from queueing to the final response.
    pub timeout: Duration,
    /// Deadline for connecting.
    pub connect_timeout: Duration,
    /// Connections at once (at least 1).
    pub max_connections: usize,
}

/// Verdict cache settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a verdict is reused.
    pub ttl: Duration,
    /// Most verdicts kept (0: no cache).
    pub entries: usize,
    /// How long an engine's signature version, once confirmed, is taken as current: a
    /// cached verdict is reused only while the version it was reached with is.
    pub signature_check: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_CACHE_TTL,
            entries: DEFAULT_CACHE_ENTRIES,
            signature_check: DEFAULT_SIGNATURE_CHECK,
        }
    }
}

/// Validated antivirus settings: at least one engine.
#[derive(Debug, Clone)]
pub struct AvConfig {
    clamd: Option<ClamdConfig>,
    icap: Option<IcapConfig>,
    cache: CacheConfig,
}

impl AvConfig {
    /// Settings with the given engines; `None` when neither is given.
    pub fn new(
        clamd: Option<ClamdConfig>,
        icap: Option<IcapConfig>,
        cache: CacheConfig,
    ) -> Option<Self> {
        (clamd.is_some() || icap.is_some()).then_some(Self { clamd, icap, cache })
    }
    /// The clamd engine, if configured.
    pub fn clamd(&self) -> Option<&ClamdConfig> {
        self.clamd.as_ref()
    }
    /// The ICAP engine, if configured.
    pub fn icap(&self) -> Option<&IcapConfig> {
        self.icap.as_ref()
    }
    /// The verdict cache.
    pub fn cache(&self) -> CacheConfig {
        self.cache
    }

    /// Parses a TOML document and validates its `[antivirus]` section (other sections are
    /// refused). `Ok(None)`: the section is absent, antivirus is off.
    pub fn from_toml(file: &Path, text: &str) -> Result<Option<Self>, ConfigError> {
        let mut sections = Sections::parse(file, text)?;
        let mut p = Problems::default();
        let raw: Option<RawAntivirus> = sections.take("antivirus", &mut p);
        sections.finish(&mut p);
        let config = raw.map(|raw| raw.validate(&mut p, "antivirus"));
        p.finish(file, config)
    }
}

impl RawAntivirus {
    /// Validates the section found at `key`, recording every problem in `p`. `None` when
    /// no engine is configured (antivirus off) or when a problem was recorded.
    pub fn validate(&self, p: &mut Problems, key: &str) -> Option<AvConfig> {
        let clamd = self
            .clamd
            .as_ref()
            .and_then(|c| c.validate(p, &format!("{key}.clamd")));
        let icap = self
            .icap
            .as_ref()
            .and_then(|c| c.validate(p, &format!("{key}.icap")));
        let ttl = p.duration_or(
            &format!("{key}.cache_ttl"),
            self.cache_ttl.as_ref(),
            DEFAULT_CACHE_TTL,
        );
        let entries = self.cache_entries.unwrap_or(DEFAULT_CACHE_ENTRIES);
        if entries > MAX_CACHE_ENTRIES {
            p.push(
                format!("{key}.cache_entries"),
                format!("at most {MAX_CACHE_ENTRIES}"),
            );
        }
        let signature_check = p.duration_or(
            &format!("{key}.signature_check"),
            self.signature_check.as_ref(),
            DEFAULT_SIGNATURE_CHECK,
        );
        let nothing = self.clamd.is_none() && self.icap.is_none();
        let cache_set = self.cache_ttl.is_some()
            || self.cache_entries.is_some()
            || self.signature_check.is_some();
        if nothing && cache_set {
            p.push(
                key,
                "cache settings without [antivirus.clamd] or [antivirus.icap]",
            );
        }
        let cache = CacheConfig {
            ttl,
            entries,
            signature_check,
        };
        AvConfig::new(clamd, icap, cache)
    }
}

fn positive(p: &mut Problems, key: &str, raw: Option<&String>, default: Duration) -> Duration {
    let value = p.duration_or(key, raw, default);
    if value.is_zero() {
        p.push(key, "must be greater than 0");
    }
    value
}

fn bounded(p: &mut Problems, key: &str, value: Option<usize>, default: usize) -> usize {
    let value = value.unwrap_or(default);
    if !(1..=MAX_CONCURRENCY).contains(&value) {
        p.push(key, format!("must be between 1 and {MAX_CONCURRENCY}"));
    }
    value.clamp(1, MAX_CONCURRENCY)
}

impl RawClamd {
    fn validate(&self, p: &mut Problems, key: &str) -> Option<ClamdConfig> {
        let address = match (&self.address, &self.socket) {
            (Some(_), Some(_)) => {
                p.push(key, "set either address or socket, not both");
                None
            }
            (None, None) => {
                p.push(key, "address or socket is required");
                None
            }
            (addr @ Some(_), None) => p
                .socket_addr(&format!("{key}.address"), addr.as_ref())
                .map(ClamdAddress::Tcp),
            (None, Some(path)) => Some(ClamdAddress::Unix(path.clone())),
        };
        let timeout = positive(
            p,
            &format!("{key}.timeout"),
            self.timeout.as_ref(),
            DEFAULT_TIMEOUT,
        );
        let connect_timeout = positive(
            p,
            &format!("{key}.connect_timeout"),
            self.connect_timeout.as_ref(),
            DEFAULT_CONNECT_TIMEOUT,
        );
        let max_concurrency = bounded(
            p,
            &format!("{key}.max_concurrency"),
            self.max_concurrency,
            DEFAULT_CONCURRENCY,
        );
        let len_key = format!("{key}.stream_max_length");
        let stream_max_length = p.size_or(
            &len_key,
            self.stream_max_length.as_ref(),
            DEFAULT_STREAM_MAX,
        );
        if stream_max_length.as_u64() == 0 || stream_max_length > MAX_STREAM_MAX {
            p.push(len_key, "must be between 1B and 4GiB");
        }
        Some(ClamdConfig {
            address: address?,
            timeout,
            connect_timeout,
            max_concurrency,
            stream_max_length,
        })
    }
}

impl RawIcap {
    fn validate(&self, p: &mut Problems, key: &str) -> Option<IcapConfig> {
        let url_key = format!("{key}.url");
        let url = p.required(&url_key, self.url.as_ref()).and_then(|raw| {
            raw.parse::<IcapUrl>()
                .map_err(|e| p.push(&url_key, format!("{raw:?}: {e}")))
                .ok()
        });
        let timeout = positive(
            p,
            &format!("{key}.timeout"),
            self.timeout.as_ref(),
            DEFAULT_TIMEOUT,
        );
        let connect_timeout = positive(
            p,
            &format!("{key}.connect_timeout"),
            self.connect_timeout.as_ref(),
            DEFAULT_CONNECT_TIMEOUT,
        );
        let max_connections = bounded(
            p,
            &format!("{key}.max_connections"),
            self.max_connections,
            DEFAULT_CONCURRENCY,
        );
        Some(IcapConfig {
            url: url?,
            timeout,
            connect_timeout,
            max_connections,
        })
    }
}

#[cfg(test)]
mod tests;
