//! Per-route authorization: which methods are accepted, which grants are required, and
//! the `WWW-Authenticate` challenges of a 401.
//!
//! ```toml
//! auth = { methods = ["api_key", "bearer"], scopes = ["orders:read"], roles = ["admin"],
//!          realm = "orders", api_key_header = "x-api-key", api_key_query = "api_key" }
//! ```
//!
//! `methods = []` (or no `auth`) makes the route public. Scopes are required **all of**
//! (each names a permission the call needs); roles **any of** (each names a kind of
//! caller that may call). The key is read from `api_key_header` (default `x-api-key`)
//! and, only when `api_key_query` is set, from that query parameter.

use http::{HeaderName, HeaderValue};
use rampart_core::check::Denial;
use rampart_core::config::Problems;
use rampart_core::problem::Reason;
use serde::Deserialize;

use crate::apikey::ApiKeySource;
use crate::apikey::file::check_label;
use crate::{CHECK_ID, Method, Principal};

const DEFAULT_REALM: &str = "rampart";
const DEFAULT_KEY_HEADER: &str = "x-api-key";

/// A route's `auth` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthPolicy {
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    realm: Option<String>,
    api_key_header: Option<String>,
    api_key_query: Option<String>,
}

/// A route's validated authorization policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    methods: Vec<Method>,
    scopes: Vec<String>,
    roles: Vec<String>,
    realm: String,
    api_key: ApiKeySource,
}

impl Default for AuthPolicy {
    /// A public route.
    fn default() -> Self {
        Self {
            methods: Vec::new(),
            scopes: Vec::new(),
            roles: Vec::new(),
            realm: DEFAULT_REALM.to_owned(),
            api_key: ApiKeySource {
                header: None,
                query: None,
            },
        }
    }
}

