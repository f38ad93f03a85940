//! Scenarios against the test IdP (HTTPS on loopback, certificate from a fresh CA).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_pass_by_value,
    missing_docs
)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use rampart_core::config::Problems;
use rampart_oauth::{
    OAuth, OAuthConfig, RawOAuth, TokenError, VerifiedToken, check_certificate_binding,
    jwk_thumbprint,
};
use rampart_test_support::idp::{
    self, ALGS, AUDIENCE, INTROSPECT_ID, INTROSPECT_SECRET, Idp, IdpKey, mint_hmac, mint_none,
    unix_now,
};
use rampart_test_support::pki::TestPki;
use serde_json::{Value, json};

fn oauth(text: &str) -> OAuth {
    let raw: RawOAuth = toml::from_str(text).unwrap();
    let mut p = Problems::default();
    let config = OAuthConfig::validate(&mut p, &raw);
    let config = p.finish(Path::new("test.toml"), config).unwrap();
    OAuth::new(&config)
}

fn issuer_section(idp: &Idp, source: &str, extra: &str) -> String {
    format!(
        r#"
[[issuers]]
name = "test"
issuer = "{}"
audience = "{AUDIENCE}"
{source}
ca = "{}"
{extra}
"#,
        idp.issuer(),
        idp.ca_path().display()
    )
}

fn discovery(idp: &Idp, extra: &str) -> OAuth {
    oauth(&issuer_section(idp, "discovery = true", extra))
}

fn introspecting(idp: &Idp) -> OAuth {
    let secret = idp.dir().join("introspect.secret");
    std::fs::write(&secret, format!("{INTROSPECT_SECRET}\n")).unwrap();
    oauth(&format!(
        r#"
[introspection]
endpoint = "{}"
client_id = "{INTROSPECT_ID}"
client_secret_file = "{}"
ca = "{}"
negative_ttl = "10s"
cache_ttl_max = "60s"
timeout = "2s"
"#,
        idp.introspection_endpoint(),
        secret.display(),
        idp.ca_path().display()
    ))
}

fn now() -> SystemTime {
    SystemTime::now()
}

#[tokio::test]
async fn every_algorithm_verifies_through_discovery_and_jwks_uri() {
    let idp = Idp::start().await;
    let by_discovery = discovery(&idp, "");
    let by_uri = oauth(&issuer_section(
        &idp,
        &format!("jwks_uri = \"{}\"", idp.jwks_uri()),
        "",
    ));
    for alg in ALGS {
        let token = idp.mint(alg, &idp.claims(AUDIENCE));
        for oauth in [&by_discovery, &by_uri] {
            let v = oauth.verify_bearer(&token, now()).await;
            let v = v.unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(v.subject, "alice", "{alg}");
            assert_eq!(v.scopes, ["read", "write"], "{alg}");
        }
    }
    // One JWKS fetch each served every algorithm: keys are cached.
    assert_eq!(by_discovery.jwks_fetches("test"), Some(1));
    assert_eq!(by_uri.jwks_fetches("test"), Some(1));
    assert_eq!(idp.discovery_calls(), 1);
}

#[tokio::test]
async fn client_credentials_token_carries_requested_scopes() {
    let idp = Idp::start().await;
    let oauth = discovery(&idp, "");
    for alg in ["ES384", "PS256"] {
        idp.set_token_alg(alg);
        let token = idp.client_credentials("orders:read orders:write").await;
        let v = oauth.verify_bearer(&token, now()).await.unwrap();
        assert_eq!(v.client_id.as_deref(), Some(idp::CLIENT_ID));
        assert!(v.has_scope("orders:read") && v.has_scope("orders:write"));
        assert!(!v.has_scope("admin"));
    }
}

