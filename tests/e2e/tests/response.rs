//! Response protection on the inner tier (`[routes.response]`): a backend that leaks
//! card numbers, secrets, stack traces and SQL errors, breaks its OpenAPI contract or
//! answers cleanly; the client gets a 502 problem, a masked body or the body as sent,
//! with security headers added, and the audit log explains each decision without the
//! leaked value. Large binary answers stream through byte for byte.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rampart_test_support::backend::{Fnv, fill_pattern, pattern_body};
use rampart_test_support::client::{Collected, collect, http1, https2};
use rampart_test_support::stack::{Stack, StackOptions};
use tokio::net::TcpListener;

use crate::common::{assert_problem, bins};

const SPEC: &str = r#"openapi: 3.1.0
info: {title: orders, version: "1"}
paths:
  /orders/{id}:
    get:
      responses:
        200:
          description: one order
          content:
            application/json:
              schema:
                type: object
                required: [id, total]
                additionalProperties: false
                properties:
                  id: {type: integer, readOnly: true}
                  total: {type: number}
        404:
          description: no such order
"#;

const CARD_JSON: &str =
    r#"{"customer":"Ada","pan":"4111 1111 1111 1111","order":"9876543210123452"}"#;
const MASKED_JSON: &str =
    r#"{"customer":"Ada","pan":"**** **** **** 1111","order":"9876543210123452"}"#;
const BINARY_BYTES: u64 = 3 << 20;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

