//! The caller's identity, as the edge verified it, told to the backend in headers.
//!
//! ```toml
//! [identity_headers]             # all optional; these are the defaults
//! subject = "x-rampart-subject"
//! method = "x-rampart-auth-method"
//! consumer = "x-rampart-consumer"
//! scopes = "x-rampart-scopes"   # space-separated, as in OAuth's `scope`
//! roles = "x-rampart-roles"
//! ```
//!
//! The backend may trust these headers only because every client copy of each
//! configured name is removed first, whether or not the request was authenticated.

use http::{HeaderMap, HeaderName, HeaderValue};
use rampart_core::config::Problems;
use rampart_proto::v1::Principal;
use serde::Deserialize;

/// `[identity_headers]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIdentityHeaders {
    subject: Option<String>,
    method: Option<String>,
    consumer: Option<String>,
    scopes: Option<String>,
    roles: Option<String>,
}

/// The header names the principal is written to.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    subject: HeaderName,
    method: HeaderName,
    consumer: HeaderName,
    scopes: HeaderName,
    roles: HeaderName,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        Self {
            subject: HeaderName::from_static("x-rampart-subject"),
            method: HeaderName::from_static("x-rampart-auth-method"),
            consumer: HeaderName::from_static("x-rampart-consumer"),
            scopes: HeaderName::from_static("x-rampart-scopes"),
            roles: HeaderName::from_static("x-rampart-roles"),
        }
    }
}

impl RawIdentityHeaders {
    pub(crate) fn validate(&self, p: &mut Problems) -> IdentityHeaders {
        let d = IdentityHeaders::default();
        let mut name = |key: &str, raw: Option<&String>, default: HeaderName| match raw {
            None => default,
            Some(raw) => match HeaderName::from_bytes(raw.as_bytes()) {
                Ok(n) if !is_reserved(&n) => n,
                Ok(_) => {
                    p.push(
                        format!("identity_headers.{key}"),
                        "names a header Rampart or HTTP already owns",
                    );
                    default
                }
                Err(_) => {
                    p.push(format!("identity_headers.{key}"), "is not a header name");
                    default
                }
            },
        };
        IdentityHeaders {
            subject: name("subject", self.subject.as_ref(), d.subject),
            method: name("method", self.method.as_ref(), d.method),
            consumer: name("consumer", self.consumer.as_ref(), d.consumer),
            scopes: name("scopes", self.scopes.as_ref(), d.scopes),
            roles: name("roles", self.roles.as_ref(), d.roles),
        }
    }
}

/// Headers whose meaning would change if Rampart overwrote them.
fn is_reserved(name: &HeaderName) -> bool {
    use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST};
    [HOST, CONTENT_LENGTH, CONTENT_TYPE, AUTHORIZATION, COOKIE].contains(name)
        || matches!(name.as_str(), "x-request-id" | "traceparent" | "forwarded")
        || name.as_str().starts_with("x-forwarded-")
}

impl IdentityHeaders {
    /// Removes every client copy of the identity headers, then writes `principal`'s.
    pub fn apply(&self, headers: &mut HeaderMap, principal: Option<&Principal>) {
        for name in self.names() {
            headers.remove(name);
        }
        let Some(p) = principal else { return };
        let mut set = |name: &HeaderName, value: &str| {
            if let Some(v) = header_value(value) {
                headers.insert(name.clone(), v);
            }
        };
        set(&self.subject, &p.subject);
        set(&self.method, &p.method);
        set(&self.consumer, &p.consumer);
        set(&self.scopes, &p.scopes.join(" "));
        set(&self.roles, &p.roles.join(" "));
    }

    fn names(&self) -> [&HeaderName; 5] {
        [
            &self.subject,
            &self.method,
            &self.consumer,
            &self.scopes,
            &self.roles,
        ]
    }
}

/// Longest value written; longer ones are cut.
const MAX_VALUE_BYTES: usize = 4096;

/// A value fit for a header: printable ASCII but `%` as is, every other byte `%XX`, so
/// a subject taken from a certificate or token can neither split nor smuggle headers,
/// and the backend can still recover it exactly. Empty values are left out.
fn header_value(value: &str) -> Option<HeaderValue> {
    if value.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(value.len().min(MAX_VALUE_BYTES));
    for b in value.bytes() {
        if out.len() + 3 > MAX_VALUE_BYTES {
            break;
        }
        if (b' '..=b'~').contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn principal() -> Principal {
        Principal {
            subject: "partner-a".into(),
            method: "api_key".into(),
            consumer: "partner-a".into(),
            scopes: vec!["orders:read".into(), "orders:write".into()],
            roles: Vec::new(),
        }
    }

    #[test]
    fn client_copies_are_removed_even_without_a_principal() {
        let mut h = HeaderMap::new();
        h.insert("x-rampart-subject", HeaderValue::from_static("admin"));
        h.insert("x-user", HeaderValue::from_static("admin"));
        let raw: RawIdentityHeaders = toml::from_str("subject = \"x-user\"").unwrap();
        let mut p = Problems::default();
        let headers = raw.validate(&mut p);
        assert!(p.is_empty());
        headers.apply(&mut h, None);
        assert!(h.get("x-user").is_none());
        // The default name is not ours any more, but the sanitizer removes every
        // x-rampart-* header before this runs anyway.
        assert!(h.get("x-rampart-subject").is_some());
    }

    #[test]
    fn principal_is_written_and_empty_fields_are_left_out() {
        let mut h = HeaderMap::new();
        h.insert("x-rampart-roles", HeaderValue::from_static("admin"));
        IdentityHeaders::default().apply(&mut h, Some(&principal()));
        assert_eq!(h["x-rampart-subject"], "partner-a");
        assert_eq!(h["x-rampart-auth-method"], "api_key");
        assert_eq!(h["x-rampart-scopes"], "orders:read orders:write");
        assert!(h.get("x-rampart-roles").is_none(), "client copy removed");
    }

    #[test]
    fn values_cannot_carry_control_characters() {
        for (input, want) in [
            ("alice", "alice"),
            ("CN=Alice, O=Example", "CN=Alice, O=Example"),
            ("bob\r\nx-admin: 1", "bob%0D%0Ax-admin: 1"),
            ("a\0b\x7f", "a%00b%7F"),
            ("100%", "100%25"),
            ("j\u{fc}rgen", "j%C3%BCrgen"),
        ] {
            assert_eq!(header_value(input).unwrap(), want, "{input:?}");
        }
        assert!(header_value(&"\n".repeat(10_000)).unwrap().len() <= MAX_VALUE_BYTES);
    }

    #[test]
    fn reserved_or_invalid_names_are_config_errors() {
        for (text, key) in [
            ("subject = \"host\"", "identity_headers.subject"),
            ("scopes = \"x-forwarded-for\"", "identity_headers.scopes"),
            ("roles = \"bad name\"", "identity_headers.roles"),
        ] {
            let raw: RawIdentityHeaders = toml::from_str(text).unwrap();
            let mut p = Problems::default();
            raw.validate(&mut p);
            assert!(format!("{p:?}").contains(key), "{text}: {p:?}");
        }
    }
}
