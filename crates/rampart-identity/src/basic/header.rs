//! Strict parsing of `Authorization: Basic <base64(user:password)>` (RFC 7617).

use std::fmt;

use base64::Engine as _;

use super::BasicRejection;

/// Longest user name accepted, in bytes.
pub const MAX_USER_BYTES: usize = 256;
/// Longest password accepted, in bytes: argon2 takes any length, the cap bounds the work.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest header value: `Basic `, and base64 of a user, a colon and a password.
const MAX_VALUE_BYTES: usize = 6 + (MAX_USER_BYTES + 1 + MAX_PASSWORD_BYTES).div_ceil(3) * 4;

/// A user name and password as sent. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
}

impl Credentials {
    /// Credentials from parts (for callers that got them elsewhere, and tests).
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

fn malformed(why: &'static str) -> BasicRejection {
    BasicRejection::Malformed { why }
}

/// Parses an `Authorization` value. A value of another scheme is [`BasicRejection::NotBasic`]
/// so the caller can try its other schemes.
pub fn parse_authorization(value: &[u8]) -> Result<Credentials, BasicRejection> {
    let Some((scheme, rest)) = split_scheme(value) else {
        return Err(BasicRejection::NotBasic);
    };
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err(BasicRejection::NotBasic);
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(malformed("too long"));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest)
        .map_err(|_| malformed("not canonical base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| malformed("not UTF-8"))?;
    let (user, password) = text.split_once(':').ok_or(malformed("no colon"))?;
    if user.is_empty() || user.len() > MAX_USER_BYTES {
        return Err(malformed("user name empty or too long"));
    }
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(malformed("password empty or too long"));
    }
    if user.chars().any(char::is_control) || password.chars().any(char::is_control) {
        return Err(malformed("control character"));
    }
    Ok(Credentials::new(user, password))
}

/// `scheme 1*SP token68`; `None` when there is no space or nothing after it.
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let rest = rest.trim_ascii_start();
    (!scheme.is_empty() && !rest.is_empty()).then_some((scheme, rest))
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
