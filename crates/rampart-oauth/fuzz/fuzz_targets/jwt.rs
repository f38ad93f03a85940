//! JWT access tokens through the edge's entry point (`OAuth::verify_bearer`, one HMAC
//! issuer). An accepted token's claims really satisfy the policy, read back by a plain
//! JSON parser: `iss`, `aud`, `exp`/`nbf`/`iat` with the leeway, a string `sub`, an
//! HS `alg` (the one it was signed with) and no `crit`; when one fails, it is refused.
//! A header and payload that parse are the JSON the reference parser reads.
//!
//! Input: `[mode]` then either token text (even modes) or `header\nclaims` JSON that the
//! target encodes and signs with the issuer's secret (or, rarely, another one).
#![no_main]
use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use libfuzzer_sys::fuzz_target;
use rampart_oauth::jwt::DEFAULT_MAX_TOKEN_BYTES;
use rampart_oauth::{
    IssuerConfig, IssuerPolicy, Jws, OAuth, OAuthConfig, Secret, TokenError, VerifiedToken,
};
use serde_json::{Map, Value};

const NOW: u64 = 1_800_000_000;
const LEEWAY: u64 = 30;
const ISS: &str = "https://idp.test";
const AUD: &str = "rampart";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const HS: [(&str, ring::hmac::Algorithm); 3] = [
    ("HS256", ring::hmac::HMAC_SHA256),
    ("HS384", ring::hmac::HMAC_SHA384),
    ("HS512", ring::hmac::HMAC_SHA512),
];

fn oauth() -> &'static OAuth {
    static OAUTH: OnceLock<OAuth> = OnceLock::new();
    OAUTH.get_or_init(|| {
        let mut policy = IssuerPolicy::new(ISS, AUD).with_hmac(Secret::new(SECRET.to_vec()));
        policy.leeway = Duration::from_secs(LEEWAY);
        OAuth::new(&OAuthConfig {
            issuers: vec![IssuerConfig {
                name: "fuzz".into(),
                policy,
                keys: None,
            }],
            ..OAuthConfig::default()
        })
    })
}

fn verify(token: &str) -> Result<VerifiedToken, TokenError> {
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let fut = std::pin::pin!(oauth().verify_bearer(token, now));
    match fut.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("an HMAC issuer has nothing to wait for"),
    }
}

fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice(bytes).ok()
}

/// A NumericDate no later than `limit` seconds.
fn time_until(claims: &Map<String, Value>, name: &str, limit: u64) -> Result<(), String> {
    match claims.get(name) {
        None => Ok(()),
        Some(v) => match v.as_f64() {
            Some(t) if t <= limit as f64 => Ok(()),
            _ => Err(format!("{name} {v}")),
        },
    }
}

/// Why a token with this header and payload must be refused (`alg`: what signed it).
fn must_refuse(header: &[u8], claims: &[u8], alg: Option<&str>) -> Result<(), String> {
    let header = object(header).ok_or("header is not an object")?;
    let claims = object(claims).ok_or("payload is not an object")?;
    let named = header.get("alg").and_then(Value::as_str);
    if !named.is_some_and(|a| HS.iter().any(|(n, _)| *n == a)) {
        return Err(format!("alg {named:?}"));
    }
    if alg.is_some_and(|a| Some(a) != named) {
        return Err(format!("signed with {alg:?}, header says {named:?}"));
    }
    if header.contains_key("crit") {
        return Err("crit".into());
    }
    if claims.get("iss").and_then(Value::as_str) != Some(ISS) {
        return Err("iss".into());
    }
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => a == AUD,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(AUD)),
        _ => false,
    };
    if !aud {
        return Err("aud".into());
    }
    match claims.get("exp").and_then(Value::as_f64) {
        Some(exp) if exp >= (NOW - LEEWAY) as f64 => {}
        exp => return Err(format!("exp {exp:?}")),
    }
    time_until(&claims, "nbf", NOW + LEEWAY)?;
    time_until(&claims, "iat", NOW + LEEWAY)?;
    if !claims.get("sub").is_some_and(Value::is_string) {
        return Err("sub".into());
    }
    Ok(())
}

/// The oracle, given the token's header and payload bytes.
fn check(token: &str, header: &[u8], claims: &[u8], alg: Option<&str>) {
    let got = verify(token);
    if let Ok(jws) = Jws::parse(token, DEFAULT_MAX_TOKEN_BYTES) {
        assert_eq!(
            Some(&jws.header),
            object(header).as_ref(),
            "header read differently"
        );
        assert_eq!(
            Some(&jws.claims),
            object(claims).as_ref(),
            "claims read differently"
        );
    }
    if let Err(why) = must_refuse(header, claims, alg) {
        assert!(got.is_err(), "accepted although {why}: {token}");
    }
    if let Ok(v) = got {
        let claims = object(claims).expect("accepted claims parse");
        assert_eq!(Some(v.subject.as_str()), claims["sub"].as_str());
        assert_eq!(v.issuer, ISS);
        let exp = claims["exp"].as_f64().expect("numeric exp");
        assert_eq!(v.expires_at, UNIX_EPOCH + Duration::from_secs_f64(exp));
    }
}

fn sign(input: &str, alg: ring::hmac::Algorithm, secret: &[u8]) -> String {
    let tag = ring::hmac::sign(&ring::hmac::Key::new(alg, secret), input.as_bytes());
    format!("{input}.{}", B64.encode(tag.as_ref()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let token = String::from_utf8_lossy(rest);
        let parts: Vec<&str> = token.split('.').collect();
        let decoded: Vec<Vec<u8>> = parts.iter().filter_map(|p| B64.decode(p).ok()).collect();
        match (parts.len(), &decoded[..]) {
            (3, [header, claims, _]) => check(&token, header, claims, None),
            _ => assert!(
                verify(&token).is_err(),
                "accepted a token that does not decode"
            ),
        }
        return;
    }
    let (header, claims) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let (name, alg) = HS[usize::from(mode / 2 % 3)];
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    if mode / 6 % 8 == 7 {
        let token = sign(&input, alg, b"not-the-secret-not-the-secret!!!");
        assert!(
            verify(&token).is_err(),
            "accepted another secret's signature"
        );
        return;
    }
    check(&sign(&input, alg, SECRET), header, claims, Some(name));
});
