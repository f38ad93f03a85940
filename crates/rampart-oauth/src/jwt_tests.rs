#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_pass_by_value
)]

use std::time::{Duration, UNIX_EPOCH};

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::json;

use super::*;
use crate::Secret;
use crate::json::b64url;
use crate::jwk::{Jwk, PublicKey};

const NOW: u64 = 1_800_000_000;
const ISS: &str = "https://idp.test";
const AUD: &str = "rampart";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

struct Keys {
    ed: Ed25519KeyPair,
    es: EcdsaKeyPair,
    set: JwkSet,
}

fn keys() -> Keys {
    let rng = SystemRandom::new();
    let ed =
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
    let es_doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let es =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, es_doc.as_ref(), &rng).unwrap();
    let set = JwkSet {
        keys: vec![
            Jwk {
                kid: Some("ed".into()),
                alg: None,
                key: PublicKey::Ed25519(ed.public_key().as_ref().to_vec()),
            },
            Jwk {
                kid: Some("es".into()),
                alg: Some(Alg::Es256),
                key: PublicKey::P256(es.public_key().as_ref().to_vec()),
            },
        ],
    };
    Keys { ed, es, set }
}

fn encode(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

fn sign_ed(keys: &Keys, header: Value, claims: Value) -> String {
    let input = encode(&header, &claims);
    let sig = keys.ed.sign(input.as_bytes());
    format!("{input}.{}", b64url(sig.as_ref()))
}

fn sign_es(keys: &Keys, header: Value, claims: Value) -> String {
    let input = encode(&header, &claims);
    let sig = keys
        .es
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap();
    format!("{input}.{}", b64url(sig.as_ref()))
}

fn sign_hs(secret: &[u8], alg: &str, claims: Value) -> String {
    let input = encode(&json!({"alg": alg, "typ": "JWT"}), &claims);
    let algorithm = Alg::from_name(alg).unwrap().hmac().unwrap();
    let tag = ring::hmac::sign(&ring::hmac::Key::new(algorithm, secret), input.as_bytes());
    format!("{input}.{}", b64url(tag.as_ref()))
}

fn claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "alice", "exp": NOW + 300, "iat": NOW - 10,
        "scope": "orders:read orders:write", "client_id": "cli", "jti": "j1",
    })
}

