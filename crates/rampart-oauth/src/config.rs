//! The `[oauth]` section: raw structs as written, validated into [`OAuthConfig`].
//!
//! ```toml
//! [oauth]
//! max_token_size = "8KiB"       # longer bearer tokens are refused before decoding
//! dpop_iat_window = "60s"
//! dpop_replay_capacity = 100000
//!
//! [[oauth.issuers]]
//! name = "corp"
//! issuer = "https://idp.corp.example/realms/api"   # exact `iss`
//! audience = "rampart-api"                          # must be in `aud`
//! discovery = true            # or: jwks_uri = "https://idp.corp.example/jwks"
//! ca = "/etc/rampart/idp-ca.pem"                    # roots for the IdP's HTTPS
//! leeway = "30s"
//! refresh_interval = "10m"
//! min_refresh_interval = "30s"  # at most one unknown-kid refresh per interval
//! timeout = "5s"
//! connect_timeout = "2s"
//! algorithms = ["RS256", "ES256"]   # optional allow-list (default: all asymmetric)
//! required_claims = ["tenant"]      # must be present
//! claim_values = { tenant = "acme" }  # must equal (or, for arrays, contain)
//!
//! [[oauth.issuers]]
//! name = "legacy"
//! issuer = "https://legacy.example"
//! audience = "rampart-api"
//! hmac_secret_file = "/etc/rampart/legacy.secret"  # then only HS256/384/512
//!
//! [oauth.introspection]           # RFC 7662, for opaque tokens
//! endpoint = "https://idp.corp.example/introspect"
//! client_id = "rampart-edge"
//! client_secret_file = "/etc/rampart/introspect.secret"
//! ca = "/etc/rampart/idp-ca.pem"
//! cache_ttl_max = "5m"
//! negative_ttl = "10s"
//! capacity = 10000
//! timeout = "3s"
//! audience = "rampart-api"        # optional
//! issuer = "https://idp.corp.example/realms/api"  # optional
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use rampart_core::config::Problems;
use rampart_core::units::ByteSize;
use serde::Deserialize;

use crate::Secret;
use crate::dpop::{DEFAULT_DPOP_IAT_WINDOW, DEFAULT_DPOP_REPLAY_CAPACITY};
use crate::fetch::{FetchLimits, is_https};
use crate::introspect::{DEFAULT_CAPACITY, IntrospectionPolicy};
use crate::jwk::Alg;
use crate::jwt::{ClaimRequirement, DEFAULT_MAX_TOKEN_BYTES, IssuerPolicy};
use crate::keys::{KeySource, RefreshPolicy};

const SECTION: &str = "oauth";
const MAX_LEEWAY: Duration = Duration::from_secs(300);
const MIN_HMAC_SECRET: usize = 32;
const MAX_SECRET_FILE: u64 = 4096;

/// `[oauth]` as written. Take it with `Sections::take("oauth", ..)`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth {
    max_token_size: Option<String>,
    dpop_iat_window: Option<String>,
    dpop_replay_capacity: Option<usize>,
    #[serde(default)]
    issuers: Vec<RawIssuer>,
    introspection: Option<RawIntrospection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    name: String,
    issuer: String,
    audience: String,
    #[serde(default)]
    discovery: bool,
    jwks_uri: Option<String>,
    ca: Option<PathBuf>,
    leeway: Option<String>,
    refresh_interval: Option<String>,
    min_refresh_interval: Option<String>,
    timeout: Option<String>,
    connect_timeout: Option<String>,
    max_keys: Option<usize>,
    hmac_secret_file: Option<PathBuf>,
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    required_claims: Vec<String>,
    #[serde(default)]
    claim_values: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntrospection {
    endpoint: String,
    client_id: String,
    client_secret_file: PathBuf,
    ca: PathBuf,
    cache_ttl_max: Option<String>,
    negative_ttl: Option<String>,
    capacity: Option<usize>,
    timeout: Option<String>,
    connect_timeout: Option<String>,
    leeway: Option<String>,
    audience: Option<String>,
    issuer: Option<String>,
}