#[tokio::test]
async fn attacks_are_refused_next_to_the_legitimate_token() {
    let idp = Idp::start().await;
    let oauth = discovery(&idp, "");
    let claims = |patch: Value| {
        let mut c = idp.claims(AUDIENCE);
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let t = unix_now();
    let rsa = idp.key("RS256");
    let good = rsa.mint(&claims(json!({})));
    let tampered = {
        let (input, sig) = good.rsplit_once('.').unwrap();
        let mut sig = sig.as_bytes().to_vec();
        sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
        format!("{input}.{}", String::from_utf8(sig).unwrap())
    };
    let confused = mint_hmac(
        "HS256",
        &rsa.public_key_bytes(),
        Some(&rsa.kid),
        &claims(json!({})),
    );
    let stranger = IdpKey::generate("ES256", "es256-1"); // same kid, other key
    let oversized = rsa.mint(&claims(json!({"pad": "x".repeat(9000)})));
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("legitimate", good.clone(), Ok(())),
        (
            "expired",
            rsa.mint(&claims(json!({"exp": t - 120}))),
            Err(TokenError::Expired),
        ),
        (
            "expired within leeway",
            rsa.mint(&claims(json!({"exp": t - 10}))),
            Ok(()),
        ),
        (
            "not yet valid",
            rsa.mint(&claims(json!({"nbf": t + 120}))),
            Err(TokenError::NotYetValid),
        ),
        (
            "wrong audience",
            rsa.mint(&claims(json!({"aud": "other-api"}))),
            Err(TokenError::WrongAudience),
        ),
        (
            "audience in list",
            rsa.mint(&claims(json!({"aud": ["other-api", AUDIENCE]}))),
            Ok(()),
        ),
        (
            "wrong issuer",
            rsa.mint(&claims(json!({"iss": "https://evil.example"}))),
            Err(TokenError::WrongIssuer),
        ),
        (
            "alg none",
            mint_none(&claims(json!({}))),
            Err(TokenError::UnsupportedAlg("none".into())),
        ),
        (
            "RS/HS confusion",
            confused,
            Err(TokenError::UnsupportedAlg("HS256".into())),
        ),
        (
            "tampered signature",
            tampered,
            Err(TokenError::BadSignature),
        ),
        (
            "key of a stranger",
            stranger.mint(&claims(json!({}))),
            Err(TokenError::BadSignature),
        ),
        (
            "oversized",
            oversized,
            Err(TokenError::Oversized { limit: 8192 }),
        ),
    ];
    for (name, token, want) in cases {
        let got = oauth.verify_bearer(&token, now()).await.map(|_| ());
        assert_eq!(got, want, "{name}");
    }
}