impl AuthPolicy {
    /// Validates `raw`, recording every problem under `key` (e.g. `routes[3].auth`).
    pub fn validate(p: &mut Problems, key: &str, raw: &RawAuthPolicy) -> Option<Self> {
        let mut ok = true;
        let mut methods = Vec::new();
        for (i, m) in raw.methods.iter().enumerate() {
            match m.parse::<Method>() {
                Ok(m) if methods.contains(&m) => {
                    fail(
                        p,
                        &mut ok,
                        format!("{key}.methods[{i}]"),
                        format!("{m} listed twice"),
                    );
                }
                Ok(m) => methods.push(m),
                Err(e) => fail(p, &mut ok, format!("{key}.methods[{i}]"), e),
            }
        }
        for (field, list) in [("scopes", &raw.scopes), ("roles", &raw.roles)] {
            for (i, v) in list.iter().enumerate() {
                if let Err(m) = check_label(v) {
                    fail(p, &mut ok, format!("{key}.{field}[{i}]"), m);
                }
            }
            if raw.methods.is_empty() && !list.is_empty() {
                fail(
                    p,
                    &mut ok,
                    format!("{key}.{field}"),
                    "a public route (no methods) cannot require grants",
                );
            }
        }
        let realm = raw
            .realm
            .clone()
            .unwrap_or_else(|| DEFAULT_REALM.to_owned());
        if realm.is_empty()
            || realm.len() > 128
            || !realm
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            fail(
                p,
                &mut ok,
                format!("{key}.realm"),
                "must be 1-128 printable ASCII characters without quotes or backslashes",
            );
        }
        let takes_keys = methods.contains(&Method::ApiKey);
        for (field, set) in [
            ("api_key_header", raw.api_key_header.is_some()),
            ("api_key_query", raw.api_key_query.is_some()),
        ] {
            if set && !takes_keys {
                fail(
                    p,
                    &mut ok,
                    format!("{key}.{field}"),
                    "set, but api_key is not among the methods",
                );
            }
        }
        let header = raw.api_key_header.as_deref().unwrap_or(DEFAULT_KEY_HEADER);
        let header = match HeaderName::try_from(header) {
            Ok(h) if h != http::header::AUTHORIZATION => Some(h),
            _ => {
                fail(
                    p,
                    &mut ok,
                    format!("{key}.api_key_header"),
                    format!("{header:?} is not a usable header name"),
                );
                None
            }
        };
        if let Some(q) = &raw.api_key_query
            && (q.is_empty()
                || q.len() > 64
                || !q
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)))
        {
            fail(
                p,
                &mut ok,
                format!("{key}.api_key_query"),
                "must be 1-64 unreserved URL characters",
            );
        }
        if !ok {
            return None;
        }
        Some(Self {
            api_key: ApiKeySource {
                header: if takes_keys { header } else { None },
                query: if takes_keys {
                    raw.api_key_query.clone()
                } else {
                    None
                },
            },
            methods,
            scopes: raw.scopes.clone(),
            roles: raw.roles.clone(),
            realm,
        })
    }

    /// True when the route needs no credentials.
    pub fn is_public(&self) -> bool {
        self.methods.is_empty()
    }

    /// True when the route accepts `method`.
    pub fn accepts(&self, method: Method) -> bool {
        self.methods.contains(&method)
    }

    /// The accepted methods, in config order.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// Where this route's API key is read from (both `None` when keys are not accepted).
    pub fn api_key_source(&self) -> &ApiKeySource {
        &self.api_key
    }

    /// Allows a verified caller, or refuses naming what was missing (for the audit log).
    /// A method the route does not accept is 401: the caller has not authenticated in a
    /// way that counts here. Missing grants are 403.
    pub fn authorize(&self, principal: &Principal) -> Result<(), Denial> {
        if self.is_public() {
            return Ok(());
        }
        if !self.accepts(principal.method) {
            return Err(Denial::new(CHECK_ID, Reason::Unauthenticated)
                .with_rule(format!("method-not-accepted:{}", principal.method)));
        }
        let missing: Vec<&str> = self
            .scopes
            .iter()
            .filter(|s| !principal.scopes.contains(s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Denial::new(CHECK_ID, Reason::Forbidden)
                .with_rule(format!("missing-scope:{}", missing.join(" "))));
        }
        if !self.roles.is_empty() && !self.roles.iter().any(|r| principal.roles.contains(r)) {
            return Err(Denial::new(CHECK_ID, Reason::Forbidden)
                .with_rule(format!("missing-role:{}", self.roles.join("|"))));
        }
        Ok(())
    }

    /// `WWW-Authenticate` values for a 401, one per accepted scheme (mTLS has none).
    /// `bad_token` adds RFC 6750's `error="invalid_token"` when a bearer token was
    /// presented but refused.
    pub fn challenges(&self, bad_token: bool) -> Vec<HeaderValue> {
        let realm = &self.realm;
        self.methods
            .iter()
            .filter_map(|m| match m {
                Method::Bearer if bad_token => {
                    Some(format!("Bearer realm=\"{realm}\", error=\"invalid_token\""))
                }
                Method::Bearer => Some(format!("Bearer realm=\"{realm}\"")),
                Method::Basic => Some(format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")),
                Method::ApiKey => Some(format!("ApiKey realm=\"{realm}\"")),
                Method::ClientCert => None,
            })
            .filter_map(|v| HeaderValue::try_from(v).ok())
            .collect()
    }

    /// The RFC 6750 challenge for a 403 to a bearer caller lacking scopes, when the route
    /// accepts bearer tokens and requires scopes.
    pub fn insufficient_scope(&self) -> Option<HeaderValue> {
        if !self.accepts(Method::Bearer) || self.scopes.is_empty() {
            return None;
        }
        let v = format!(
            "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
            self.realm,
            self.scopes.join(" ")
        );
        HeaderValue::try_from(v).ok()
    }
}

fn fail(p: &mut Problems, ok: &mut bool, key: String, message: impl std::fmt::Display) {
    p.push(key, message);
    *ok = false;
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
