//! Compact JWTs (`[Bearer ]eyJ….….…`): the views of their header and claims.

use super::b64;

/// The JOSE header of a compact JWT (`[Bearer ]eyJ….….…`), decoded: its `kid`, `jku` and
/// `x5u` are read by the server before any signature check (`kid` into a file path or SQL
/// lookup, `jku` fetched).
pub(crate) fn jwt_header(text: &str) -> Option<String> {
    let token = jwt_token(text)?;
    let mut segments = token.split('.');
    let (header, claims) = (segments.next()?, segments.next()?);
    let well_formed = segments.next().is_some()
        && segments.next().is_none()
        && header.len() >= 10
        && !claims.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !well_formed {
        return None;
    }
    b64::decode(header).filter(|h| h.trim_start().starts_with('{'))
}

/// The claims of a compact JWT, decoded, without the members whose value is a URL: an
/// application that reads `sub` or `role` into a query or a path before (or without)
/// checking the signature is injected through them, while issuer, audience and profile
/// URLs name internal identity providers in ordinary deployments.
pub(crate) fn jwt_claims(text: &str) -> Option<String> {
    jwt_header(text)?;
    let claims = jwt_token(text)?.split('.').nth(1)?;
    let decoded = b64::decode(claims)?;
    let serde_json::Value::Object(mut members) = serde_json::from_str(&decoded).ok()? else {
        return None;
    };
    members.retain(|_, v| !url_valued(v));
    Some(serde_json::Value::Object(members).to_string())
}

/// Whether a claim holds a URL, or only URLs (`aud` may be a list).
fn url_valued(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains("://"),
        serde_json::Value::Array(a) => !a.is_empty() && a.iter().all(url_valued),
        _ => false,
    }
}

/// The token of a value that may be a JWT: after an optional `Bearer ` scheme, starting
/// with `ey` (base64 of `{"` or `{ `) and holding a dot. Cheap: the fast path asks it of
/// every mixed-case value with a dot.
pub(crate) fn jwt_token(text: &str) -> Option<&str> {
    // Most values are settled by their first byte, without trimming when it is visible.
    let first = *text.as_bytes().first()?;
    if first.is_ascii_graphic() && !matches!(first, b'e' | b'b' | b'B') {
        return None;
    }
    let t = text.trim();
    if !matches!(t.as_bytes().first(), Some(b'e' | b'b' | b'B')) {
        return None;
    }
    let t = match t.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => t[7..].trim_start(),
        _ => t,
    };
    (t.starts_with("ey") && memchr::memchr(b'.', t.as_bytes()).is_some()).then_some(t)
}