/// The validated `[oauth]` section.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// Longest accepted bearer token.
    pub max_token_bytes: usize,
    /// Issuers of JWT access tokens, matched by exact `iss`.
    pub issuers: Vec<IssuerConfig>,
    /// Introspection for opaque tokens.
    pub introspection: Option<IntrospectionConfig>,
    /// Window around now for a DPoP proof's `iat`.
    pub dpop_iat_window: Duration,
    /// Remembered DPoP proof ids.
    pub dpop_replay_capacity: usize,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            issuers: Vec::new(),
            introspection: None,
            dpop_iat_window: DEFAULT_DPOP_IAT_WINDOW,
            dpop_replay_capacity: DEFAULT_DPOP_REPLAY_CAPACITY,
        }
    }
}

/// One issuer.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// Name for logs and metrics.
    pub name: String,
    /// What its tokens must satisfy.
    pub policy: IssuerPolicy,
    /// Where its keys come from; `None` for an HMAC issuer.
    pub keys: Option<IssuerKeys>,
}

/// How an issuer's keys are fetched.
#[derive(Debug, Clone)]
pub struct IssuerKeys {
    /// JWKS URI or discovery.
    pub source: KeySource,
    /// TLS towards the IdP (roots from `ca`).
    pub tls: Arc<rustls::ClientConfig>,
    /// Refresh timing and key cap.
    pub refresh: RefreshPolicy,
    /// Deadlines and body cap.
    pub limits: FetchLimits,
}

/// The introspection endpoint.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// `https://` endpoint.
    pub endpoint: Uri,
    /// Client id for `client_secret_basic`.
    pub client_id: String,
    /// Client secret (never printed).
    pub client_secret: Secret,
    /// TLS towards the IdP.
    pub tls: Arc<rustls::ClientConfig>,
    /// Validation and caching.
    pub policy: IntrospectionPolicy,
    /// Deadlines and body cap.
    pub limits: FetchLimits,
}

impl OAuthConfig {
    /// Validates `raw`, recording every problem under `oauth.*`. `None` when a problem was
    /// recorded.
    pub fn validate(p: &mut Problems, raw: &RawOAuth) -> Option<Self> {
        let before = p_count(p);
        let d = Self::default();
        let max_token_bytes = raw
            .max_token_size
            .as_ref()
            .and_then(|s| p.size(&format!("{SECTION}.max_token_size"), s))
            .map(ByteSize::as_usize)
            .unwrap_or(d.max_token_bytes);
        if !(256..=64 * 1024).contains(&max_token_bytes) {
            p.push(
                format!("{SECTION}.max_token_size"),
                "must be between 256 B and 64 KiB",
            );
        }
        let dpop_iat_window = p.duration_or(
            &format!("{SECTION}.dpop_iat_window"),
            raw.dpop_iat_window.as_ref(),
            d.dpop_iat_window,
        );
        let dpop_replay_capacity = raw.dpop_replay_capacity.unwrap_or(d.dpop_replay_capacity);
        if !(1..=10_000_000).contains(&dpop_replay_capacity) {
            p.push(
                format!("{SECTION}.dpop_replay_capacity"),
                "must be between 1 and 10000000",
            );
        }
        let mut issuers = Vec::new();
        for (i, raw) in raw.issuers.iter().enumerate() {
            let at = format!("{SECTION}.issuers[{i}]");
            if let Some(issuer) = validate_issuer(p, &at, raw) {
                if issuers.iter().any(|o: &IssuerConfig| o.name == issuer.name) {
                    p.push(format!("{at}.name"), "duplicate issuer name");
                } else if issuers
                    .iter()
                    .any(|o: &IssuerConfig| o.policy.issuer == issuer.policy.issuer)
                {
                    p.push(format!("{at}.issuer"), "issuer configured twice");
                } else {
                    issuers.push(issuer);
                }
            }
        }
        let introspection = raw
            .introspection
            .as_ref()
            .and_then(|raw| validate_introspection(p, raw));
        if p_count(p) != before {
            return None;
        }
        Some(Self {
            max_token_bytes,
            issuers,
            introspection,
            dpop_iat_window,
            dpop_replay_capacity,
        })
    }
}

/// A snapshot of the problems recorded so far: `Problems` exposes no count, and an entry
/// is left out when validating it added any problem.
fn p_count(p: &Problems) -> String {
    format!("{p:?}")
}

fn https_uri(p: &mut Problems, key: &str, raw: &str) -> Option<Uri> {
    match raw.parse::<Uri>() {
        Ok(uri) if is_https(&uri) => Some(uri),
        _ => {
            p.push(key, format!("{raw:?} is not an https:// URL"));
            None
        }
    }
}

