//! Edge identity seen from clients: API keys, HTTP Basic with lockout, JWT bearer tokens
//! from a real identity provider over HTTPS, opaque tokens by introspection, per-route
//! scopes, identity headers the backend can trust, and secrets kept out of the logs.

use std::path::Path;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{Collected, collect, http1};
use rampart_test_support::idp::{AUDIENCE, INTROSPECT_ID, INTROSPECT_SECRET, Idp};
use rampart_test_support::stack::{Stack, StackOptions};
use serde_json::json;

use crate::common::{assert_problem, bins};

async fn send(stack: &Stack, target: &str, headers: &[(&str, &str)]) -> Collected {
    let mut builder = Request::builder()
        .method("GET")
        .uri(target)
        .header("host", "api.example.test");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(Bytes::new())).unwrap();
    collect(http1(stack.http(), request).await.unwrap()).await
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The headers the backend saw on its last request.
fn last_seen(backend: &Backend) -> http::HeaderMap {
    backend
        .seen()
        .last()
        .expect("backend saw a request")
        .headers
        .clone()
}

fn challenges(response: &Collected) -> Vec<String> {
    response
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_basic_authenticate_callers_and_the_backend_learns_who_called() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let partner = rampart_identity::apikey::new_key("partner-a");
    let retired = rampart_identity::apikey::new_key("partner-b");
    let consumers = format!(
        "[[consumer]]\nname = \"partner-a\"\nscopes = [\"orders:read\"]\nplan = \"gold\"\n\
         [[consumer.keys]]\nhash = \"{}\"\n\n\
         [[consumer]]\nname = \"partner-b\"\nenabled = false\n\
         [[consumer.keys]]\nhash = \"{}\"\n",
        partner.hash, retired.hash
    );
    let password = "correct horse battery staple";
    let hash = rampart_identity::basic::hash_password(password).unwrap();
    let consumers = write(dir.path(), "consumers.toml", &consumers);
    let bob_password = "bob's other long passphrase";
    let bob_hash = rampart_identity::basic::hash_password(bob_password).unwrap();
    let users = write(
        dir.path(),
        "users",
        &format!("alice:{hash}\nbob:{bob_hash}\n"),
    );
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        r#"
[identity]
consumers = "{consumers}"
users = "{users}"
[identity.lockout]
threshold = 2
base = "1m"
max = "1m"

[[routes]]
name = "orders"
path_prefix = "/orders"
auth = {{ methods = ["api_key"], scopes = ["orders:read"], api_key_query = "api_key" }}

[[routes]]
name = "admin"
path_prefix = "/admin"
auth = {{ methods = ["basic"], realm = "ops" }}

[[routes]]
name = "public"
path_prefix = "/"
"#
    );
    let stack = Stack::start(&bins(), &opts);

    // No credentials: 401 with the route's challenge, nothing forwarded.
    let response = send(&stack, "/orders/1", &[]).await;
    assert_problem(&response, 401, "unauthenticated");
    assert_eq!(challenges(&response), ["ApiKey realm=\"rampart\""]);
    // A wrong key, a disabled consumer's key: the same generic 401.
    for key in [
        "rk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        retired.key.as_str(),
    ] {
        let response = send(&stack, "/orders/1", &[("x-api-key", key)]).await;
        assert_problem(&response, 401, "unauthenticated");
    }
    assert!(backend.seen().is_empty(), "nothing reached the backend");

    // The right key passes; the backend gets the principal, not the key, and not the
    // identity headers the client tried to set itself.
    let response = send(
        &stack,
        "/orders/1",
        &[
            ("x-api-key", &partner.key),
            ("x-rampart-subject", "admin"),
            ("x-rampart-scopes", "orders:write"),
        ],
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    let seen = last_seen(&backend);
    assert_eq!(seen["x-rampart-subject"], "partner-a");
    assert_eq!(seen["x-rampart-consumer"], "partner-a");
    assert_eq!(seen["x-rampart-auth-method"], "api_key");
    assert_eq!(seen["x-rampart-scopes"], "orders:read");
    assert!(seen.get("x-api-key").is_none(), "the key stays at the edge");

    // From the query, where the route allows it: removed before forwarding.
    let target = format!("/orders/2?a=1&api_key={}&b=2", partner.key);
    let response = send(&stack, &target, &[]).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(backend.seen().last().unwrap().uri, "/orders/2?a=1&b=2");

    // A public route needs nothing, and client identity headers are still removed.
    let response = send(&stack, "/status", &[("x-rampart-subject", "admin")]).await;
    assert_eq!(response.status, 200);
    assert!(last_seen(&backend).get("x-rampart-subject").is_none());

    // HTTP Basic: the right password passes.
    use base64::Engine as _;
    let basic = |user: &str, pw: &str| {
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        format!("Basic {creds}")
    };
    let good = basic("alice", password);
    let response = send(&stack, "/admin/x", &[("authorization", &good)]).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(last_seen(&backend)["x-rampart-auth-method"], "basic");
    assert!(last_seen(&backend).get("authorization").is_none());
    // Guessing bob's password: wrong guesses, then the lock, and then even the right
    // password is refused for a while, without costing an argon2 run.
    let bad = basic("bob", "Tr0ub4dor&3");
    for _ in 0..2 {
        let response = send(&stack, "/admin/x", &[("authorization", &bad)]).await;
        assert_problem(&response, 401, "unauthenticated");
        assert_eq!(
            challenges(&response),
            ["Basic realm=\"ops\", charset=\"UTF-8\""]
        );
    }
    let before = backend.seen().len();
    let bob = basic("bob", bob_password);
    let response = send(&stack, "/admin/x", &[("authorization", &bob)]).await;
    assert_problem(&response, 401, "unauthenticated");
    assert_eq!(backend.seen().len(), before, "locked out");
    // alice, whose password was just verified, is not locked out by bob's attacker.
    let response = send(&stack, "/admin/x", &[("authorization", &good)]).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    // An API key is not accepted where the route wants Basic.
    let response = send(&stack, "/admin/x", &[("x-api-key", &partner.key)]).await;
    assert_problem(&response, 401, "unauthenticated");

    // The audit log says why; no log line carries a secret.
    let audited = |rule: &str| {
        stack.edge.logs().iter().any(|l| {
            l["target"] == "rampart::audit" && l["rule"] == rule && l["check"] == "identity"
        })
    };
    for rule in [
        "wrong-password",
        "locked-out",
        "no-credentials",
        "api-key-unknown",
        "consumer-disabled",
    ] {
        assert!(audited(rule), "{rule} audited");
    }
    let logs: String = stack
        .edge
        .logs()
        .iter()
        .chain(stack.inner.as_ref().unwrap().logs().iter())
        .map(ToString::to_string)
        .collect();
    for secret in [
        partner.key.as_str(),
        retired.key.as_str(),
        password,
        bob_password,
        "Tr0ub4dor&3",
        good.trim_start_matches("Basic "),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_verified_against_the_identity_provider() {
    let backend = Backend::start().await;
    let idp = Idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "introspect.secret", INTROSPECT_SECRET);
    let ca = idp.ca_path().display().to_string();
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        r#"
[oauth]
[[oauth.issuers]]
name = "test"
issuer = "{issuer}"
audience = "{AUDIENCE}"
discovery = true
ca = "{ca}"

[oauth.introspection]
endpoint = "{introspect}"
client_id = "{INTROSPECT_ID}"
client_secret_file = "{secret}"
ca = "{ca}"
negative_ttl = "1s"

[[routes]]
name = "reports"
path_prefix = "/reports"
auth = {{ methods = ["bearer"], scopes = ["read"] }}

[[routes]]
name = "billing"
path_prefix = "/billing"
auth = {{ methods = ["bearer"], scopes = ["billing"] }}
"#,
        issuer = idp.issuer(),
        introspect = idp.introspection_endpoint(),
    );
    let stack = Stack::start(&bins(), &opts);

    // Every asymmetric algorithm the IdP signs with.
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let token = idp.mint(alg, &idp.claims(AUDIENCE));
        let auth = format!("Bearer {token}");
        let response = send(&stack, "/reports/q", &[("authorization", &auth)]).await;
        assert_eq!(response.status, 200, "{alg}: {:?}", response.body);
        let seen = last_seen(&backend);
        assert_eq!(seen["x-rampart-subject"], "alice", "{alg}");
        assert_eq!(seen["x-rampart-auth-method"], "bearer", "{alg}");
        assert_eq!(seen["x-rampart-scopes"], "read write", "{alg}");
    }

    // Refused tokens: 401 with RFC 6750's invalid_token, nothing forwarded.
    let mut expired = idp.claims(AUDIENCE);
    expired["exp"] = json!(rampart_test_support::idp::unix_now() - 3600);
    let mut other_audience = idp.claims("someone-else");
    other_audience["aud"] = json!("someone-else");
    let good = idp.mint("ES256", &idp.claims(AUDIENCE));
    let tampered = format!("{}x", &good[..good.len() - 1]);
    let forwarded = backend.seen().len();
    for (label, token) in [
        ("expired", idp.mint("ES256", &expired)),
        ("wrong audience", idp.mint("ES256", &other_audience)),
        (
            "alg none",
            rampart_test_support::idp::mint_none(&idp.claims(AUDIENCE)),
        ),
        ("tampered", tampered),
        ("oversized", "a".repeat(20_000)),
    ] {
        let auth = format!("Bearer {token}");
        let response = send(&stack, "/reports/q", &[("authorization", &auth)]).await;
        assert_problem(&response, 401, "unauthenticated");
        assert_eq!(
            challenges(&response),
            ["Bearer realm=\"rampart\", error=\"invalid_token\""],
            "{label}"
        );
    }
    assert_eq!(backend.seen().len(), forwarded);

    // A valid token without the route's scope: 403 insufficient_scope.
    let auth = format!("Bearer {good}");
    let response = send(&stack, "/billing/1", &[("authorization", &auth)]).await;
    assert_problem(&response, 403, "forbidden");
    assert_eq!(
        challenges(&response),
        ["Bearer realm=\"rampart\", error=\"insufficient_scope\", scope=\"billing\""]
    );

    // Opaque tokens by introspection; the second use is answered from the cache.
    let opaque = "opaque-token-3f9a";
    idp.register_opaque(
        opaque,
        json!({ "sub": "svc-batch", "scope": "read", "client_id": "batch" }),
    );
    let auth = format!("Bearer {opaque}");
    let calls = idp.introspect_calls();
    for _ in 0..2 {
        let response = send(&stack, "/reports/q", &[("authorization", &auth)]).await;
        assert_eq!(response.status, 200, "{:?}", response.body);
    }
    assert_eq!(
        idp.introspect_calls(),
        calls + 1,
        "cached after the first call"
    );
    assert_eq!(last_seen(&backend)["x-rampart-consumer"], "batch");
    // An inactive token is refused.
    let unknown = "Bearer opaque-never-issued";
    let response = send(&stack, "/reports/q", &[("authorization", unknown)]).await;
    assert_problem(&response, 401, "unauthenticated");

    // The IdP down: an uncached opaque token cannot be judged -> 503, fail closed.
    idp.set_down(true);
    let forwarded = backend.seen().len();
    let response = send(
        &stack,
        "/reports/q",
        &[("authorization", "Bearer opaque-fresh-1")],
    )
    .await;
    assert_problem(&response, 503, "inspection-unavailable");
    // A JWT whose keys are cached still verifies without the IdP.
    let auth = format!("Bearer {}", idp.mint("RS256", &idp.claims(AUDIENCE)));
    let response = send(&stack, "/reports/q", &[("authorization", &auth)]).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(backend.seen().len(), forwarded + 1);
    idp.set_down(false);

    // No token ever reaches the logs.
    let logs: String = stack.edge.logs().iter().map(ToString::to_string).collect();
    assert!(
        !logs.contains(&good[good.len() - 40..]),
        "a token reached the logs"
    );
    assert!(!logs.contains(opaque), "an opaque token reached the logs");
}

