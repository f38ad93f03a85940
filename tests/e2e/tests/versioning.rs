//! API versions and their lifecycle at the edge: a deprecated version is served with
//! `Deprecation`, `Sunset` and `Link` headers on every response (refusals included); a
//! retired one is answered 410 by the edge with a problem body and its successor link,
//! and nothing reaches the inner tier or the backend. Bad lifecycle settings stop the
//! edge at start with the key path named.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{Collected, collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{assert_problem, bins};

const ROUTES: &str = r#"
[[routes]]
name = "orders-v1"
path_prefix = "/v1/orders"
api_version = "v1"
methods = ["GET"]
lifecycle = { state = "deprecated", deprecated_at = "2026-06-01T00:00:00Z", sunset = "2027-01-31T00:00:00Z", successor = "/v2/orders", link = "https://docs.example/migrate" }

[[routes]]
name = "orders-v0"
path_prefix = "/v0/orders"
api_version = "v0"
lifecycle = { state = "retired", successor = "/v2/orders" }

[[routes]]
name = "orders-v2"
path_prefix = "/v2/orders"
api_version = "v2"
"#;

async fn send(addr: std::net::SocketAddr, method: &str, target: &str) -> Collected {
    let request = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "api.example.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(http1(addr, request).await.unwrap()).await
}

fn links(response: &Collected) -> Vec<String> {
    response
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprecated_versions_carry_lifecycle_headers_and_retired_ones_answer_410() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = ROUTES.to_owned();
    let stack = Stack::start(&bins(), &opts);

    // Deprecated: served, with the exact headers.
    let served = send(stack.http(), "GET", "/v1/orders/7").await;
    assert_eq!(served.status, 200, "{:?}", served.body);
    assert_eq!(served.header("deprecation"), Some("@1780272000"));
    assert_eq!(
        served.header("sunset"),
        Some("Sun, 31 Jan 2027 00:00:00 GMT")
    );
    assert_eq!(
        links(&served),
        [
            "</v2/orders>; rel=\"successor-version\"",
            "<https://docs.example/migrate>; rel=\"deprecation\"; type=\"text/html\"",
        ]
    );
    // A refusal on the deprecated route says so too.
    let refused = send(stack.http(), "DELETE", "/v1/orders/7").await;
    assert_problem(&refused, 405, "method-not-allowed");
    assert_eq!(refused.header("deprecation"), Some("@1780272000"));
    assert_eq!(links(&refused).len(), 2);

    // The current version and unrelated look-alike paths carry none of it.
    for target in ["/v2/orders/7", "/v1/ordersx", "/v10/orders"] {
        let current = send(stack.http(), "GET", target).await;
        assert_eq!(current.status, 200, "{target}");
        assert!(current.header("deprecation").is_none(), "{target}");
        assert!(current.header("sunset").is_none(), "{target}");
        assert!(links(&current).is_empty(), "{target}");
    }

    // Retired: 410 from the edge with the successor, and nothing forwarded.
    let before = backend.seen().len();
    for method in ["GET", "POST", "DELETE"] {
        let gone = send(stack.http(), method, "/v0/orders/7?x=1").await;
        assert_problem(&gone, 410, "api-retired");
        assert_eq!(links(&gone), ["</v2/orders>; rel=\"successor-version\""]);
        assert!(gone.header("deprecation").is_none());
    }
    assert_eq!(
        backend.seen().len(),
        before,
        "a retired route reaches no backend"
    );
    let inner = stack.inner.as_ref().unwrap();
    assert!(
        !inner
            .access_log()
            .iter()
            .any(|l| l["path"].as_str().is_some_and(|p| p.starts_with("/v0/"))),
        "a retired route reaches no inner tier"
    );
    // Audited like any refusal.
    let audited = || {
        stack
            .edge
            .logs()
            .into_iter()
            .filter(|l| {
                l["target"] == "rampart::audit"
                    && l["check"] == "api-lifecycle"
                    && l["reason"] == "api-retired"
                    && l["action"] == "block"
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while audited() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(audited(), 3);
}

#[test]
fn bad_lifecycle_settings_stop_the_edge_with_the_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"lifecycle = { state = "deprecated", deprecated_at = "2026-06-01T00:00:00Z", sunset = "2026-01-01T00:00:00Z" }"#,
            "routes[0].lifecycle.sunset",
        ),
        (
            r#"lifecycle = { state = "deprecated", deprecated_at = "June 1st" }"#,
            "routes[0].lifecycle.deprecated_at",
        ),
        (
            r#"lifecycle = { state = "retired", successor = "javascript:alert(1)" }"#,
            "routes[0].lifecycle.successor",
        ),
        (
            r#"lifecycle = { state = "retired", successor = "/v2\r\nSet-Cookie: a=b" }"#,
            "routes[0].lifecycle.successor",
        ),
        (
            r#"lifecycle = { state = "gone" }"#,
            "routes[0].lifecycle.state",
        ),
        (r#"api_version = "v 1""#, "routes[0].api_version"),
    ];
    for (i, (line, key)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("edge{i}.toml"));
        let text = format!(
            "[server]\nhttp_listen = \"127.0.0.1:0\"\n\n[inner]\nendpoints = [\"127.0.0.1:1\"]\n\n\
             [[routes]]\nname = \"v1\"\npath_prefix = \"/v1\"\n{}\n",
            line.replace("\r\n", "\\r\\n")
        );
        std::fs::write(&path, text).unwrap();
        let output = std::process::Command::new(bins().edge)
            .arg("--config")
            .arg(&path)
            .arg("--check")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{line}: accepted");
        assert!(text.contains(key), "{line}: {text}");
    }
}