#[tokio::test]
async fn unknown_kid_refreshes_once_per_interval_and_picks_up_rotation() {
    let idp = Idp::start().await;
    let oauth = discovery(&idp, r#"min_refresh_interval = "400ms""#);
    assert_eq!(oauth.refresh_keys().await, 0);
    assert_eq!(oauth.jwks_fetches("test"), Some(1));
    tokio::time::sleep(Duration::from_millis(450)).await;

    // A new key appears: the first token signed by it triggers one refresh.
    let new_kid = idp.rotate("ES256", true).await;
    assert_eq!(new_kid, "es256-2");
    let token = idp.mint("ES256", &idp.claims(AUDIENCE));
    oauth.verify_bearer(&token, now()).await.unwrap();
    assert_eq!(oauth.jwks_fetches("test"), Some(2));

    // Made-up kids right after: refused without asking the IdP again.
    let ghost = |kid: &str| {
        idp::mint_with(
            &json!({"alg": "ES256", "kid": kid}),
            &idp.claims(AUDIENCE),
            |m| idp.key("ES256").sign(m),
        )
    };
    for i in 0..5 {
        let got = oauth
            .verify_bearer(&ghost(&format!("ghost-{i}")), now())
            .await;
        assert_eq!(got.unwrap_err(), TokenError::UnknownKey);
    }
    assert_eq!(oauth.jwks_fetches("test"), Some(2));

    // After the interval, many concurrent misses share one fetch.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let tokens: Vec<String> = (0..8).map(|i| ghost(&format!("burst-{i}"))).collect();
    let results = futures_join(&oauth, &tokens).await;
    assert!(results.iter().all(|r| *r == Err(TokenError::UnknownKey)));
    assert_eq!(oauth.jwks_fetches("test"), Some(3));

    // The dropped key no longer verifies once the set was refreshed.
    let old = idp::mint_with(
        &json!({"alg": "ES256", "kid": "es256-1"}),
        &idp.claims(AUDIENCE),
        |m| idp.key("ES256").sign(m),
    );
    assert_eq!(
        oauth.verify_bearer(&old, now()).await.unwrap_err(),
        TokenError::UnknownKey
    );
}

async fn futures_join(oauth: &OAuth, tokens: &[String]) -> Vec<Result<(), TokenError>> {
    futures_util::future::join_all(
        tokens
            .iter()
            .map(|t| async move { oauth.verify_bearer(t, now()).await.map(|_| ()) }),
    )
    .await
}

#[tokio::test]
async fn idp_down_fails_closed_and_cached_keys_survive_an_outage() {
    let idp = Idp::start().await;
    let token = idp.mint("EdDSA", &idp.claims(AUDIENCE));

    let warm = discovery(&idp, r#"min_refresh_interval = "1s""#);
    warm.verify_bearer(&token, now()).await.unwrap();

    idp.set_down(true);
    let cold = discovery(&idp, "timeout = \"1s\"\nmin_refresh_interval = \"1s\"");
    let err = cold.verify_bearer(&token, now()).await.unwrap_err();
    assert_eq!(err, TokenError::KeysUnavailable);
    assert!(err.is_unavailable());
    // Keys fetched before the outage keep working.
    warm.verify_bearer(&token, now()).await.unwrap();

    idp.set_down(false);
    tokio::time::sleep(Duration::from_millis(1100)).await; // past cold's rate limit
    cold.verify_bearer(&token, now()).await.unwrap();
}

#[tokio::test]
async fn background_refresh_loads_keys_and_stops_on_shutdown() {
    let idp = Idp::start().await;
    let oauth = discovery(&idp, r#"refresh_interval = "1s""#);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = oauth.spawn_refresh(async move {
        let _ = stop_rx.await;
    });
    // The first fetch happens at once, the next one a refresh_interval later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while oauth.jwks_fetches("test").unwrap() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no periodic refresh within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
    let after = oauth.jwks_fetches("test").unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(oauth.jwks_fetches("test").unwrap(), after);
}

#[tokio::test]
async fn hmac_issuer_accepts_only_its_secret() {
    let idp = Idp::start().await;
    let secret_file = idp.dir().join("hmac.secret");
    let secret = b"0123456789abcdef0123456789abcdef-hmac";
    std::fs::write(&secret_file, secret).unwrap();
    let oauth = oauth(&format!(
        r#"
[[issuers]]
name = "legacy"
issuer = "{}"
audience = "{AUDIENCE}"
hmac_secret_file = "{}"
"#,
        idp.issuer(),
        secret_file.display()
    ));
    let claims = idp.claims(AUDIENCE);
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("HS256", mint_hmac("HS256", secret, None, &claims), Ok(())),
        ("HS512", mint_hmac("HS512", secret, None, &claims), Ok(())),
        (
            "other secret",
            mint_hmac("HS256", b"not-the-secret-not-the-secret!!!", None, &claims),
            Err(TokenError::BadSignature),
        ),
        (
            "RS256",
            idp.mint("RS256", &claims),
            Err(TokenError::UnsupportedAlg("RS256".into())),
        ),
        (
            "none",
            mint_none(&claims),
            Err(TokenError::UnsupportedAlg("none".into())),
        ),
    ];
    for (name, token, want) in cases {
        assert_eq!(
            oauth.verify_bearer(&token, now()).await.map(|_| ()),
            want,
            "{name}"
        );
    }
    assert_eq!(oauth.jwks_fetches("legacy"), None);
    assert_eq!(idp.jwks_calls(), 0);
}

