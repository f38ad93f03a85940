//! Sender-constrained tokens: RFC 8705 certificate binding and RFC 9449 DPoP proofs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use http::Uri;
use serde_json::Value;

use crate::error::TokenError;
use crate::json::b64url;
use crate::jwk::{Alg, Jwk};
use crate::jwt::{Jws, VerifiedToken, string_claim, time_claim};

/// Default window around `now` in which a proof's `iat` must fall.
pub const DEFAULT_DPOP_IAT_WINDOW: Duration = Duration::from_secs(60);
/// Default number of remembered proof ids.
pub const DEFAULT_DPOP_REPLAY_CAPACITY: usize = 100_000;
/// Cap on a proof's length.
pub const MAX_DPOP_PROOF_BYTES: usize = 4 * 1024;

/// RFC 8705: a token with `cnf.x5t#S256` is only good with that client certificate.
/// A token without a certificate binding passes whatever the connection presented.
pub fn check_certificate_binding(
    token: &VerifiedToken,
    client_cert_der: Option<&[u8]>,
) -> Result<(), TokenError> {
    let Some(want) = token.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref()) else {
        return Ok(());
    };
    let cert = client_cert_der.ok_or(TokenError::CertificateMissing)?;
    let have = b64url(ring::digest::digest(&ring::digest::SHA256, cert).as_ref());
    if have == want {
        Ok(())
    } else {
        Err(TokenError::CertificateMismatch)
    }
}

/// The RFC 7638 thumbprint of a public JWK (what a DPoP-bound token's `cnf.jkt` holds).
pub fn jwk_thumbprint(jwk: &serde_json::Map<String, Value>) -> Result<String, TokenError> {
    Jwk::from_map(jwk)
        .map(|k| k.key.thumbprint())
        .map_err(|_| TokenError::DpopInvalid("jwk unusable"))
}

/// What a valid proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// RFC 7638 thumbprint of the proof key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
}

/// Checks DPoP proofs and remembers their ids to refuse replays.
pub struct DpopVerifier {
    iat_window: Duration,
    capacity: usize,
    /// SHA-256(jkt || 0 || jti) -> when the entry may be forgotten.
    seen: Mutex<HashMap<[u8; 32], SystemTime>>,
}

impl std::fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("iat_window", &self.iat_window)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for DpopVerifier {
    fn default() -> Self {
        Self::new(DEFAULT_DPOP_IAT_WINDOW, DEFAULT_DPOP_REPLAY_CAPACITY)
    }
}

impl DpopVerifier {
    /// A verifier accepting proofs issued within `iat_window` of now, remembering at most
    /// `capacity` proof ids.
    pub fn new(iat_window: Duration, capacity: usize) -> Self {
        Self {
            iat_window,
            capacity: capacity.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Checks `proof` (the `DPoP` header) for a request `method` to `htu` carrying
    /// `access_token` bound to `expected_jkt` (the token's `cnf.jkt`).
    pub fn verify(
        &self,
        proof: &str,
        method: &str,
        htu: &str,
        access_token: &str,
        expected_jkt: &str,
        now: SystemTime,
    ) -> Result<DpopProof, TokenError> {
        let bad = TokenError::DpopInvalid;
        let jws = Jws::parse(proof, MAX_DPOP_PROOF_BYTES).map_err(|e| match e {
            TokenError::Oversized { .. } => bad("proof too long"),
            _ => bad("malformed proof"),
        })?;
        if jws.typ.as_deref() != Some("dpop+jwt") {
            return Err(bad("typ is not dpop+jwt"));
        }
        let alg = Alg::from_name(&jws.alg)
            .filter(|a| !a.is_hmac())
            .ok_or(bad("alg not asymmetric"))?;
        let jwk = jws
            .header
            .get("jwk")
            .and_then(Value::as_object)
            .ok_or(bad("jwk missing"))?;
        // Refuses private members, unknown types and a jwk.alg that differs.
        let key = Jwk::from_map(jwk).map_err(|_| bad("jwk unusable"))?;
        if !key.accepts(alg) {
            return Err(bad("alg does not fit the jwk"));
        }
        if !key
            .key
            .verify(alg, jws.signing_input.as_bytes(), &jws.signature)
        {
            return Err(bad("signature"));
        }
        let claims = &jws.claims;
        if string_claim(claims, "htm").ok().flatten() != Some(method) {
            return Err(bad("htm does not match the method"));
        }
        let proof_htu = string_claim(claims, "htu")
            .ok()
            .flatten()
            .ok_or(bad("htu missing"))?;
        if !same_target(proof_htu, htu) {
            return Err(bad("htu does not match the request"));
        }
        let iat = time_claim(claims, "iat")
            .ok()
            .flatten()
            .ok_or(bad("iat missing"))?;
        if iat > now + self.iat_window || iat + self.iat_window < now {
            return Err(bad("iat outside the window"));
        }
        let want_ath =
            b64url(ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes()).as_ref());
        if string_claim(claims, "ath").ok().flatten() != Some(want_ath.as_str()) {
            return Err(bad("ath does not match the access token"));
        }
        let jkt = key.key.thumbprint();
        if jkt != expected_jkt {
            return Err(bad("key is not the one the token is bound to"));
        }
        let jti = string_claim(claims, "jti")
            .ok()
            .flatten()
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(bad("jti missing"))?
            .to_owned();
        // Checked last so that invalid proofs cannot fill the replay cache.
        self.remember(&jkt, &jti, iat + self.iat_window, now)?;
        Ok(DpopProof { jkt, jti })
    }

    fn remember(
        &self,
        jkt: &str,
        jti: &str,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<(), TokenError> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(jkt.as_bytes());
        ctx.update(&[0]);
        ctx.update(jti.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| TokenError::DpopInvalid("replay cache unavailable"))?;
        if seen.get(&key).is_some_and(|until| *until >= now) {
            return Err(TokenError::DpopReplayed);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until >= now);
        }
        if seen.len() >= self.capacity {
            // Forgetting a live id would allow a replay: refuse instead (fail closed).
            return Err(TokenError::DpopInvalid("replay cache full"));
        }
        seen.insert(key, until);
        Ok(())
    }
}

