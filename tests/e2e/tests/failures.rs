//! Failing parts fail closed, fast, with the right status and a generic problem body.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use rampart_test_support::backend::{Backend, closed_port};
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{assert_problem, bins};

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(path)
        .header("host", "api.example.test")
        .body(Empty::new())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_tier_down_gives_503_within_two_seconds_and_nothing_reaches_the_backend() {
    let backend = Backend::start().await;
    // 1. No inner tier was ever there.
    let mut opts = StackOptions::new(backend.url());
    opts.without_inner = true;
    opts.wait_ready = false;
    opts.edge_endpoints_override = Some(vec![closed_port().await.to_string()]);
    let stack = Stack::start(&bins(), &opts);
    let started = Instant::now();
    let response = collect(http1(stack.http(), get("/orders")).await.unwrap()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_problem(&response, 503, "inner-unavailable");
    assert_eq!(response.header("retry-after"), Some("1"));
    drop(stack);

    // 2. The inner tier dies while the edge is running.
    let mut stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let ok = collect(http1(stack.http(), get("/before")).await.unwrap()).await;
    assert_eq!(ok.status, 200);
    stack.inner.as_mut().unwrap().kill();
    for _ in 0..5 {
        let started = Instant::now();
        let response = collect(http1(stack.http(), get("/after")).await.unwrap()).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        assert_problem(&response, 503, "inner-unavailable");
    }
    let seen: Vec<String> = backend.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        seen,
        ["/before"],
        "only the request served before the inner died reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_refusing_connections_gives_502() {
    let upstream = format!("http://{}", closed_port().await);
    let stack = Stack::start(&bins(), &StackOptions::new(upstream));
    for _ in 0..2 {
        let response = collect(http1(stack.http(), get("/x")).await.unwrap()).await;
        assert_problem(&response, 502, "upstream-unavailable");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_backend_gives_504_after_the_first_byte_deadline() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.first_byte_timeout = "1s";
    let stack = Stack::start(&bins(), &opts);
    let started = Instant::now();
    let response = collect(http1(stack.http(), get("/stall")).await.unwrap()).await;
    let took = started.elapsed();
    assert_problem(&response, 504, "upstream-timeout");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    // The stall does not poison the next request.
    let response = collect(http1(stack.http(), get("/fine")).await.unwrap()).await;
    assert_eq!(response.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_without_a_route_gets_404_and_the_backend_sees_nothing() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    // No catch-all: only api.example.test/v1 is served.
    opts.routes = "[[routes]]\nname = \"api\"\nhost = \"api.example.test\"\npath_prefix = \"/v1\"\nupstream = \"app\"\n".into();
    let stack = Stack::start(&bins(), &opts);
    let cases = [
        ("api.example.test", "/v1/users", 200),
        ("api.example.test", "/v2/users", 404),
        ("other.test", "/v1/users", 404),
    ];
    for (host, path, status) in cases {
        let request = Request::builder()
            .uri(path)
            .header("host", host)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = collect(http1(stack.http(), request).await.unwrap()).await;
        if status == 404 {
            assert_problem(&response, 404, "no-route");
            assert!(!String::from_utf8_lossy(&response.body).contains(host));
        } else {
            assert_eq!(response.status, 200);
        }
    }
    assert_eq!(backend.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_balanced_over_healthy_inner_endpoints_only() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.inner_replicas = 2;
    opts.edge_endpoints_extra = vec![closed_port().await.to_string()];
    let stack = Stack::start(&bins(), &opts);
    // Let the first probe round mark the dead endpoint down.
    tokio::time::sleep(Duration::from_millis(700)).await;
    for i in 0..20 {
        let response = collect(http1(stack.http(), get(&format!("/r/{i}"))).await.unwrap()).await;
        assert_eq!(
            response.status, 200,
            "request {i} must avoid the dead endpoint"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let served: Vec<usize> = [stack.inner.as_ref().unwrap(), &stack.replicas[0]]
        .iter()
        .map(|inner| inner.access_log().len())
        .collect();
    assert_eq!(served.iter().sum::<usize>(), 20);
    assert!(
        served.iter().all(|&n| n >= 5),
        "both live inner endpoints serve: {served:?}"
    );
}