#[tokio::test]
async fn introspection_active_inactive_cached_and_down() {
    let idp = Idp::start().await;
    let oauth = introspecting(&idp);
    let exp = unix_now() + 300;
    idp.register_opaque(
        "opaque-token-1",
        json!({"sub": "bob", "iss": idp.issuer(), "client_id": "app", "scope": "read", "exp": exp}),
    );
    let v = oauth.verify_bearer("opaque-token-1", now()).await.unwrap();
    assert_eq!(v.subject, "bob");
    assert_eq!(v.scopes, ["read"]);
    assert_eq!(v.client_id.as_deref(), Some("app"));
    assert_eq!(oauth.introspection_round_trips(), 1);

    // Second request: answered from the cache, no round trip.
    oauth.verify_bearer("opaque-token-1", now()).await.unwrap();
    assert_eq!(oauth.introspection_round_trips(), 1);
    assert_eq!(idp.introspect_calls(), 1);

    // Unknown token: inactive, and the negative answer is cached too.
    for _ in 0..2 {
        let err = oauth
            .verify_bearer("opaque-token-2", now())
            .await
            .unwrap_err();
        assert_eq!(err, TokenError::Inactive);
        assert!(!err.is_unavailable());
    }
    assert_eq!(oauth.introspection_round_trips(), 2);
    // ... until the negative TTL passed (injected time).
    let later = now() + Duration::from_secs(11);
    assert_eq!(
        oauth
            .verify_bearer("opaque-token-2", later)
            .await
            .unwrap_err(),
        TokenError::Inactive
    );
    assert_eq!(oauth.introspection_round_trips(), 3);

    // Down: fail closed with a 503-class error, and nothing is cached.
    idp.set_down(true);
    for _ in 0..2 {
        let err = oauth
            .verify_bearer("opaque-token-3", now())
            .await
            .unwrap_err();
        assert_eq!(err, TokenError::Unavailable);
        assert!(err.is_unavailable());
    }
    assert_eq!(oauth.introspection_round_trips(), 5);
    // A cached positive answer keeps working while the IdP is down.
    oauth.verify_bearer("opaque-token-1", now()).await.unwrap();
    // But not past the cache's limit (min of `exp` and cache_ttl_max).
    let after_exp = SystemTime::UNIX_EPOCH + Duration::from_secs(exp + 31);
    assert_eq!(
        oauth
            .verify_bearer("opaque-token-1", after_exp)
            .await
            .unwrap_err(),
        TokenError::Unavailable
    );

    // Characters outside b64token never reach the IdP.
    idp.set_down(false);
    let err = oauth
        .verify_bearer("bad token\r\n", now())
        .await
        .unwrap_err();
    assert!(matches!(err, TokenError::Malformed(_)));
}

#[tokio::test]
async fn opaque_tokens_without_introspection_are_refused() {
    let idp = Idp::start().await;
    let oauth = discovery(&idp, "");
    assert_eq!(
        oauth
            .verify_bearer("opaque-token", now())
            .await
            .unwrap_err(),
        TokenError::OpaqueNotAccepted
    );
}

fn cert_der(pki: &TestPki, stem: &str) -> Vec<u8> {
    let (cert, _) = pki.client(stem, "client.test");
    rampart_tls::load_certs(&cert).unwrap()[0].to_vec()
}

#[tokio::test]
async fn certificate_bound_token_needs_its_certificate() {
    let idp = Idp::start().await;
    let oauth = discovery(&idp, "");
    let pki = TestPki::new();
    let right = cert_der(&pki, "right");
    let wrong = cert_der(&pki, "wrong");
    let thumb = {
        use base64::Engine;
        let digest = ring::digest::digest(&ring::digest::SHA256, &right);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    };
    let mut claims = idp.claims(AUDIENCE);
    claims["cnf"] = json!({"x5t#S256": thumb});
    let bound = oauth
        .verify_bearer(&idp.mint("ES256", &claims), now())
        .await
        .unwrap();
    let unbound = oauth
        .verify_bearer(&idp.mint("ES256", &idp.claims(AUDIENCE)), now())
        .await
        .unwrap();
    type Case<'a> = (
        &'a str,
        &'a VerifiedToken,
        Option<&'a [u8]>,
        Result<(), TokenError>,
    );
    let cases: Vec<Case<'_>> = vec![
        ("right cert", &bound, Some(&right), Ok(())),
        (
            "wrong cert",
            &bound,
            Some(&wrong),
            Err(TokenError::CertificateMismatch),
        ),
        ("no cert", &bound, None, Err(TokenError::CertificateMissing)),
        ("unbound, no cert", &unbound, None, Ok(())),
        ("unbound, any cert", &unbound, Some(&wrong), Ok(())),
    ];
    for (name, token, cert, want) in cases {
        assert_eq!(check_certificate_binding(token, cert), want, "{name}");
    }
}

