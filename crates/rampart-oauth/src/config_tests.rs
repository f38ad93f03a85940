#![allow(clippy::unwrap_used, clippy::expect_used)]

use rampart_core::config::ConfigError;
use rampart_test_support::pki::TestPki;

use super::*;

fn validate(text: &str) -> Result<OAuthConfig, Vec<String>> {
    let raw: RawOAuth = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(vec![format!("parse: {}", e.message())]),
    };
    let mut p = Problems::default();
    let config = OAuthConfig::validate(&mut p, &raw);
    p.finish(Path::new("t.toml"), config).map_err(|e| match e {
        ConfigError::Invalid { problems, .. } => problems.iter().map(|p| p.key.clone()).collect(),
        other => vec![other.to_string()],
    })
}

struct Files {
    pki: TestPki,
}

impl Files {
    fn new() -> Self {
        let pki = TestPki::new();
        std::fs::write(pki.path().join("long.secret"), "x".repeat(40) + "\n").unwrap();
        std::fs::write(pki.path().join("short.secret"), "short\n").unwrap();
        std::fs::write(pki.path().join("empty.secret"), "\n").unwrap();
        Self { pki }
    }

    fn ca(&self) -> String {
        self.pki.ca_path.display().to_string()
    }

    fn secret(&self, name: &str) -> String {
        self.pki.path().join(name).display().to_string()
    }
}

fn issuer(f: &Files, extra: &str) -> String {
    format!(
        "[[issuers]]\nname = \"a\"\nissuer = \"https://idp.test\"\naudience = \"api\"\nca = \"{}\"\n{extra}\n",
        f.ca()
    )
}

#[test]
fn good_configs_validate_with_defaults() {
    let f = Files::new();
    let c = validate(&issuer(&f, "discovery = true")).unwrap();
    assert_eq!(c.max_token_bytes, 8192);
    let i = &c.issuers[0];
    assert_eq!(i.policy.leeway, Duration::from_secs(30));
    let keys = i.keys.as_ref().unwrap();
    assert_eq!(keys.source, KeySource::Discovery);
    assert_eq!(keys.refresh.refresh_interval, Duration::from_secs(600));
    assert_eq!(keys.refresh.min_refresh_interval, Duration::from_secs(30));
    assert!(!i.policy.algorithms.iter().any(|a| a.is_hmac()));

    let hmac = format!(
        "[[issuers]]\nname = \"h\"\nissuer = \"https://legacy.test\"\naudience = \"api\"\nhmac_secret_file = \"{}\"\nalgorithms = [\"HS256\"]\n",
        f.secret("long.secret")
    );
    let c = validate(&hmac).unwrap();
    assert!(c.issuers[0].keys.is_none());
    assert_eq!(c.issuers[0].policy.algorithms, vec![Alg::Hs256]);
    assert_eq!(
        c.issuers[0]
            .policy
            .hmac_secret
            .as_ref()
            .unwrap()
            .expose()
            .len(),
        40
    );
    assert!(!format!("{c:?}").contains("xxxxxxxx"));

    let intro = format!(
        "[introspection]\nendpoint = \"https://idp.test/introspect\"\nclient_id = \"edge\"\nclient_secret_file = \"{}\"\nca = \"{}\"\nnegative_ttl = \"5s\"\n",
        f.secret("long.secret"),
        f.ca()
    );
    let c = validate(&intro).unwrap();
    let i = c.introspection.unwrap();
    assert_eq!(i.policy.negative_ttl, Duration::from_secs(5));
    assert!(!format!("{i:?}").contains("xxxxxxxx"));
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let f = Files::new();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (issuer(&f, ""), vec!["oauth.issuers[0].jwks_uri"]),
        (
            issuer(&f, "discovery = true\njwks_uri = \"https://idp.test/jwks\""),
            vec!["oauth.issuers[0].jwks_uri"],
        ),
        (
            issuer(&f, "jwks_uri = \"http://idp.test/jwks\""),
            vec!["oauth.issuers[0].jwks_uri"],
        ),
        (
            issuer(&f, "discovery = true\nalgorithms = [\"RS256\", \"HS256\", \"none\"]"),
            vec!["oauth.issuers[0].algorithms[1]", "oauth.issuers[0].algorithms[2]"],
        ),
        (
            issuer(&f, "discovery = true\nleeway = \"10m\"\nrefresh_interval = \"soon\""),
            vec!["oauth.issuers[0].leeway", "oauth.issuers[0].refresh_interval"],
        ),
        (
            format!("{}\n{}", issuer(&f, "discovery = true"), issuer(&f, "discovery = true")),
            vec!["oauth.issuers[1].name"],
        ),
        (
            "[[issuers]]\nname = \"a\"\nissuer = \"http://idp.test\"\naudience = \"\"\ndiscovery = true\n"
                .to_owned(),
            vec!["oauth.issuers[0].issuer", "oauth.issuers[0].audience", "oauth.issuers[0].ca"],
        ),
        (
            format!(
                "[[issuers]]\nname = \"h\"\nissuer = \"https://l.test\"\naudience = \"a\"\nhmac_secret_file = \"{}\"\ndiscovery = true\nalgorithms = [\"RS256\"]\n",
                f.secret("short.secret")
            ),
            vec![
                "oauth.issuers[0].hmac_secret_file",
                "oauth.issuers[0].algorithms[0]",
                "oauth.issuers[0].hmac_secret_file",
            ],
        ),
        (
            format!(
                "[[issuers]]\nname = \"h\"\nissuer = \"https://l.test\"\naudience = \"a\"\nhmac_secret_file = \"{}\"\n",
                f.secret("empty.secret")
            ),
            vec!["oauth.issuers[0].hmac_secret_file"],
        ),
        (
            "[introspection]\nendpoint = \"http://idp.test/i\"\nclient_id = \"\"\nclient_secret_file = \"/nonexistent/secret\"\nca = \"/nonexistent/ca.pem\"\ncapacity = 0\n"
                .to_owned(),
            vec![
                "oauth.introspection.endpoint",
                "oauth.introspection.client_id",
                "oauth.introspection.client_secret_file",
                "oauth.introspection.ca",
                "oauth.introspection.capacity",
            ],
        ),
        ("max_token_size = \"1MiB\"".to_owned(), vec!["oauth.max_token_size"]),
        ("max_token_size = \"lots\"".to_owned(), vec!["oauth.max_token_size"]),
    ];
    for (text, want) in cases {
        assert_eq!(validate(&text).unwrap_err(), want, "{text}");
    }
}

#[test]
fn unknown_keys_are_refused() {
    let f = Files::new();
    let err = validate(&issuer(&f, "discovery = true\njwks = \"https://x\"")).unwrap_err();
    assert!(err[0].contains("unknown field"), "{err:?}");
    let err = validate("issuerz = []").unwrap_err();
    assert!(err[0].contains("unknown field"), "{err:?}");
}