fn tls(p: &mut Problems, key: &str, ca: Option<&Path>) -> Option<Arc<rustls::ClientConfig>> {
    let Some(ca) = ca else {
        p.push(key, "is required (roots for the identity provider's HTTPS)");
        return None;
    };
    let roots = rampart_tls::load_roots(ca)
        .map_err(|e| p.push(key, e))
        .ok()?;
    rampart_tls::upstream_client_config(roots)
        .map(Arc::new)
        .map_err(|e| p.push(key, e))
        .ok()
}

fn secret_file(p: &mut Problems, key: &str, path: &Path) -> Option<Secret> {
    let meta = std::fs::metadata(path)
        .map_err(|e| p.push(key, format!("{}: {e}", path.display())))
        .ok()?;
    if meta.len() > MAX_SECRET_FILE {
        p.push(
            key,
            format!("{}: larger than {MAX_SECRET_FILE} bytes", path.display()),
        );
        return None;
    }
    let mut bytes = std::fs::read(path)
        .map_err(|e| p.push(key, format!("{}: {e}", path.display())))
        .ok()?;
    // Editors add a final newline; it is never part of the secret.
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        p.push(key, format!("{}: empty", path.display()));
        return None;
    }
    Some(Secret::new(bytes))
}

fn limits(
    p: &mut Problems,
    at: &str,
    timeout: Option<&String>,
    connect_timeout: Option<&String>,
) -> FetchLimits {
    let d = FetchLimits::default();
    FetchLimits {
        timeout: p.duration_or(&format!("{at}.timeout"), timeout, d.timeout),
        connect_timeout: p.duration_or(
            &format!("{at}.connect_timeout"),
            connect_timeout,
            d.connect_timeout,
        ),
        max_body_bytes: d.max_body_bytes,
    }
}

fn validate_issuer(p: &mut Problems, at: &str, raw: &RawIssuer) -> Option<IssuerConfig> {
    let before = p_count(p);
    if raw.name.is_empty() {
        p.push(format!("{at}.name"), "must not be empty");
    }
    let _ = https_uri(p, &format!("{at}.issuer"), &raw.issuer);
    if raw.audience.is_empty() {
        p.push(format!("{at}.audience"), "must not be empty");
    }
    let leeway = p.duration_or(
        &format!("{at}.leeway"),
        raw.leeway.as_ref(),
        crate::jwt::DEFAULT_LEEWAY,
    );
    if leeway > MAX_LEEWAY {
        p.push(format!("{at}.leeway"), "must be at most 5m");
    }
    let mut policy = IssuerPolicy::new(&raw.issuer, &raw.audience);
    policy.leeway = leeway;
    // Decided by the key's presence, not by whether the file could be read: a broken
    // secret file must not make the issuer look like a JWKS issuer with other problems.
    let wants_hmac = raw.hmac_secret_file.is_some();
    let hmac = raw
        .hmac_secret_file
        .as_deref()
        .and_then(|path| secret_file(p, &format!("{at}.hmac_secret_file"), path));
    if let Some(secret) = hmac {
        if secret.expose().len() < MIN_HMAC_SECRET {
            p.push(
                format!("{at}.hmac_secret_file"),
                format!("secret shorter than {MIN_HMAC_SECRET} bytes"),
            );
        }
        policy = policy.with_hmac(secret);
    }
    if let Some(names) = &raw.algorithms {
        let mut algorithms = Vec::new();
        for (j, name) in names.iter().enumerate() {
            let key = format!("{at}.algorithms[{j}]");
            match Alg::from_name(name) {
                None => p.push(key, format!("{name:?} is not a supported algorithm")),
                Some(alg) if alg.is_hmac() != wants_hmac => p.push(
                    key,
                    if alg.is_hmac() {
                        "HMAC algorithms need hmac_secret_file"
                    } else {
                        "an issuer with hmac_secret_file accepts HMAC algorithms only"
                    },
                ),
                Some(alg) => algorithms.push(alg),
            }
        }
        if names.is_empty() {
            p.push(format!("{at}.algorithms"), "must not be empty");
        }
        policy.algorithms = algorithms;
    }
    for name in &raw.required_claims {
        policy.required_claims.push(ClaimRequirement {
            name: name.clone(),
            value: None,
        });
    }
    for (name, value) in &raw.claim_values {
        policy.required_claims.push(ClaimRequirement {
            name: name.clone(),
            value: Some(value.clone()),
        });
    }
    let keys = if wants_hmac {
        if raw.discovery || raw.jwks_uri.is_some() {
            p.push(
                format!("{at}.hmac_secret_file"),
                "an HMAC issuer takes no discovery or jwks_uri",
            );
        }
        None
    } else {
        let source = match (raw.discovery, &raw.jwks_uri) {
            (true, None) => Some(KeySource::Discovery),
            (false, Some(uri)) => {
                https_uri(p, &format!("{at}.jwks_uri"), uri).map(KeySource::JwksUri)
            }
            (true, Some(_)) => {
                p.push(format!("{at}.jwks_uri"), "set either discovery or jwks_uri");
                None
            }
            (false, None) => {
                p.push(
                    format!("{at}.jwks_uri"),
                    "one of discovery = true, jwks_uri or hmac_secret_file is required",
                );
                None
            }
        };
        let d = RefreshPolicy::default();
        let refresh = RefreshPolicy {
            refresh_interval: p.duration_or(
                &format!("{at}.refresh_interval"),
                raw.refresh_interval.as_ref(),
                d.refresh_interval,
            ),
            min_refresh_interval: p.duration_or(
                &format!("{at}.min_refresh_interval"),
                raw.min_refresh_interval.as_ref(),
                d.min_refresh_interval,
            ),
            max_keys: raw.max_keys.unwrap_or(d.max_keys),
        };
        if refresh.refresh_interval < Duration::from_secs(1) {
            p.push(format!("{at}.refresh_interval"), "must be at least 1s");
        }
        if !(1..=1000).contains(&refresh.max_keys) {
            p.push(format!("{at}.max_keys"), "must be between 1 and 1000");
        }
        let limits = limits(p, at, raw.timeout.as_ref(), raw.connect_timeout.as_ref());
        let tls = tls(p, &format!("{at}.ca"), raw.ca.as_deref());
        match (source, tls) {
            (Some(source), Some(tls)) => Some(IssuerKeys {
                source,
                tls,
                refresh,
                limits,
            }),
            _ => None,
        }
    };
    if p_count(p) != before {
        return None;
    }
    Some(IssuerConfig {
        name: raw.name.clone(),
        policy,
        keys,
    })
}