fn with(overrides: Value) -> Value {
    let mut c = claims();
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn verify(policy: &IssuerPolicy, keys: &Keys, token: &str) -> Result<VerifiedToken, TokenError> {
    let jws = Jws::parse(token, DEFAULT_MAX_TOKEN_BYTES)?;
    policy.verify(&jws, Some(&keys.set), now())
}

fn ed_header() -> Value {
    json!({"alg": "EdDSA", "kid": "ed", "typ": "at+jwt"})
}

#[test]
fn accepts_a_good_token_and_reads_its_claims() {
    let k = keys();
    let policy = IssuerPolicy::new(ISS, AUD);
    let token = sign_ed(&k, ed_header(), with(json!({"cnf": {"jkt": "abc"}})));
    let v = verify(&policy, &k, &token).unwrap();
    assert_eq!(v.subject, "alice");
    assert_eq!(v.issuer, ISS);
    assert_eq!(v.client_id.as_deref(), Some("cli"));
    assert_eq!(v.scopes, ["orders:read", "orders:write"]);
    assert_eq!(v.expires_at, UNIX_EPOCH + Duration::from_secs(NOW + 300));
    assert_eq!(v.jti.as_deref(), Some("j1"));
    assert_eq!(v.dpop_jkt(), Some("abc"));
    let es = sign_es(&k, json!({"alg": "ES256", "kid": "es"}), claims());
    assert!(verify(&policy, &k, &es).is_ok());
}

#[test]
fn claim_checks_refuse_attacks_and_pass_look_alikes() {
    let k = keys();
    let mut policy = IssuerPolicy::new(ISS, AUD);
    policy.required_claims = vec![ClaimRequirement {
        name: "tenant".into(),
        value: Some(json!("acme")),
    }];
    let base = json!({"tenant": "acme"});
    let case = |overrides: Value| {
        let mut c = with(base.clone());
        for (key, v) in overrides.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(key);
            } else {
                c[key] = v.clone();
            }
        }
        verify(&policy, &k, &sign_ed(&k, ed_header(), c))
    };
    let leeway = 30;
    let cases: Vec<(&str, Value, Result<(), TokenError>)> = vec![
        ("good", json!({}), Ok(())),
        (
            "wrong iss",
            json!({"iss": "https://idp.test.evil"}),
            Err(TokenError::WrongIssuer),
        ),
        (
            "iss with slash",
            json!({"iss": "https://idp.test/"}),
            Err(TokenError::WrongIssuer),
        ),
        ("no iss", json!({"iss": null}), Err(TokenError::WrongIssuer)),
        ("aud array", json!({"aud": ["other", AUD]}), Ok(())),
        (
            "aud other",
            json!({"aud": "rampart-admin"}),
            Err(TokenError::WrongAudience),
        ),
        (
            "aud array without",
            json!({"aud": ["other"]}),
            Err(TokenError::WrongAudience),
        ),
        (
            "no aud",
            json!({"aud": null}),
            Err(TokenError::WrongAudience),
        ),
        (
            "no exp",
            json!({"exp": null}),
            Err(TokenError::MissingClaim("exp".into())),
        ),
        (
            "exp string",
            json!({"exp": "9999999999"}),
            Err(TokenError::MissingClaim("exp".into())),
        ),
        (
            "exp within leeway",
            json!({"exp": NOW - leeway + 1}),
            Ok(()),
        ),
        (
            "expired",
            json!({"exp": NOW - leeway - 1}),
            Err(TokenError::Expired),
        ),
        (
            "exp fractional",
            json!({"exp": (NOW + 10) as f64 + 0.5}),
            Ok(()),
        ),
        (
            "exp absurd",
            json!({"exp": 1e300}),
            Err(TokenError::MissingClaim("exp".into())),
        ),
        (
            "nbf within leeway",
            json!({"nbf": NOW + leeway - 1}),
            Ok(()),
        ),
        (
            "nbf future",
            json!({"nbf": NOW + leeway + 1}),
            Err(TokenError::NotYetValid),
        ),
        (
            "iat future",
            json!({"iat": NOW + leeway + 60}),
            Err(TokenError::IssuedInFuture),
        ),
        ("iat absent", json!({"iat": null}), Ok(())),
        (
            "no sub",
            json!({"sub": null}),
            Err(TokenError::MissingClaim("sub".into())),
        ),
        (
            "tenant other",
            json!({"tenant": "evil"}),
            Err(TokenError::ClaimMismatch("tenant".into())),
        ),
        ("tenant in array", json!({"tenant": ["x", "acme"]}), Ok(())),
        (
            "tenant absent",
            json!({"tenant": null}),
            Err(TokenError::MissingClaim("tenant".into())),
        ),
    ];
    for (name, overrides, want) in cases {
        assert_eq!(case(overrides).map(|_| ()), want, "{name}");
    }
}

#[test]
fn scopes_come_from_scope_or_scp() {
    let k = keys();
    let policy = IssuerPolicy::new(ISS, AUD);
    let cases: Vec<(Value, Result<Vec<&str>, TokenError>)> = vec![
        (json!({"scope": "a  b"}), Ok(vec!["a", "b"])),
        (
            json!({"scope": null, "scp": ["a", "b"]}),
            Ok(vec!["a", "b"]),
        ),
        (json!({"scope": null, "scp": "a b"}), Ok(vec!["a", "b"])),
        (json!({"scope": null}), Ok(vec![])),
        (
            json!({"scope": null, "scp": ["a", 1]}),
            Err(TokenError::MissingClaim("scp".into())),
        ),
        (
            json!({"scope": ["a"]}),
            Err(TokenError::MissingClaim("scope".into())),
        ),
    ];
    for (overrides, want) in cases {
        let got = verify(
            &policy,
            &k,
            &sign_ed(&k, ed_header(), with(overrides.clone())),
        );
        let want = want.map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(got.map(|t| t.scopes), want, "{overrides}");
    }
}

