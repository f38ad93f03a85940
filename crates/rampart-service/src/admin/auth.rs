//! Who is calling the admin API: a bearer token, a client certificate or a dashboard
//! session cookie, mapped to a [`Role`].
//!
//! A presented token must be valid (a wrong token is refused even when the connection
//! carries a good certificate: the caller asked to be someone else). Sessions are created
//! by signing in with a token or as a user ([`super::login`]) and die with their owner:
//! each lookup re-checks that the token or user still exists in the running config, with
//! its current role.

use std::time::Instant;

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

use super::config::{AdminConfig, Role};
pub(crate) use super::session::SESSION_COOKIE;
use super::session::{Owner, Sessions};

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`.
    Token,
    /// A verified TLS client certificate.
    Certificate,
    /// A dashboard session cookie.
    Session,
    /// User name, password and TOTP code (the sign-in call itself).
    Login,
}

impl Via {
    /// For the audit record.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Token => "token",
            Via::Certificate => "certificate",
            Via::Session => "session",
            Via::Login => "password+totp",
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
        let owner = sessions
            .touch(id, config.session_lifetime(), Instant::now())
            .ok_or(Unauthenticated)?;
        // The owner must still be configured; its role may have changed since sign-in.
        let (name, role) = match owner {
            Owner::Token(name) => {
                let role = config
                    .tokens
                    .iter()
                    .find(|t| t.name == name)
                    .map(|t| t.role);
                (name, role)
            }
            Owner::User(name) => {
                let role = config.users.as_ref().and_then(|u| u.current().role(&name));
                (name, role)
            }
        };
        return Ok(Principal {
            name,
            role: role.ok_or(Unauthenticated)?,
            via: Via::Session,
        });
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
