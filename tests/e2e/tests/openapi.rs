//! The API contract on the inner tier, seen from a client: documented calls reach the
//! backend; undocumented paths and methods, wrong types, extra properties and bad
//! parameters are refused with the right status, and the inner's audit log names the
//! field and the keyword; free-text fields are still screened for attacks.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{assert_problem, bins};

const ORDER: &str = "4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f";

fn spec() -> String {
    format!(
        "{}/../../deploy/examples/openapi/orders.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn routes(mode: &str) -> String {
    format!(
        "[[routes]]\nname = \"orders\"\npath_prefix = \"/\"\nupstream = \"app\"\n\
         openapi = {{ spec = {:?}, mode = {mode:?} }}\n",
        spec()
    )
}

fn request(method: &str, uri: &str, body: Option<(&str, &str)>) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "api.example.test");
    let body = match body {
        Some((content_type, body)) => {
            b = b.header("content-type", content_type);
            Bytes::from(body.to_owned())
        }
        None => Bytes::new(),
    };
    b.body(Full::new(body)).unwrap()
}

fn json(body: &str) -> Option<(&'static str, &str)> {
    Some(("application/json", body))
}

/// (method, uri, body, status, reason, audit (rule, location) for refusals)
type Case<'a> = (
    &'a str,
    String,
    Option<(&'a str, &'a str)>,
    u16,
    &'a str,
    Option<(&'a str, &'a str)>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_admits_documented_calls_and_refuses_the_rest_with_explanations() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.routes = routes("enforce");
    let stack = Stack::start(&bins(), &opts);
    let cases: Vec<Case<'_>> = vec![
        (
            "GET",
            "/orders?limit=10&status=open".into(),
            None,
            200,
            "",
            None,
        ),
        ("GET", format!("/orders/{ORDER}"), None, 200, "", None),
        (
            "POST",
            "/orders".into(),
            json(r#"{"item":"book","quantity":2,"note":"select your plan, O'Reilly"}"#),
            200,
            "",
            None,
        ),
        (
            "GET",
            "/admin/users".into(),
            None,
            403,
            "forbidden",
            Some(("undocumented-path", "path")),
        ),
        (
            "PUT",
            "/orders".into(),
            json("{}"),
            405,
            "method-not-allowed",
            Some(("undocumented-method", "method")),
        ),
        (
            "POST",
            "/orders".into(),
            Some(("application/x-www-form-urlencoded", "item=book&quantity=2")),
            415,
            "unsupported-media-type",
            Some(("media-type", "body")),
        ),
        (
            "GET",
            "/orders?limit=ten".into(),
            None,
            400,
            "bad-request",
            Some(("type", "query:limit")),
        ),
        (
            "GET",
            "/orders?limit=1000".into(),
            None,
            400,
            "bad-request",
            Some(("maximum", "query:limit")),
        ),
        (
            "POST",
            "/orders".into(),
            json(r#"{"item":"book","quantity":"2"}"#),
            422,
            "unprocessable-content",
            Some(("type", "json:/quantity")),
        ),
        (
            "POST",
            "/orders".into(),
            json(r#"{"item":"book","quantity":2,"role":"admin"}"#),
            422,
            "unprocessable-content",
            Some(("additionalProperties", "json:/role")),
        ),
        (
            "POST",
            "/orders".into(),
            json(r#"{"id":"4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f","item":"book","quantity":2}"#),
            422,
            "unprocessable-content",
            Some(("readOnly", "json:/id")),
        ),
        (
            "POST",
            "/orders".into(),
            json(r#"{"item":"book","quantity":2,"customer":"1' OR '1'='1"}"#),
            422,
            "unprocessable-content",
            Some(("format", "json:/customer")),
        ),
        (
            "POST",
            "/orders".into(),
            json(r#"{"item":"book","quantity":2,"note":"1' UNION SELECT password FROM users--"}"#),
            403,
            "attack-detected",
            None,
        ),
    ];
    for (method, uri, body, status, reason, _) in &cases {
        let response = collect(
            http1(stack.http(), request(method, uri, *body))
                .await
                .unwrap(),
        )
        .await;
        if *status == 200 {
            assert_eq!(response.status, 200, "{method} {uri}: {:?}", response.body);
        } else {
            assert_problem(&response, *status, reason);
        }
        if *status == 405 {
            assert_eq!(
                response.header("allow"),
                Some("GET, POST"),
                "{method} {uri}"
            );
        }
    }
    // Only the documented calls reached the backend.
    let seen: Vec<String> = backend
        .seen()
        .into_iter()
        .map(|s| format!("{} {}", s.method, s.uri))
        .collect();
    assert_eq!(
        seen,
        [
            "GET /orders?limit=10&status=open".to_owned(),
            format!("GET /orders/{ORDER}"),
            "POST /orders".to_owned(),
        ]
    );
    // Each contract refusal is one audit record naming the keyword and the field.
    let inner = stack.inner.as_ref().unwrap();
    let audit: Vec<_> = inner
        .logs()
        .into_iter()
        .filter(|l| l["target"] == "rampart::audit")
        .collect();
    for (method, uri, _, status, reason, explained) in &cases {
        let Some((rule, location)) = explained else {
            continue;
        };
        let found = audit.iter().any(|l| {
            l["check"] == "openapi"
                && l["rule"] == *rule
                && l["location"] == *location
                && l["reason"] == *reason
                && l["status"] == *status
                && l["action"] == "block"
        });
        assert!(
            found,
            "{method} {uri}: no audit record for {rule}@{location}: {audit:?}"
        );
    }
    // The injection in free text was found by the detectors, in the field it was in.
    assert!(
        audit.iter().any(|l| l["reason"] == "attack-detected"
            && l["location"]
                .as_str()
                .is_some_and(|loc| loc.starts_with("json:/note"))),
        "{audit:?}"
    );
    // Values never reach the audit log.
    let text = format!("{audit:?}");
    assert!(
        !text.contains("admin") && !text.contains("OR '1'"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mode_lets_violations_through_and_audits_each_one() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.routes = routes("report");
    let stack = Stack::start(&bins(), &opts);
    let body = json(r#"{"item":"book","quantity":"2","role":"admin"}"#);
    let response = collect(
        http1(stack.http(), request("POST", "/orders", body))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    let inner = stack.inner.as_ref().unwrap();
    let reports = || -> Vec<(String, String)> {
        inner
            .logs()
            .into_iter()
            .filter(|l| l["target"] == "rampart::audit" && l["action"] == "report")
            .map(|l| {
                (
                    l["rule"].as_str().unwrap_or("").to_owned(),
                    l["location"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    // Audit records are written by a writer thread and read back from the process's
    // output: give them a moment to arrive before judging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut reported = reports();
    while reported.len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        reported = reports();
    }
    for expected in [
        ("type", "json:/quantity"),
        ("additionalProperties", "json:/role"),
    ] {
        assert!(
            reported
                .iter()
                .any(|(r, l)| r == expected.0 && l == expected.1),
            "{expected:?} not in {reported:?}"
        );
    }
    // Attacks in free text are still blocked in report mode: the contract only reports.
    let attack = json(r#"{"item":"book","quantity":2,"note":"<script>alert(1)</script>"}"#);
    let response = collect(
        http1(stack.http(), request("POST", "/orders", attack))
            .await
            .unwrap(),
    )
    .await;
    assert_problem(&response, 403, "attack-detected");
}
