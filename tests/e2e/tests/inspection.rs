//! Deep inspection on the inner tier, seen from a client: strict parsing, attacks in
//! body leaves (also nested, encoded or compressed), explainable audit records, and
//! the backend receiving exactly what was inspected.

use std::io::Write as _;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{assert_problem, bins};

const ROUTES: &str = r#"
[[routes]]
name = "api"
path_prefix = "/"
upstream = "app"
"#;

fn post(content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method("POST")
        .uri("/orders")
        .header("host", "api.example.test")
        .header("content-type", content_type);
    if let Some(e) = encoding {
        builder = builder.header("content-encoding", e);
    }
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_parsed_strictly_and_attacks_in_any_leaf_are_refused() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.routes = ROUTES.into();
    let stack = Stack::start(&bins(), &opts);
    let json = "application/json";
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(Request<Full<Bytes>>, u16, &str)> = vec![
        (
            post(
                json,
                None,
                br#"{"plan":"select your plan","name":"O'Reilly"}"#.to_vec(),
            ),
            200,
            "",
        ),
        (
            post(
                json,
                None,
                br#"{"items":[{"note":"1' UNION SELECT password FROM users--"}]}"#.to_vec(),
            ),
            403,
            "attack-detected",
        ),
        (
            post(
                json,
                None,
                br#"{"wrapped":"{\"x\":\"<img src=x onerror=alert(1)>\"}"}"#.to_vec(),
            ),
            403,
            "attack-detected",
        ),
        (
            post(json, Some("gzip"), gzip(br#"{"cmd":"a; cat /etc/passwd"}"#)),
            403,
            "attack-detected",
        ),
        (
            post(json, Some("gzip"), gzip(br#"{"note":"cats & dogs"}"#)),
            200,
            "",
        ),
        (
            post(json, None, br#"{"role":"user","role":"admin"}"#.to_vec()),
            422,
            "unprocessable-content",
        ),
        (
            post(json, None, br#"{"a":1} {"b":2}"#.to_vec()),
            400,
            "bad-request",
        ),
        (
            post(form, None, b"q=how+to+use+..%2F+in+bash&page=2".to_vec()),
            200,
            "",
        ),
        (
            post(form, None, b"file=..%2F..%2F..%2Fetc%2Fpasswd".to_vec()),
            403,
            "attack-detected",
        ),
        (
            post(
                "application/xml",
                None,
                b"<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>".to_vec(),
            ),
            // Refused by the parser (no DOCTYPE ever), and an attack in its raw bytes:
            // the more serious finding wins.
            403,
            "attack-detected",
        ),
        (
            post(
                "application/xml",
                None,
                b"<!DOCTYPE note><note>hello</note>".to_vec(),
            ),
            400,
            "bad-request",
        ),
        (
            post(
                "application/xml",
                None,
                b"<order id=\"7\"><item>Tom &amp; Jerry</item></order>".to_vec(),
            ),
            200,
            "",
        ),
        (
            post("application/octet-stream", None, vec![0, 1, 2]),
            415,
            "unsupported-media-type",
        ),
    ];
    for (request, status, reason) in cases {
        let label = format!("{:?}", request.body());
        let response = collect(http1(stack.http(), request).await.unwrap()).await;
        if status == 200 {
            assert_eq!(response.status, 200, "{label}: {:?}", response.body);
        } else {
            assert_problem(&response, status, reason);
        }
    }
    // Only the look-alikes reached the backend.
    let seen = backend
        .seen()
        .into_iter()
        .filter(|s| s.uri == "/orders")
        .count();
    assert_eq!(seen, 4);
    // Each denial is explained in the inner tier's audit log: rule, location, fragment.
    let inner = stack.inner.as_ref().unwrap();
    let audit: Vec<_> = inner
        .logs()
        .into_iter()
        .filter(|l| l["target"] == "rampart::audit" && l["reason"] == "attack-detected")
        .collect();
    assert!(audit.len() >= 4, "{audit:?}");
    assert!(
        audit.iter().any(|l| l["location"]
            .as_str()
            .is_some_and(|loc| loc.starts_with("json:/items/0/note"))),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_receives_the_canonical_body_that_was_inspected() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.routes = ROUTES.into();
    let stack = Stack::start(&bins(), &opts);
    let sent = gzip(br#"{ "a" : [1, 2] ,  "b" : "x" }"#);
    let response = collect(
        http1(stack.http(), post("application/json", Some("gzip"), sent))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(&response.body[..], br#"{"a":[1,2],"b":"x"}"#);
    let echoed: Vec<(String, String)> =
        serde_json::from_str(response.header("x-echo-headers").unwrap()).unwrap();
    assert!(
        !echoed.iter().any(|(k, _)| k == "content-encoding"),
        "{echoed:?}"
    );
    assert!(
        echoed
            .iter()
            .any(|(k, v)| k == "content-length" && v == "19"),
        "{echoed:?}"
    );
}
