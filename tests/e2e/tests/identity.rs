//! The inner tier accepts only the edge: right CA *and* allowed identity, still valid.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::pki::{CertUsage, Spec};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{assert_problem, bins};

/// Starts a stack whose edge presents `client`, and checks it is refused by the inner.
async fn assert_link_refused(client: Spec, why: &str) {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.edge_client = client;
    opts.wait_ready = false;
    let stack = Stack::start(&bins(), &opts);
    let request = Request::builder()
        .uri("/secret")
        .header("host", "api.example.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = collect(http1(stack.http(), request).await.unwrap()).await;
    assert_problem(&response, 503, "inner-unavailable");
    // The inner logs the refused handshake; the backend sees nothing.
    let inner = stack.inner.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while inner.logs_containing("link handshake refused").is_empty() {
        assert!(
            Instant::now() < deadline,
            "{why}: inner did not log a refused handshake"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(backend.seen().is_empty(), "{why}");
    assert_eq!(backend.connections(), 0, "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_certificate_from_the_right_ca_with_another_identity_is_refused() {
    assert_link_refused(
        Spec::new("rampart-reporting", CertUsage::Client, 1),
        "wrong identity",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_edge_certificate_is_refused() {
    let mut spec = Spec::new("rampart-edge", CertUsage::Client, 1);
    spec.not_before = time::Duration::days(-10);
    spec.not_after = time::Duration::days(-1);
    assert_link_refused(spec, "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_uri_identity_is_accepted() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    let mut spec = Spec::new("edge-7", CertUsage::Client, 1);
    spec.uris = vec!["spiffe://rampart.test/edge".into()];
    opts.edge_client = spec;
    opts.allowed_identities = vec!["spiffe://rampart.test/edge".into()];
    let stack = Stack::start(&bins(), &opts);
    let request = Request::builder()
        .uri("/ok")
        .header("host", "api.example.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = collect(http1(stack.http(), request).await.unwrap()).await;
    assert_eq!(response.status, 200);
}
