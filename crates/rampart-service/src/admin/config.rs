//! `[admin]`: who may use the admin API, and with which role.
//!
//! ```toml
//! [admin]
//! protect_metrics = false   # true: /metrics needs the viewer role too
//! session_ttl = "8h"        # dashboard sign-in (cookie) lifetime
//! max_block = "24h"         # longest address block an operator may set
//! # Bearer tokens, stored as SHA-256 hashes (`rampart admin token NAME ROLE` prints one).
//! tokens = [{ name = "ops", hash = "sha256:9f86d0...", role = "operator" }]
//! # Client certificates (when the admin listener runs TLS with client auth): a DNS
//! # subject alternative name or, failing that, the common name -> role. First match wins.
//! certificates = [{ subject = "alice.ops.example.com", role = "admin" }]
//! # Other tiers shown on this tier's dashboard (see [`super::peers`]).
//! peers = [{ name = "edge", url = "http://10.0.0.5:9901", token_file = "edge-viewer.token" }]
//! # People who sign in with a password and a TOTP code (`rampart admin user add`),
//! # relative to this file; reloaded when it changes.
//! users_file = "admin-users.toml"
//! session_idle = "15m"      # a session unused this long ends (session_ttl is the most)
//! # Session cookies are `Secure` unless the listener is plain HTTP and this is true
//! # (development and tests: browsers drop `Secure` cookies over plain HTTP).
//! insecure_cookies = false
//! ```

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use rampart_core::config::Problems;
use ring::digest;
use serde::Deserialize;

/// What an admin may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read status, metrics, events and the dashboard.
    Viewer,
    /// Also switch routes and rules between block and detect, block addresses, reload.
    Operator,
    /// Everything, including consumers and keys.
    Admin,
}

impl Role {
    /// `viewer`, `operator` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "{other:?} is not a role; use \"viewer\", \"operator\" or \"admin\""
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[admin]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdminConfig {
    /// `/metrics` needs the viewer role.
    pub protect_metrics: Option<bool>,
    /// Dashboard session lifetime.
    pub session_ttl: Option<String>,
    /// Longest address block.
    pub max_block: Option<String>,
    /// Admin tokens.
    #[serde(default)]
    pub tokens: Vec<RawToken>,
    /// Admin client certificates.
    #[serde(default)]
    pub certificates: Vec<RawCertificate>,
    /// Other tiers' admin listeners shown on this tier's dashboard.
    #[serde(default)]
    pub peers: Vec<super::peers::RawPeer>,
    /// The admin users file (password + TOTP sign-in).
    pub users_file: Option<String>,
    /// Session idle lifetime.
    pub session_idle: Option<String>,
    /// Session cookies without `Secure` on a plain-HTTP listener.
    pub insecure_cookies: Option<bool>,
}

/// One admin token as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    /// Who holds it (written to the audit log).
    pub name: String,
    /// `sha256:` and 64 hex digits.
    pub hash: String,
    /// The role it grants.
    pub role: String,
}

/// One admin certificate rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCertificate {
    /// A DNS subject alternative name or common name.
    pub subject: String,
    /// The role it grants.
    pub role: String,
}

/// A validated admin token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// Who holds it.
    pub name: String,
    pub(crate) hash: [u8; 32],
    /// The role it grants.
    pub role: Role,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A validated certificate rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRule {
    /// The DNS SAN or CN to match (compared case-insensitively).
    pub subject: String,
    /// The role it grants.
    pub role: Role,
}

/// Validated `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `/metrics` needs the viewer role.
    pub protect_metrics: bool,
    /// Dashboard session lifetime.
    pub session_ttl: Duration,
    /// Longest address block an operator may set.
    pub max_block: Duration,
    /// Admin tokens.
    pub tokens: Vec<Token>,
    /// Admin certificate rules, first match wins.
    pub certificates: Vec<CertificateRule>,
    /// Other tiers' admin listeners, followed for the dashboard.
    pub peers: Vec<super::peers::Peer>,
    /// The admin users file, loaded.
    pub users: Option<super::users::UsersFile>,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// Session cookies without `Secure` on a plain-HTTP listener.
    pub insecure_cookies: bool,
}

impl Default for AdminConfig {
    /// No credentials: only `/healthz`, `/readyz` and `/metrics` answer.
    fn default() -> Self {
        AdminConfig {
            protect_metrics: false,
            session_ttl: Duration::from_secs(8 * 3600),
            max_block: Duration::from_secs(24 * 3600),
            tokens: Vec::new(),
            certificates: Vec::new(),
            peers: Vec::new(),
            users: None,
            session_idle: Duration::from_secs(15 * 60),
            insecure_cookies: false,
        }
    }
}

