//! Who is calling the admin API: a bearer token, a client certificate or a dashboard
//! session cookie, mapped to a [`Role`].
//!
//! A presented token must be valid (a wrong token is refused even when the connection
//! carries a good certificate: the caller asked to be someone else). Sessions are created
//! by signing in with a token and die with it: each lookup re-checks that the token still
//! exists in the running config, with its current role.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

use super::config::{AdminConfig, Role, token_hash};

/// The cookie carrying a dashboard session.
pub(crate) const SESSION_COOKIE: &str = "rampart_admin";
/// Dashboard sessions kept at most.
const MAX_SESSIONS: usize = 256;

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`.
    Token,
    /// A verified TLS client certificate.
    Certificate,
    /// A dashboard session cookie.
    Session,
}

impl Via {
    /// For the audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Token => "token",
            Via::Certificate => "certificate",
            Via::Session => "session",
        }
    }
}

/// An authenticated admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token name or certificate subject.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// How they authenticated.
    pub via: Via,
}

/// Authentication failed. Deliberately without detail: the response says 401 and no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthenticated;

/// Finds the caller. `identities` are the DNS SANs and CN of a verified client
/// certificate (empty without one).
pub(crate) fn authenticate(
    headers: &HeaderMap,
    identities: &[String],
    config: &AdminConfig,
    sessions: &Sessions,
) -> Result<Principal, Unauthenticated> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(Unauthenticated)?;
        let t = config.token(token).ok_or(Unauthenticated)?;
        return Ok(Principal {
            name: t.name.clone(),
            role: t.role,
            via: Via::Token,
        });
    }
    if let Some((subject, role)) = config.certificate_role(identities) {
        return Ok(Principal {
            name: subject.to_owned(),
            role,
            via: Via::Certificate,
        });
    }
    if let Some(id) = session_cookie(headers) {
        return sessions.lookup(id, config).ok_or(Unauthenticated);
    }
    Err(Unauthenticated)
}

/// The session id from the `Cookie` headers.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

struct Session {
    token_name: String,
    expires: Instant,
}

/// Dashboard sessions, keyed by the SHA-256 of their id (a lookup leaks nothing useful
/// through timing, and a memory dump holds no usable cookie).
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for the holder of token `token_name`; returns the cookie value.
    pub(crate) fn create(&self, token_name: &str, ttl: Duration) -> String {
        let bytes: [u8; 32] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut map = self.map();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            // Full of live sessions: the one closest to expiry goes.
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(
            token_hash(&id),
            Session {
                token_name: token_name.to_owned(),
                expires: now + ttl,
            },
        );
        id
    }

    fn lookup(&self, id: &str, config: &AdminConfig) -> Option<Principal> {
        let key = token_hash(id);
        let mut map = self.map();
        let session = map.get(&key)?;
        if session.expires <= Instant::now() {
            map.remove(&key);
            return None;
        }
        // The token must still be configured; its role may have changed since sign-in.
        let token = config
            .tokens
            .iter()
            .find(|t| t.name == session.token_name)?;
        Some(Principal {
            name: token.name.clone(),
            role: token.role,
            via: Via::Session,
        })
    }

    /// Ends a session.
    pub(crate) fn remove(&self, id: &str) {
        self.map().remove(&token_hash(id));
    }
}

/// The DNS SANs and common names of a DER certificate.
pub(crate) fn certificate_identities(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                out.push((*dns).to_owned());
            }
        }
    }
    for cn in cert.subject().iter_common_name() {
        if let Ok(cn) = cn.as_str() {
            out.push(cn.to_owned());
        }
    }
    out.truncate(32);
    out
}