/// RFC 9449 4.3: `htu` matches the request URI without query and fragment; scheme and
/// host compare case-insensitively and a default port equals no port.
fn same_target(proof_htu: &str, request: &str) -> bool {
    fn parts(uri: &str) -> Option<(String, String, u16, String)> {
        let uri = uri.split(['?', '#']).next().unwrap_or(uri);
        let uri: Uri = uri.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = uri.host()?.to_ascii_lowercase();
        let authority = uri.authority()?.as_str();
        // `host()` drops userinfo, but a request URI has none: it names another URI.
        if authority.contains('@') {
            return None;
        }
        let port = match (written_port(authority)?, scheme.as_str()) {
            (Some(port), _) => port,
            (None, "https") => 443,
            (None, "http") => 80,
            (None, _) => return None,
        };
        let path = match uri.path() {
            "" => "/".to_owned(),
            p => p.to_owned(),
        };
        Some((scheme, host, port, path))
    }
    match (parts(proof_htu), parts(request)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The port in `authority`, `Some(None)` when there is none or it is empty; `None` when
/// it is not digits. `Uri` reads `:44z` as no port and `:+443` as 443, which would then
/// pass for the default.
fn written_port(authority: &str) -> Option<Option<u16>> {
    let after_host = &authority[authority.rfind(']').map_or(0, |i| i + 1)..];
    match after_host.split_once(':') {
        None | Some((_, "")) => Some(None),
        Some((_, p)) if p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok().map(Some),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::UNIX_EPOCH;

    use ring::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    use super::*;
    use crate::jwk::PublicKey;

    fn proof(key: &Ed25519KeyPair, jti: &str, iat: u64, token: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {
            "kty": "OKP", "crv": "Ed25519", "x": b64url(key.public_key().as_ref())}});
        let ath = b64url(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
        let claims =
            json!({"jti": jti, "htm": "GET", "htu": "https://a.test/x", "iat": iat, "ath": ath});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        format!("{input}.{}", b64url(key.sign(input.as_bytes()).as_ref()))
    }

    #[test]
    fn replay_cache_is_bounded_and_refuses_rather_than_forgets() {
        let rng = ring::rand::SystemRandom::new();
        let key =
            Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref())
                .unwrap();
        let jkt = PublicKey::Ed25519(key.public_key().as_ref().to_vec()).thumbprint();
        let verifier = DpopVerifier::new(Duration::from_secs(60), 2);
        let t0 = 1_800_000_000;
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let check = |jti: &str, iat: u64, now: u64| {
            verifier
                .verify(
                    &proof(&key, jti, iat, "tok"),
                    "GET",
                    "https://a.test/x?q",
                    "tok",
                    &jkt,
                    at(now),
                )
                .map(|p| p.jti)
        };
        assert_eq!(check("a", t0, t0), Ok("a".to_owned()));
        assert_eq!(check("a", t0, t0 + 1), Err(TokenError::DpopReplayed));
        assert_eq!(check("b", t0, t0 + 1), Ok("b".to_owned()));
        assert_eq!(
            check("c", t0, t0 + 2),
            Err(TokenError::DpopInvalid("replay cache full"))
        );
        // Once the first proofs can no longer be replayed (iat window over), room returns.
        assert_eq!(check("c", t0 + 100, t0 + 100), Ok("c".to_owned()));
        // A stolen proof cannot be replayed after its window either: iat is too old.
        assert_eq!(
            check("a", t0, t0 + 100),
            Err(TokenError::DpopInvalid("iat outside the window"))
        );
    }

    #[test]
    fn htu_comparison_ignores_query_case_and_default_port_only() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "https://api.example/orders",
                "https://api.example/orders?x=1",
                true,
            ),
            (
                "https://API.example/orders",
                "https://api.example:443/orders",
                true,
            ),
            (
                "https://api.example/orders#f",
                "https://api.example/orders",
                true,
            ),
            (
                "https://api.example/orders",
                "https://api.example/orders/",
                false,
            ),
            (
                "https://api.example/orders",
                "http://api.example/orders",
                false,
            ),
            (
                "https://api.example/orders",
                "https://api.example:8443/orders",
                false,
            ),
            // a port that is not a number is not the default port (fuzz: dpop)
            (
                "https://api.example:44z/orders",
                "https://api.example/orders",
                false,
            ),
            (
                "https://api.example:+443/orders",
                "https://api.example/orders",
                false,
            ),
            // userinfo is part of the URI the proof names
            (
                "https://x@api.example/orders",
                "https://api.example/orders",
                false,
            ),
            ("https://[2001:db8::1]:443/", "https://[2001:db8::1]/", true),
            (
                "https://api.example:/orders",
                "https://api.example/orders",
                true,
            ),
            (
                "https://api.example/Orders",
                "https://api.example/orders",
                false,
            ),
            (
                "https://evil.example/orders",
                "https://api.example/orders",
                false,
            ),
            ("/orders", "https://api.example/orders", false),
        ];
        for (proof, request, want) in cases {
            assert_eq!(same_target(proof, request), *want, "{proof} vs {request}");
        }
    }
}