const HASH_PREFIX: &str = "sha256:";

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hex = s.strip_prefix(HASH_PREFIX)?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// SHA-256 of a presented token.
pub(crate) fn token_hash(token: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AdminConfig {
    /// Validates `raw` (the section named `section`, usually `admin`), recording every
    /// problem with its key path. Relative peer file paths are taken from the current
    /// directory; [`AdminConfig::validate_in`] takes them from the config file's.
    pub fn validate(section: &str, raw: &RawAdminConfig, p: &mut Problems) -> Option<AdminConfig> {
        AdminConfig::validate_in(section, raw, std::path::Path::new(""), p)
    }

    /// [`AdminConfig::validate`] with relative paths resolved against `base`.
    pub fn validate_in(
        section: &str,
        raw: &RawAdminConfig,
        base: &std::path::Path,
        p: &mut Problems,
    ) -> Option<AdminConfig> {
        let defaults = AdminConfig::default();
        let mut ok = true;
        let session_ttl = p.duration_or(
            &format!("{section}.session_ttl"),
            raw.session_ttl.as_ref(),
            defaults.session_ttl,
        );
        if session_ttl < Duration::from_secs(60) || session_ttl > Duration::from_secs(7 * 86400) {
            p.push(
                format!("{section}.session_ttl"),
                "must be between 1m and 168h",
            );
            ok = false;
        }
        let max_block = p.duration_or(
            &format!("{section}.max_block"),
            raw.max_block.as_ref(),
            defaults.max_block,
        );
        if max_block.is_zero() {
            p.push(format!("{section}.max_block"), "must be more than 0s");
            ok = false;
        }
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        let mut tokens = Vec::new();
        for (i, t) in raw.tokens.iter().enumerate() {
            let key = |k: &str| format!("{section}.tokens[{i}].{k}");
            if !valid_name(&t.name) {
                p.push(key("name"), "1..=64 letters, digits, '-', '_', '.', '@'");
                ok = false;
            } else if !names.insert(t.name.clone()) {
                p.push(key("name"), format!("{:?} is used twice", t.name));
                ok = false;
            }
            let hash = parse_hash(&t.hash);
            match hash {
                None => {
                    // The value itself is not echoed: it may be a token pasted by mistake.
                    p.push(key("hash"), "must be \"sha256:\" and 64 hex digits");
                    ok = false;
                }
                Some(h) if !hashes.insert(h) => {
                    p.push(key("hash"), "the same token is configured twice");
                    ok = false;
                }
                Some(_) => {}
            }
            let role = t
                .role
                .parse::<Role>()
                .map_err(|e| p.push(key("role"), e))
                .ok();
            if let (Some(hash), Some(role)) = (hash, role) {
                tokens.push(Token {
                    name: t.name.clone(),
                    hash,
                    role,
                });
            } else {
                ok = false;
            }
        }
        let mut certificates = Vec::new();
        for (i, c) in raw.certificates.iter().enumerate() {
            let key = |k: &str| format!("{section}.certificates[{i}].{k}");
            let subject = c.subject.trim().to_ascii_lowercase();
            if subject.is_empty() || subject.len() > 253 {
                p.push(key("subject"), "a DNS name or common name is required");
                ok = false;
            }
            match c.role.parse::<Role>() {
                Ok(role) => certificates.push(CertificateRule { subject, role }),
                Err(e) => {
                    p.push(key("role"), e);
                    ok = false;
                }
            }
        }
        let peers = super::peers::validate(section, &raw.peers, base, p);
        ok &= peers.is_some();
        let session_idle = p.duration_or(
            &format!("{section}.session_idle"),
            raw.session_idle.as_ref(),
            defaults.session_idle,
        );
        if session_idle < Duration::from_secs(60) || session_idle > session_ttl {
            p.push(
                format!("{section}.session_idle"),
                "must be at least 1m and at most session_ttl",
            );
            ok = false;
        }
        let users = raw.users_file.as_ref().and_then(|f| {
            let path = rampart_core::config::resolve(base, std::path::Path::new(f));
            super::users::UsersFile::load(&path)
                .map_err(|e| p.push(format!("{section}.users_file"), e))
                .ok()
        });
        ok &= raw.users_file.is_none() || users.is_some();
        ok.then_some(AdminConfig {
            peers: peers.unwrap_or_default(),
            users,
            session_idle,
            insecure_cookies: raw.insecure_cookies.unwrap_or(false),
            protect_metrics: raw.protect_metrics.unwrap_or(false),
            session_ttl,
            max_block,
            tokens,
            certificates,
        })
    }

    /// The token whose hash matches, compared in constant time against every entry.
    pub(crate) fn token(&self, presented: &str) -> Option<&Token> {
        let hash = token_hash(presented);
        let mut found = None;
        for t in &self.tokens {
            if constant_time_eq(&t.hash, &hash) {
                found = Some(t);
            }
        }
        found
    }

    /// The role granted to a client certificate carrying `identities` (DNS SANs and CN).
    pub(crate) fn certificate_role(&self, identities: &[String]) -> Option<(&str, Role)> {
        self.certificates.iter().find_map(|rule| {
            identities
                .iter()
                .any(|id| id.eq_ignore_ascii_case(&rule.subject))
                .then_some((rule.subject.as_str(), rule.role))
        })
    }

    /// Whether any credential is configured (else the admin API refuses everyone).
    pub fn has_credentials(&self) -> bool {
        !self.tokens.is_empty()
            || !self.certificates.is_empty()
            || self.users.as_ref().is_some_and(|u| !u.current().is_empty())
    }

    /// How long sessions live.
    pub(crate) fn session_lifetime(&self) -> super::session::Lifetime {
        super::session::Lifetime {
            idle: self.session_idle.min(self.session_ttl),
            absolute: self.session_ttl,
        }
    }

    /// Whether session cookies carry `Secure` on a connection (`tls` or not).
    pub(crate) fn cookie_secure(&self, tls: bool) -> bool {
        tls || !self.insecure_cookies
    }

    /// The current role of a token name or user name (users first).
    pub(crate) fn role_of(&self, name: &str) -> Option<Role> {
        self.users
            .as_ref()
            .and_then(|u| u.current().role(name))
            .or_else(|| self.tokens.iter().find(|t| t.name == name).map(|t| t.role))
    }
}

/// Compares without an early exit, so timing says nothing about where bytes differ.
pub(crate) fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A fresh admin token for `name` with `role`, and the TOML to add to `[admin]`: the
/// token is shown once, only its hash is stored.
pub fn new_admin_token(name: &str, role: Role) -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = format!(
        "rpa_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let snippet = format!(
        "[[admin.tokens]]\nname = {}\nhash = \"{HASH_PREFIX}{}\"\nrole = \"{role}\"\n",
        crate::events::toml_string(name),
        hex(&token_hash(&token)),
    );
    (token, snippet)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn validate(text: &str) -> (Option<AdminConfig>, Vec<String>) {
        let raw: RawAdminConfig = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let config = AdminConfig::validate("admin", &raw, &mut p);
        let problems = match p.finish(std::path::Path::new("t.toml"), Some(())) {
            Ok(()) => Vec::new(),
            Err(e) => e.to_string().lines().skip(1).map(str::to_owned).collect(),
        };
        (config, problems)
    }

    #[test]
    fn a_generated_token_snippet_validates_and_authenticates() {
        let (token, snippet) = new_admin_token("ops", Role::Operator);
        assert!(token.starts_with("rpa_") && token.len() > 40);
        assert!(!snippet.contains(&token), "only the hash is stored");
        let doc: toml::Table = toml::from_str(&snippet).unwrap();
        let raw: RawAdminConfig = doc["admin"].clone().try_into().unwrap();
        let mut p = Problems::default();
        let config = AdminConfig::validate("admin", &raw, &mut p).unwrap();
        assert!(p.is_empty());
        assert_eq!(config.token(&token).map(|t| t.role), Some(Role::Operator));
        assert!(config.token("rpa_wrong").is_none());
        assert!(config.token(&token[..token.len() - 1]).is_none());
    }

    #[test]
    fn reports_every_problem_with_its_key_path() {
        let (config, problems) = validate(
            r#"
            session_ttl = "1s"
            tokens = [
              { name = "ops", hash = "sha256:abc", role = "operator" },
              { name = "ops", hash = "sha256:0000000000000000000000000000000000000000000000000000000000000000", role = "root" },
            ]
            certificates = [{ subject = "", role = "viewer" }]
            "#,
        );
        assert!(config.is_none());
        let joined = problems.join("\n");
        for key in [
            "admin.session_ttl",
            "admin.tokens[0].hash",
            "admin.tokens[1].name",
            "admin.tokens[1].role",
            "admin.certificates[0].subject",
        ] {
            assert!(joined.contains(key), "{key} missing in {joined}");
        }
        assert!(!joined.contains("sha256:abc"), "hash values are not echoed");
        assert!(toml::from_str::<RawAdminConfig>("tokenz = []").is_err());
    }

    #[test]
    fn certificates_map_by_san_or_cn_first_match_wins() {
        let (config, problems) = validate(
            r#"
            certificates = [
              { subject = "Alice.Ops.Example", role = "admin" },
              { subject = "monitor", role = "viewer" },
            ]
            "#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            config
                .certificate_role(&ids(&["alice.ops.example"]))
                .map(|r| r.1),
            Some(Role::Admin)
        );
        assert_eq!(
            config
                .certificate_role(&ids(&["x", "monitor"]))
                .map(|r| r.1),
            Some(Role::Viewer)
        );
        assert_eq!(
            config.certificate_role(&ids(&["alice.ops.example.evil"])),
            None
        );
    }
}
