//! `[audit]`: where audit records go, how large the queue and the recent-events ring
//! are, and how client addresses appear in records.
//!
//! ```toml
//! [audit]
//! sink = "file"              # "stdout" (default) | "file"
//! path = "audit/edge.log"    # with sink = "file"; relative to the config file
//! max_size = "100MiB"        # rotate when the next line would cross this size
//! keep = 5                   # rotated files kept: edge.log.1 .. edge.log.5
//! client_address = "truncate" # "full" (default) | "truncate" (IPv4 /24, IPv6 /48) | "hash"
//! hash_key_file = "audit.key" # with "hash": the key (>= 16 bytes), shared by both tiers
//! queue = 8192               # records waiting for the writer; beyond, dropped and counted
//! recent = 10000             # denials kept in memory for the admin API and dashboard
//! ```

use std::path::{Path, PathBuf};

use rampart_core::config::{Problems, resolve};
use rampart_core::units::ByteSize;
use serde::Deserialize;

/// `[audit]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuditConfig {
    /// `"stdout"` or `"file"`.
    pub sink: Option<String>,
    /// The file, with `sink = "file"`.
    pub path: Option<PathBuf>,
    /// Rotation size, e.g. `"100MiB"`.
    pub max_size: Option<String>,
    /// Rotated files kept.
    pub keep: Option<u32>,
    /// `"full"`, `"truncate"` or `"hash"`.
    pub client_address: Option<String>,
    /// Key for `client_address = "hash"`.
    pub hash_key_file: Option<PathBuf>,
    /// Records waiting for the writer.
    pub queue: Option<usize>,
    /// Denials kept in memory.
    pub recent: Option<usize>,
}

/// Where records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sink {
    /// One JSON line per record on standard output (next to the other logs).
    Stdout,
    /// A file rotated by size: `path` -> `path.1` -> ... -> `path.{keep}`.
    File {
        /// The live file.
        path: PathBuf,
        /// Rotate before a line would make the file larger than this.
        max_size: ByteSize,
        /// Rotated files kept (1..=100).
        keep: u32,
    },
}

/// How a client address appears in records.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAddress {
    /// As resolved.
    Full,
    /// IPv4 to its /24, IPv6 to its /48.
    Truncate,
    /// A keyed hash (HMAC-SHA-256, first 64 bits): the same client gives the same value
    /// in both tiers when they share the key, and the address cannot be read back.
    Hash(Vec<u8>),
}

impl std::fmt::Debug for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAddress::Full => f.write_str("Full"),
            ClientAddress::Truncate => f.write_str("Truncate"),
            // The key stays out of debug output.
            ClientAddress::Hash(_) => f.write_str("Hash(..)"),
        }
    }
}

/// Validated `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Where records go.
    pub sink: Sink,
    /// How client addresses appear.
    pub client_address: ClientAddress,
    /// Records waiting for the writer before new ones are dropped.
    pub queue: usize,
    /// Denials kept for the admin API.
    pub recent: usize,
    /// `[alerts]` and `[syslog]`, validated with the other ops sections.
    pub integrations: crate::alerts::Integrations,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            sink: Sink::Stdout,
            client_address: ClientAddress::Full,
            queue: 8192,
            recent: 10_000,
            integrations: crate::alerts::Integrations::default(),
        }
    }
}

const MIN_KEY_BYTES: usize = 16;

impl AuditConfig {
    /// Validates `raw` (the section named `section`, usually `audit`); relative paths are
    /// resolved against `base`, the config file's directory. Every problem is recorded.
    pub fn validate(
        section: &str,
        raw: &RawAuditConfig,
        base: &Path,
        p: &mut Problems,
    ) -> Option<AuditConfig> {
        let defaults = AuditConfig::default();
        let key = |k: &str| format!("{section}.{k}");
        let mut ok = true;
        let max_size = p.size_or(&key("max_size"), raw.max_size.as_ref(), ByteSize::mib(100));
        if max_size.as_u64() < 4096 {
            p.push(key("max_size"), "must be at least 4KiB");
            ok = false;
        }
        let keep = raw.keep.unwrap_or(5);
        if !(1..=100).contains(&keep) {
            p.push(key("keep"), format!("{keep} is not in 1..=100"));
            ok = false;
        }
        let sink = match raw.sink.as_deref().unwrap_or("stdout") {
            "stdout" => {
                if raw.path.is_some() {
                    p.push(key("path"), "only used with sink = \"file\"");
                    ok = false;
                }
                Some(Sink::Stdout)
            }
            "file" => match &raw.path {
                Some(path) => Some(Sink::File {
                    path: resolve(base, path),
                    max_size,
                    keep,
                }),
                None => {
                    p.push(key("path"), "is required with sink = \"file\"");
                    None
                }
            },
            other => {
                p.push(
                    key("sink"),
                    format!("{other:?} is not a sink; use \"stdout\" or \"file\""),
                );
                None
            }
        };
        let client_address = match raw.client_address.as_deref().unwrap_or("full") {
            "full" | "truncate" if raw.hash_key_file.is_some() => {
                p.push(
                    key("hash_key_file"),
                    "only used with client_address = \"hash\"",
                );
                None
            }
            "full" => Some(ClientAddress::Full),
            "truncate" => Some(ClientAddress::Truncate),
            "hash" => read_key(&key("hash_key_file"), raw.hash_key_file.as_deref(), base, p),
            other => {
                p.push(
                    key("client_address"),
                    format!("{other:?} is not a mode; use \"full\", \"truncate\" or \"hash\""),
                );
                None
            }
        };
        let queue = raw.queue.unwrap_or(defaults.queue);
        if !(16..=1_000_000).contains(&queue) {
            p.push(key("queue"), format!("{queue} is not in 16..=1000000"));
            ok = false;
        }
        let recent = raw.recent.unwrap_or(defaults.recent);
        if !(1..=1_000_000).contains(&recent) {
            p.push(key("recent"), format!("{recent} is not in 1..=1000000"));
            ok = false;
        }
        Some(AuditConfig {
            sink: sink?,
            client_address: client_address?,
            queue,
            recent,
            integrations: crate::alerts::Integrations::default(),
        })
        .filter(|_| ok)
    }
}

fn read_key(
    key: &str,
    file: Option<&Path>,
    base: &Path,
    p: &mut Problems,
) -> Option<ClientAddress> {
    let Some(file) = file else {
        p.push(key, "is required with client_address = \"hash\"");
        return None;
    };
    let path = resolve(base, file);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let trimmed = bytes.trim_ascii().to_vec();
            if trimmed.len() < MIN_KEY_BYTES {
                p.push(
                    key,
                    format!(
                        "{}: a key needs at least {MIN_KEY_BYTES} bytes",
                        path.display()
                    ),
                );
                None
            } else {
                Some(ClientAddress::Hash(trimmed))
            }
        }
        Err(e) => {
            p.push(key, format!("{}: cannot read: {e}", path.display()));
            None
        }
    }
}