fn ath(token: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[tokio::test]
async fn dpop_proofs_are_bound_to_key_request_and_token() {
    let idp = Idp::start().await;
    let oauth = discovery(&idp, "");
    let holder = IdpKey::generate("ES256", "holder");
    let jkt = jwk_thumbprint(holder.jwk().as_object().unwrap()).unwrap();
    let mut claims = idp.claims(AUDIENCE);
    claims["cnf"] = json!({"jkt": jkt});
    let access = idp.mint("EdDSA", &claims);
    let token = oauth.verify_bearer(&access, now()).await.unwrap();
    assert_eq!(token.dpop_jkt(), Some(jkt.as_str()));

    let htu = "https://api.test/orders";
    let proof_by = |key: &IdpKey, patch: Value| {
        let mut c = json!({
            "jti": format!("p-{}", unix_now()), "htm": "POST", "htu": htu,
            "iat": unix_now(), "ath": ath(&access),
        });
        let mut header = json!({"typ": "dpop+jwt", "alg": key.alg, "jwk": key.jwk()});
        for (k, v) in patch.as_object().unwrap() {
            if let Some(h) = k.strip_prefix("header.") {
                header[h] = v.clone();
            } else {
                c[k] = v.clone();
            }
        }
        idp::mint_with(&header, &c, |m| key.sign(m))
    };
    let proof = |patch: Value| proof_by(&holder, patch);
    let other_key = IdpKey::generate("ES256", "other");
    let mut private_jwk = holder.jwk();
    private_jwk["d"] = json!("AAAA");
    let request = "https://api.test/orders?page=2";
    let cases: Vec<(&str, String, &str, Result<(), TokenError>)> = vec![
        ("valid", proof(json!({"jti": "a"})), "POST", Ok(())),
        (
            "replayed",
            proof(json!({"jti": "a"})),
            "POST",
            Err(TokenError::DpopReplayed),
        ),
        ("other jti", proof(json!({"jti": "b"})), "POST", Ok(())),
        (
            "other URL",
            proof(json!({"jti": "c", "htu": "https://api.test/admin"})),
            "POST",
            Err(TokenError::DpopInvalid("htu does not match the request")),
        ),
        (
            "other method",
            proof(json!({"jti": "d"})),
            "GET",
            Err(TokenError::DpopInvalid("htm does not match the method")),
        ),
        (
            "wrong ath",
            proof(json!({"jti": "e", "ath": ath("another-token")})),
            "POST",
            Err(TokenError::DpopInvalid(
                "ath does not match the access token",
            )),
        ),
        (
            "stale iat",
            proof(json!({"jti": "f", "iat": unix_now() - 600})),
            "POST",
            Err(TokenError::DpopInvalid("iat outside the window")),
        ),
        (
            "other key",
            proof_by(&other_key, json!({"jti": "g"})),
            "POST",
            Err(TokenError::DpopInvalid(
                "key is not the one the token is bound to",
            )),
        ),
        (
            "typ JWT",
            proof(json!({"jti": "h", "header.typ": "JWT"})),
            "POST",
            Err(TokenError::DpopInvalid("typ is not dpop+jwt")),
        ),
        (
            "private jwk",
            proof(json!({"jti": "i", "header.jwk": private_jwk})),
            "POST",
            Err(TokenError::DpopInvalid("jwk unusable")),
        ),
        (
            "hmac",
            mint_hmac("HS256", b"k", None, &json!({"jti": "j"})),
            "POST",
            Err(TokenError::DpopInvalid("typ is not dpop+jwt")),
        ),
    ];
    for (name, proof, method, want) in cases {
        let got = oauth
            .verify_dpop(
                &proof,
                method,
                request,
                &access,
                token.dpop_jkt().unwrap(),
                now(),
            )
            .map(|_| ());
        assert_eq!(got, want, "{name}");
    }
    // A valid signature by the bound key over a different access token is refused too.
    let forged = proof(json!({"jti": "k"}));
    assert!(
        oauth
            .verify_dpop(&forged, "POST", request, "other-access-token", &jkt, now())
            .is_err()
    );
}