#[test]
fn algorithm_and_header_attacks_are_refused() {
    let k = keys();
    let policy = IssuerPolicy::new(ISS, AUD);
    let good = sign_ed(&k, ed_header(), claims());
    let (input, _) = good.rsplit_once('.').unwrap();
    let none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        input.split('.').nth(1).unwrap()
    );
    let none_upper = none.replacen(
        &b64url(br#"{"alg":"none","typ":"JWT"}"#),
        &b64url(br#"{"alg":"None","typ":"JWT"}"#),
        1,
    );
    // HS256 keyed with the Ed25519 public key: the classic key-confusion attack.
    let public = k.ed.public_key().as_ref().to_vec();
    let confused = sign_hs(&public, "HS256", claims());
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'Q' } else { 'A' });
    let swapped_payload = {
        let other = sign_ed(&k, ed_header(), with(json!({"sub": "admin"})));
        let (h, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let p = other.split('.').nth(1).unwrap();
        format!("{h}.{p}.{sig}")
    };
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("good", good.clone(), Ok(())),
        (
            "alg none",
            none,
            Err(TokenError::UnsupportedAlg("none".into())),
        ),
        (
            "alg None",
            none_upper,
            Err(TokenError::UnsupportedAlg("None".into())),
        ),
        (
            "hs256 with public key",
            confused,
            Err(TokenError::UnsupportedAlg("HS256".into())),
        ),
        (
            "tampered signature",
            tampered,
            Err(TokenError::BadSignature),
        ),
        (
            "swapped payload",
            swapped_payload,
            Err(TokenError::BadSignature),
        ),
        (
            "ES256 header on EdDSA key",
            sign_ed(&k, json!({"alg": "ES256", "kid": "ed"}), claims()),
            Err(TokenError::UnknownKey),
        ),
        (
            "unknown kid",
            sign_ed(&k, json!({"alg": "EdDSA", "kid": "nope"}), claims()),
            Err(TokenError::UnknownKey),
        ),
        (
            "no kid, single candidate",
            sign_ed(&k, json!({"alg": "EdDSA"}), claims()),
            Ok(()),
        ),
        (
            "typ dpop+jwt",
            sign_ed(
                &k,
                json!({"alg": "EdDSA", "kid": "ed", "typ": "dpop+jwt"}),
                claims(),
            ),
            Err(TokenError::BadHeader("typ")),
        ),
        (
            "typ application/at+jwt",
            sign_ed(
                &k,
                json!({"alg": "EdDSA", "kid": "ed", "typ": "application/at+jwt"}),
                claims(),
            ),
            Ok(()),
        ),
        (
            "crit header",
            sign_ed(
                &k,
                json!({"alg": "EdDSA", "kid": "ed", "crit": ["exp"]}),
                claims(),
            ),
            Err(TokenError::BadHeader("crit")),
        ),
        (
            "jwk header is not trusted",
            sign_ed(
                &k,
                json!({"alg": "EdDSA", "kid": "nope", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(&public)}}),
                claims(),
            ),
            Err(TokenError::UnknownKey),
        ),
    ];
    for (name, token, want) in cases {
        assert_eq!(verify(&policy, &k, &token).map(|_| ()), want, "{name}");
    }
}

#[test]
fn allow_list_limits_algorithms() {
    let k = keys();
    let mut policy = IssuerPolicy::new(ISS, AUD);
    policy.algorithms = vec![Alg::Es256];
    let ed = sign_ed(&k, ed_header(), claims());
    let es = sign_es(&k, json!({"alg": "ES256", "kid": "es"}), claims());
    assert_eq!(
        verify(&policy, &k, &ed).unwrap_err(),
        TokenError::UnsupportedAlg("EdDSA".into())
    );
    assert!(verify(&policy, &k, &es).is_ok());
}

