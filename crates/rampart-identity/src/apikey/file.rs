//! The consumers file.
//!
//! ```toml
//! [[consumer]]
//! name = "partner-a"
//! roles = ["reader"]
//! scopes = ["orders:read"]
//! plan = "gold"                       # rate-limit plan, optional
//! enabled = true                      # default true
//!
//! [[consumer.keys]]                   # several live keys allow rotation
//! hash = "sha256:<64 hex digits>"     # SHA-256 of the key, never the key itself
//! expires = "2027-06-01T00:00:00Z"    # optional, RFC 3339
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use rampart_core::config::{ConfigError, Problems};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{ApiKeys, Consumer, KeyEntry};
use crate::digest::parse_sha256;
use crate::watch::FromFile;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    consumer: Vec<RawConsumer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsumer {
    name: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    plan: Option<String>,
    enabled: Option<bool>,
    #[serde(default)]
    keys: Vec<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    hash: String,
    expires: Option<String>,
}

impl FromFile for ApiKeys {
    const MAX_BYTES: u64 = 16 * 1024 * 1024;

    fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        let raw = parse_toml::<RawFile>(&mut p, text);
        let keys = raw.map(|raw| validate(&mut p, raw));
        p.finish(file, keys)
    }
}

/// Parses TOML into `T`, recording a syntax error with its line or a structural one
/// with its key path.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    p: &mut Problems,
    text: &str,
) -> Option<T> {
    let table = match text.parse::<toml::Table>() {
        Ok(t) => t,
        Err(e) => {
            let at = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            match at {
                Some(line) => p.push("", format!("line {line}: {}", e.message())),
                None => p.push("", e.message()),
            }
            return None;
        }
    };
    serde_path_to_error::deserialize::<_, T>(toml::Value::Table(table))
        .map_err(|e| {
            let path = e.path().to_string();
            p.push(
                if path == "." { String::new() } else { path },
                e.into_inner().message(),
            );
        })
        .ok()
}

fn validate(p: &mut Problems, raw: RawFile) -> ApiKeys {
    let mut out = ApiKeys::default();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut hashes: HashMap<[u8; 32], String> = HashMap::new();
    for (ci, c) in raw.consumer.into_iter().enumerate() {
        let at = format!("consumer[{ci}]");
        if let Err(m) = check_label(&c.name) {
            p.push(format!("{at}.name"), m);
        } else if let Some(first) = names.insert(c.name.clone(), ci) {
            p.push(
                format!("{at}.name"),
                format!("duplicate of consumer[{first}]"),
            );
        }
        for (field, list) in [("roles", &c.roles), ("scopes", &c.scopes)] {
            for (i, v) in list.iter().enumerate() {
                if let Err(m) = check_label(v) {
                    p.push(format!("{at}.{field}[{i}]"), m);
                }
            }
        }
        if let Some(Err(m)) = c.plan.as_deref().map(check_label) {
            p.push(format!("{at}.plan"), m);
        }
        let index = out.consumers.len();
        for (ki, k) in c.keys.iter().enumerate() {
            let kat = format!("{at}.keys[{ki}]");
            let hash = parse_sha256(&k.hash).map_err(|m| p.push(format!("{kat}.hash"), m));
            let expires = k
                .expires
                .as_deref()
                .map(|e| parse_expiry(e).map_err(|m| p.push(format!("{kat}.expires"), m)));
            let (Ok(hash), None | Some(Ok(_))) = (hash, &expires) else {
                continue;
            };
            if let Some(first) = hashes.insert(hash, kat.clone()) {
                p.push(format!("{kat}.hash"), format!("duplicate of {first}.hash"));
                continue;
            }
            let expires = expires.and_then(Result::ok);
            out.by_hash.insert(
                hash,
                KeyEntry {
                    hash,
                    consumer: index,
                    expires,
                },
            );
        }
        out.consumers.push(Consumer {
            name: c.name,
            roles: c.roles,
            scopes: c.scopes,
            plan: c.plan,
            enabled: c.enabled.unwrap_or(true),
        });
    }
    out
}

fn parse_expiry(text: &str) -> Result<SystemTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(SystemTime::from)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))
}

/// Names, roles, scopes and plans: 1-128 visible ASCII characters, no quotes or
/// backslashes, so they are safe in headers, challenges (RFC 6750 scope tokens) and logs.
pub fn check_label(s: &str) -> Result<(), String> {
    let fits = |b: u8| b.is_ascii_graphic() && b != b'"' && b != b'\\';
    if s.is_empty() || s.len() > 128 || !s.bytes().all(fits) {
        return Err(format!(
            "{s:?} must be 1-128 visible ASCII characters without spaces, quotes or backslashes"
        ));
    }
    Ok(())
}
