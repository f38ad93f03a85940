#![allow(clippy::unwrap_used, clippy::panic, clippy::type_complexity)]

use super::*;

fn raw(toml_text: &str) -> RawAuthPolicy {
    toml::from_str(toml_text).unwrap()
}

fn policy(toml_text: &str) -> AuthPolicy {
    let mut p = Problems::default();
    let policy = AuthPolicy::validate(&mut p, "routes[0].auth", &raw(toml_text));
    assert!(p.is_empty(), "{p:?}");
    policy.unwrap()
}

fn caller(method: Method, scopes: &[&str], roles: &[&str]) -> Principal {
    Principal {
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        roles: roles.iter().map(|s| (*s).to_owned()).collect(),
        ..Principal::new("c", method)
    }
}

#[test]
fn requires_all_scopes_and_any_role() {
    let pol = policy(
        r#"methods = ["api_key", "bearer"]
           scopes = ["orders:read", "orders:list"]
           roles = ["admin", "ops"]"#,
    );
    let both = ["orders:read", "orders:list"];
    let cases: Vec<(Principal, Result<(), (Reason, &str)>)> = vec![
        (caller(Method::ApiKey, &both, &["ops"]), Ok(())),
        (
            caller(
                Method::Bearer,
                &["x", "orders:list", "orders:read"],
                &["admin", "z"],
            ),
            Ok(()),
        ),
        (
            caller(Method::ApiKey, &["orders:read"], &["admin"]),
            Err((Reason::Forbidden, "missing-scope:orders:list")),
        ),
        (
            caller(Method::ApiKey, &[], &["admin"]),
            Err((Reason::Forbidden, "missing-scope:orders:read orders:list")),
        ),
        (
            caller(
                Method::ApiKey,
                &["orders:read:x", "orders:list"],
                &["admin"],
            ),
            Err((Reason::Forbidden, "missing-scope:orders:read")),
        ),
        (
            caller(Method::ApiKey, &both, &["Admin"]),
            Err((Reason::Forbidden, "missing-role:admin|ops")),
        ),
        (
            caller(Method::ApiKey, &both, &[]),
            Err((Reason::Forbidden, "missing-role:admin|ops")),
        ),
        (
            caller(Method::Basic, &both, &["admin"]),
            Err((Reason::Unauthenticated, "method-not-accepted:basic")),
        ),
    ];
    for (who, want) in cases {
        let got = pol.authorize(&who).map_err(|d| (d.reason, d.rule.unwrap()));
        assert_eq!(got, want.map_err(|(r, s)| (r, s.to_owned())), "{who:?}");
    }
    assert!(
        policy("")
            .authorize(&caller(Method::Basic, &[], &[]))
            .is_ok(),
        "public route"
    );
    assert!(
        policy("methods = [\"mtls\"]")
            .authorize(&caller(Method::ClientCert, &[], &[]))
            .is_ok()
    );
}

#[test]
fn challenges_one_header_per_scheme() {
    let pol = policy(
        r#"methods = ["bearer", "basic", "api_key", "mtls"]
                       realm = "orders API"
                       scopes = ["orders:read", "orders:write"]"#,
    );
    let want = [
        "Bearer realm=\"orders API\"",
        "Basic realm=\"orders API\", charset=\"UTF-8\"",
        "ApiKey realm=\"orders API\"",
    ];
    assert_eq!(pol.challenges(false), want);
    assert_eq!(
        pol.challenges(true)[0],
        "Bearer realm=\"orders API\", error=\"invalid_token\""
    );
    assert_eq!(
        pol.insufficient_scope().unwrap(),
        "Bearer realm=\"orders API\", error=\"insufficient_scope\", scope=\"orders:read orders:write\""
    );
    assert_eq!(
        policy("methods = [\"basic\"]").challenges(false),
        ["Basic realm=\"rampart\", charset=\"UTF-8\""]
    );
    assert!(
        policy("methods = [\"basic\"]")
            .insufficient_scope()
            .is_none()
    );
    assert!(policy("").challenges(true).is_empty());
}

#[test]
fn api_key_source_follows_the_route() {
    let p = policy(
        r#"methods = ["api_key"]
                     api_key_query = "api_key""#,
    );
    assert_eq!(p.api_key_source().header.as_ref().unwrap(), "x-api-key");
    assert_eq!(p.api_key_source().query.as_deref(), Some("api_key"));
    let p = policy(
        r#"methods = ["api_key"]
                     api_key_header = "X-Partner-Key""#,
    );
    assert_eq!(p.api_key_source().header.as_ref().unwrap(), "x-partner-key");
    assert_eq!(p.api_key_source().query, None, "query only when allowed");
    assert_eq!(
        policy("methods = [\"bearer\"]").api_key_source().header,
        None
    );
}

#[test]
fn reports_every_policy_problem_with_its_key_path() {
    let cases = [
        (
            "methods = [\"oauth\"]",
            "routes[0].auth.methods[0]: unknown auth method \"oauth\"",
        ),
        (
            "methods = [\"basic\", \"basic\"]",
            "routes[0].auth.methods[1]: basic listed twice",
        ),
        ("scopes = [\"a\"]", "routes[0].auth.scopes: a public route"),
        (
            "methods = [\"bearer\"]\nscopes = [\"a b\"]",
            "routes[0].auth.scopes[0]: ",
        ),
        (
            "methods = [\"bearer\"]\nroles = [\"x\\\"y\"]",
            "routes[0].auth.roles[0]: ",
        ),
        (
            "methods = [\"basic\"]\nrealm = \"a\\\"b\"",
            "routes[0].auth.realm: ",
        ),
        (
            "methods = [\"basic\"]\napi_key_query = \"k\"",
            "routes[0].auth.api_key_query: set, but",
        ),
        (
            "methods = [\"api_key\"]\napi_key_query = \"k=\"",
            "routes[0].auth.api_key_query: must be",
        ),
        (
            "methods = [\"api_key\"]\napi_key_header = \"Authorization\"",
            "routes[0].auth.api_key_header: ",
        ),
        (
            "methods = [\"api_key\"]\napi_key_header = \"bad header\"",
            "routes[0].auth.api_key_header: ",
        ),
    ];
    for (text, want) in cases {
        let mut p = Problems::default();
        let out = AuthPolicy::validate(&mut p, "routes[0].auth", &raw(text));
        assert!(out.is_none(), "{text}");
        let found = p
            .finish(std::path::Path::new("edge.toml"), Some(()))
            .unwrap_err()
            .to_string();
        assert!(found.contains(want), "want {want:?} in {found}");
    }
    assert!(
        toml::from_str::<RawAuthPolicy>("method = []").is_err(),
        "unknown fields refused"
    );
}