fn ath(token: &str) -> String {
    use base64::Engine as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_bound_tokens_need_a_fresh_proof_for_this_request() {
    use rampart_test_support::idp::{IdpKey, mint_with, unix_now};
    let backend = Backend::start().await;
    let idp = Idp::start().await;
    let ca = idp.ca_path().display().to_string();
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        r#"
[oauth]
[[oauth.issuers]]
name = "test"
issuer = "{issuer}"
audience = "{AUDIENCE}"
jwks_uri = "{jwks}"
ca = "{ca}"

[[routes]]
name = "payments"
path_prefix = "/payments"
auth = {{ methods = ["bearer"] }}
bearer = {{ binding = "dpop" }}
"#,
        issuer = idp.issuer(),
        jwks = idp.jwks_uri(),
    );
    let stack = Stack::start(&bins(), &opts);

    let holder = tokio::task::spawn_blocking(|| IdpKey::generate("ES256", "holder"))
        .await
        .unwrap();
    let jkt = rampart_oauth_thumbprint(&holder);
    let mut claims = idp.claims(AUDIENCE);
    claims["cnf"] = json!({ "jkt": jkt });
    let token = idp.mint("ES256", &claims);
    let htu = "http://api.example.test/payments/1";
    let proof = |jti: &str, htu: &str| {
        let claims = json!({
            "jti": jti, "htm": "GET", "htu": htu, "iat": unix_now(), "ath": ath(&token),
        });
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": holder.jwk() });
        mint_with(&header, &claims, |m| holder.sign(m))
    };
    let auth = format!("DPoP {token}");
    let valid = proof("p-1", htu);
    let response = send(
        &stack,
        "/payments/1?x=1",
        &[("authorization", &auth), ("dpop", &valid)],
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert!(
        last_seen(&backend).get("dpop").is_none(),
        "the proof stays at the edge"
    );

    let unbound = format!("Bearer {}", idp.mint("ES256", &idp.claims(AUDIENCE)));
    let forwarded = backend.seen().len();
    for (label, headers) in [
        (
            "replayed proof",
            vec![("authorization", auth.clone()), ("dpop", valid.clone())],
        ),
        (
            "proof for another URL",
            vec![
                ("authorization", auth.clone()),
                ("dpop", proof("p-2", "http://api.example.test/payments/2")),
            ],
        ),
        ("no proof", vec![("authorization", auth.clone())]),
        (
            "bound token under the Bearer scheme",
            vec![
                ("authorization", format!("Bearer {token}")),
                ("dpop", proof("p-3", htu)),
            ],
        ),
        ("unbound token", vec![("authorization", unbound.clone())]),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = send(&stack, "/payments/1", &headers).await;
        assert_problem(&response, 401, "unauthenticated");
        assert!(!challenges(&response).is_empty(), "{label}");
    }
    assert_eq!(
        backend.seen().len(),
        forwarded,
        "nothing else was forwarded"
    );
    let logs: String = stack.edge.logs().iter().map(ToString::to_string).collect();
    let signature = |jws: &str| jws.rsplit('.').next().unwrap().to_owned();
    for secret in [signature(&token), signature(&valid)] {
        assert!(!logs.contains(&secret), "a token or proof reached the logs");
    }
}

fn rampart_oauth_thumbprint(key: &rampart_test_support::idp::IdpKey) -> String {
    rampart_oauth::jwk_thumbprint(key.jwk().as_object().unwrap()).unwrap()
}