/// The backend's answer by path.
fn answer(path: &str) -> Response<Body> {
    let json = "application/json";
    match path {
        "/orders/1" => reply(200, json, r#"{"id":1,"total":9.5}"#),
        "/orders/2" => reply(200, json, r#"{"id":2,"total":"free"}"#),
        "/orders/3" => reply(418, "text/plain", "teapot"),
        "/orders/4" => reply(404, "text/html", "<h1>not here</h1>"),
        "/card" => reply(200, json, CARD_JSON),
        "/card-gzip" => {
            let mut r = reply(200, json, gzip(CARD_JSON.as_bytes()));
            r.headers_mut()
                .insert("content-encoding", "gzip".parse().unwrap());
            r.headers_mut().insert("etag", "\"v1\"".parse().unwrap());
            r
        }
        "/key" => reply(200, json, r#"{"config":{"aws":"AKIAIOSFODNN7EXAMPLE"}}"#),
        "/trace" => reply(
            500,
            "text/plain",
            "java.lang.NullPointerException\n\tat com.acme.Orders.get(Orders.java:42)\n",
        ),
        "/sql" => reply(
            500,
            "text/html",
            "<p>You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version</p>",
        ),
        "/prose" => reply(
            200,
            "text/plain",
            "We throw an exception at the boundary; SQL syntax errors are explained in our blog.",
        ),
        "/binary" => Response::builder()
            .header("content-type", "application/octet-stream")
            .header("content-length", BINARY_BYTES)
            .body(pattern_body(BINARY_BYTES))
            .unwrap(),
        "/hsts" => {
            let mut r = reply(200, "text/plain", "own policy");
            r.headers_mut()
                .insert("strict-transport-security", "max-age=60".parse().unwrap());
            r
        }
        _ => reply(200, "text/plain", "ok"),
    }
}

async fn backend() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(answer(req.uri().path()))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, task)
}

async fn get(addr: SocketAddr, path: &str) -> Collected {
    let request = Request::get(path)
        .header("host", "api.example.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(http1(addr, request).await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_checked_masked_or_withheld_and_get_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("orders.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let (addr, _backend) = backend().await;
    let mut opts = StackOptions::new(format!("http://{addr}"));
    // Report mode for requests: only the response side is under test.
    opts.routes = format!(
        "[[routes]]\nname = \"shop\"\npath_prefix = \"/\"\nupstream = \"app\"\n\
         openapi = {{ spec = {:?}, mode = \"report\" }}\n\
         response = {{ validate = \"block\", leaks = \"mask\", inspect_limit = \"256KiB\" }}\n",
        spec.display().to_string()
    );
    let stack = Stack::start(&bins(), &opts);
    let http = stack.http();

    // Clean and documented: delivered as sent, with the default security headers.
    let clean = get(http, "/orders/1").await;
    assert_eq!(clean.status, 200);
    assert_eq!(clean.body, r#"{"id":1,"total":9.5}"#);
    assert_eq!(clean.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(clean.header("referrer-policy"), Some("no-referrer"));
    // Plain HTTP client: no HSTS; no authenticated caller: no forced Cache-Control.
    assert_eq!(clean.header("strict-transport-security"), None);
    assert_eq!(clean.header("cache-control"), None);

    // Contract violations are withheld: 502 with the reason, nothing of the body.
    for path in ["/orders/2", "/orders/3", "/orders/4"] {
        let got = get(http, path).await;
        assert_problem(&got, 502, "response-invalid");
    }
    // Stack traces and SQL errors are never masked, always withheld.
    for path in ["/trace", "/sql"] {
        let got = get(http, path).await;
        assert_problem(&got, 502, "response-leak");
    }
    // Prose that mentions exceptions and SQL passes.
    let prose = get(http, "/prose").await;
    assert_eq!(prose.status, 200);
    assert!(prose.body.starts_with(b"We throw an exception"));

    // Card numbers and secrets are masked; the length is right for the new body.
    let card = get(http, "/card").await;
    assert_eq!(card.status, 200);
    assert_eq!(card.body, MASKED_JSON);
    let key = get(http, "/key").await;
    assert_eq!(key.body, r#"{"config":{"aws":"********************"}}"#);
    // A compressed leak is decoded, masked and sent decoded, without the old coding.
    let zipped = get(http, "/card-gzip").await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.body, MASKED_JSON);
    assert_eq!(zipped.header("content-encoding"), None);
    assert_eq!(zipped.header("etag"), None);
    if let Some(len) = zipped.header("content-length") {
        assert_eq!(len, MASKED_JSON.len().to_string());
    }

    // Large binary answers are not inspected: they stream through byte for byte.
    let binary = get(http, "/binary").await;
    assert_eq!(binary.status, 200);
    assert_eq!(binary.body.len() as u64, BINARY_BYTES);
    let mut expected = vec![0u8; BINARY_BYTES as usize];
    fill_pattern(&mut expected, 0);
    let (mut want, mut got) = (Fnv::default(), Fnv::default());
    want.update(&expected);
    got.update(&binary.body);
    assert_eq!(got.0, want.0, "binary body changed on the way");

    // TLS clients get HSTS, unless the backend set its own.
    let tls_get = |path: &'static str| {
        let request = Request::get(path)
            .header("host", "api.example.test")
            .body(Full::new(Bytes::new()))
            .unwrap();
        https2(stack.https(), &stack.pki.ca_path, request)
    };
    let over_tls = collect(tls_get("/orders/1").await.unwrap()).await;
    assert_eq!(
        over_tls.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    let own = collect(tls_get("/hsts").await.unwrap()).await;
    assert_eq!(own.header("strict-transport-security"), Some("max-age=60"));

    // The audit log explains each decision: rule and JSON Pointer, never the value.
    let inner = stack.inner.as_ref().unwrap();
    let audit = |check: &str| -> Vec<serde_json::Value> {
        inner
            .logs()
            .into_iter()
            .filter(|l| l["target"] == "rampart::audit" && l["check"] == check)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while audit("response-inspection").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = format!("{:?}", inner.logs());
    for secret in [
        "4111 1111 1111 1111",
        "AKIAIOSFODNN7EXAMPLE",
        "NullPointerException",
    ] {
        assert!(!text.contains(secret), "{secret} in the logs");
    }
    let contract: Vec<(String, String, String)> = audit("response-contract")
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or("").to_owned();
            (s("rule"), s("location"), s("action"))
        })
        .collect();
    let c = |r: &str, l: &str| (r.to_owned(), l.to_owned(), "block".to_owned());
    assert_eq!(
        contract,
        [
            c("type", "json:/total"),
            c("undocumented-status", "status"),
            c("media-type", "content-type"),
        ]
    );
    let leaks: Vec<(String, String, String)> = audit("response-leak")
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or("").to_owned();
            (s("rule"), s("location"), s("action"))
        })
        .collect();
    let l = |r: &str, at: &str, a: &str| (r.to_owned(), at.to_owned(), a.to_owned());
    assert_eq!(
        leaks,
        [
            l("stack-trace:java", "body:31", "block"),
            l("sql-error:mysql", "body:3", "block"),
            l("card-number", "json:/pan", "report"),
            l("secret:aws-access-key", "json:/config/aws", "report"),
            l("card-number", "json:/pan", "report"),
        ]
    );
    let skipped = audit("response-inspection");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["rule"], "response-not-inspected:binary");
    assert_eq!(skipped[0]["action"], "report");
}
