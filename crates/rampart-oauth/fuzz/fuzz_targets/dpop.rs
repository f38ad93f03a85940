//! DPoP proofs (RFC 9449) through `DpopVerifier::verify`. An accepted proof is a
//! `dpop+jwt` signed by the key the token is bound to, for this method and URI (query,
//! fragment, case of scheme and host and a default port aside), issued within the
//! window, for this access token, with a short non-empty `jti`; and it is accepted once.
//!
//! Input: `[mode]` then either proof text (even modes) or `header\nclaims` JSON that the
//! target encodes and signs with its Ed25519 key; `$JWK` in the header becomes that
//! key's public JWK and `$ATH` in the claims the access token's hash.
#![no_main]
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use libfuzzer_sys::fuzz_target;
use rampart_oauth::{DpopVerifier, TokenError, jwk_thumbprint};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Map, Value};

const NOW: u64 = 1_800_000_000;
const WINDOW: u64 = 60;
const METHOD: &str = "GET";
const URI: &str = "https://api.example/orders?page=2";
const TOKEN: &str = "access-token-1";

struct Fixture {
    key: Ed25519KeyPair,
    jwk: String,
    jkt: String,
    ath: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("seed");
        let jwk = format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
            B64.encode(key.public_key().as_ref())
        );
        let map: Map<String, Value> = serde_json::from_str(&jwk).expect("jwk");
        let jkt = jwk_thumbprint(&map).expect("thumbprint");
        let ath = B64.encode(ring::digest::digest(
            &ring::digest::SHA256,
            TOKEN.as_bytes(),
        ));
        Fixture { key, jwk, jkt, ath }
    })
}

fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice(bytes).ok()
}

/// `htu` names the request's resource: https, host `api.example`, port 443, `/orders`.
fn same_resource(htu: &str) -> bool {
    let base = htu.split(['?', '#']).next().unwrap_or(htu);
    let Some(rest) = base.get(..8).filter(|s| s.eq_ignore_ascii_case("https://")) else {
        return false;
    };
    let rest = &base[rest.len()..];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, ""));
    host.eq_ignore_ascii_case("api.example")
        && (port.is_empty() || port.parse::<u16>() == Ok(443))
        && path == "/orders"
}

/// Checks an accepted proof's header and claims with a plain JSON parser.
fn accepted_is_valid(header: &[u8], claims: &[u8]) -> Result<(), String> {
    let f = fixture();
    let header = object(header).ok_or("header is not an object")?;
    let claims = object(claims).ok_or("payload is not an object")?;
    let text =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    if text(&header, "typ").as_deref() != Some("dpop+jwt") {
        return Err("typ".into());
    }
    if text(&header, "alg").as_deref() != Some("EdDSA") || header.contains_key("crit") {
        return Err("alg or crit".into());
    }
    let jwk = header.get("jwk").and_then(Value::as_object).ok_or("jwk")?;
    if jwk.contains_key("d") || jwk_thumbprint(jwk).ok().as_ref() != Some(&f.jkt) {
        return Err("jwk".into());
    }
    if text(&claims, "htm").as_deref() != Some(METHOD) {
        return Err("htm".into());
    }
    if !text(&claims, "htu").is_some_and(|u| same_resource(&u)) {
        return Err(format!("htu {:?}", claims.get("htu")));
    }
    let iat = claims.get("iat").and_then(Value::as_f64).ok_or("iat")?;
    if !((NOW - WINDOW) as f64..=(NOW + WINDOW) as f64).contains(&iat) {
        return Err(format!("iat {iat}"));
    }
    if text(&claims, "ath").as_deref() != Some(f.ath.as_str()) {
        return Err("ath".into());
    }
    if !text(&claims, "jti").is_some_and(|j| (1..=256).contains(&j.len())) {
        return Err("jti".into());
    }
    Ok(())
}

fn check(proof: &str, header: &[u8], claims: &[u8]) {
    let verifier = DpopVerifier::new(Duration::from_secs(WINDOW), 4);
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let f = fixture();
    let verify = || verifier.verify(proof, METHOD, URI, TOKEN, &f.jkt, now);
    let Ok(got) = verify() else {
        return;
    };
    if let Err(why) = accepted_is_valid(header, claims) {
        panic!("accepted although {why}: {proof}");
    }
    assert_eq!(got.jkt, f.jkt);
    assert_eq!(
        verify(),
        Err(TokenError::DpopReplayed),
        "replayed proof accepted"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let proof = String::from_utf8_lossy(rest);
        let parts: Vec<Vec<u8>> = proof
            .split('.')
            .filter_map(|p| B64.decode(p).ok())
            .collect();
        match &parts[..] {
            [header, claims, _] if proof.split('.').count() == 3 => check(&proof, header, claims),
            _ => check(&proof, b"", b""),
        }
        return;
    }
    let f = fixture();
    let (header, claims) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let header = String::from_utf8_lossy(header).replace("$JWK", &f.jwk);
    let claims = String::from_utf8_lossy(claims).replace("$ATH", &f.ath);
    let input = format!("{}.{}", B64.encode(&header), B64.encode(&claims));
    let sig = f.key.sign(input.as_bytes());
    let proof = format!("{input}.{}", B64.encode(sig.as_ref()));
    check(&proof, header.as_bytes(), claims.as_bytes());
});