#[test]
fn hmac_issuer_accepts_only_hmac_with_its_secret() {
    let k = keys();
    let secret = b"0123456789abcdef0123456789abcdef".to_vec();
    let policy = IssuerPolicy::new(ISS, AUD).with_hmac(Secret::new(secret.clone()));
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("HS256", sign_hs(&secret, "HS256", claims()), Ok(())),
        ("HS384", sign_hs(&secret, "HS384", claims()), Ok(())),
        ("HS512", sign_hs(&secret, "HS512", claims()), Ok(())),
        (
            "other secret",
            sign_hs(b"0123456789abcdef0123456789abcdeX", "HS256", claims()),
            Err(TokenError::BadSignature),
        ),
        (
            "asymmetric",
            sign_ed(&k, ed_header(), claims()),
            Err(TokenError::UnsupportedAlg("EdDSA".into())),
        ),
    ];
    for (name, token, want) in cases {
        let jws = Jws::parse(&token, DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(policy.verify(&jws, None, now()).map(|_| ()), want, "{name}");
    }
}

#[test]
fn parsing_refuses_malformed_and_oversized_tokens() {
    let k = keys();
    let good = sign_ed(&k, ed_header(), claims());
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let dup_header = b64url(br#"{"alg":"EdDSA","alg":"none"}"#);
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("good", good.clone(), Ok(())),
        (
            "two parts",
            format!("{h}.{p}"),
            Err(TokenError::Malformed("not three dot-separated parts")),
        ),
        (
            "four parts",
            format!("{good}.x"),
            Err(TokenError::Malformed("not three dot-separated parts")),
        ),
        (
            "padded header",
            format!("{h}=.{p}.{s}"),
            Err(TokenError::Malformed("header base64")),
        ),
        (
            "standard alphabet",
            format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/")),
            if s.contains(['-', '_']) {
                Err(TokenError::Malformed("signature base64"))
            } else {
                Ok(())
            },
        ),
        (
            "header not json",
            format!("{}.{p}.{s}", b64url(b"alg")),
            Err(TokenError::Malformed("header JSON")),
        ),
        (
            "duplicate header key",
            format!("{dup_header}.{p}.{s}"),
            Err(TokenError::Malformed("header JSON")),
        ),
        (
            "payload array",
            format!("{h}.{}.{s}", b64url(b"[1]")),
            Err(TokenError::Malformed("payload JSON")),
        ),
        (
            "no alg",
            format!("{}.{p}.{s}", b64url(br#"{"kid":"ed"}"#)),
            Err(TokenError::Malformed("alg missing")),
        ),
    ];
    for (name, token, want) in cases {
        assert_eq!(
            Jws::parse(&token, DEFAULT_MAX_TOKEN_BYTES).map(|_| ()),
            want,
            "{name}"
        );
    }
    // The cap applies before decoding: garbage past the cap is Oversized, not Malformed.
    let huge = "!".repeat(DEFAULT_MAX_TOKEN_BYTES + 1);
    assert_eq!(
        Jws::parse(&huge, DEFAULT_MAX_TOKEN_BYTES).unwrap_err(),
        TokenError::Oversized {
            limit: DEFAULT_MAX_TOKEN_BYTES
        }
    );
    let at_cap = "!".repeat(DEFAULT_MAX_TOKEN_BYTES);
    assert!(matches!(
        Jws::parse(&at_cap, DEFAULT_MAX_TOKEN_BYTES),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn errors_never_carry_the_token() {
    let k = keys();
    let policy = IssuerPolicy::new(ISS, AUD);
    let token = sign_ed(&k, ed_header(), with(json!({"exp": NOW - 1000})));
    let err = verify(&policy, &k, &token).unwrap_err();
    let shown = format!("{err} {err:?}");
    for part in token.split('.') {
        assert!(!shown.contains(part));
    }
    assert_eq!(err.code(), "token_expired");
}