fn validate_introspection(p: &mut Problems, raw: &RawIntrospection) -> Option<IntrospectionConfig> {
    let at = format!("{SECTION}.introspection");
    let before = p_count(p);
    let endpoint = https_uri(p, &format!("{at}.endpoint"), &raw.endpoint);
    if raw.client_id.is_empty() || raw.client_id.chars().any(char::is_control) {
        p.push(
            format!("{at}.client_id"),
            "must be a non-empty printable string",
        );
    }
    let client_secret = secret_file(
        p,
        &format!("{at}.client_secret_file"),
        &raw.client_secret_file,
    );
    let tls = tls(p, &format!("{at}.ca"), Some(&raw.ca));
    let d = IntrospectionPolicy::default();
    let policy = IntrospectionPolicy {
        audience: raw.audience.clone(),
        issuer: raw.issuer.clone(),
        cache_ttl_max: p.duration_or(
            &format!("{at}.cache_ttl_max"),
            raw.cache_ttl_max.as_ref(),
            d.cache_ttl_max,
        ),
        negative_ttl: p.duration_or(
            &format!("{at}.negative_ttl"),
            raw.negative_ttl.as_ref(),
            d.negative_ttl,
        ),
        capacity: raw.capacity.unwrap_or(DEFAULT_CAPACITY),
        leeway: p.duration_or(&format!("{at}.leeway"), raw.leeway.as_ref(), d.leeway),
    };
    if !(1..=10_000_000).contains(&policy.capacity) {
        p.push(format!("{at}.capacity"), "must be between 1 and 10000000");
    }
    if policy.leeway > MAX_LEEWAY {
        p.push(format!("{at}.leeway"), "must be at most 5m");
    }
    let limits = limits(p, &at, raw.timeout.as_ref(), raw.connect_timeout.as_ref());
    if p_count(p) != before {
        return None;
    }
    Some(IntrospectionConfig {
        endpoint: endpoint?,
        client_id: raw.client_id.clone(),
        client_secret: client_secret?,
        tls: tls?,
        policy,
        limits,
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
