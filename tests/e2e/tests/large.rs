//! A 1 GiB upload and a 1 GiB download stream through both tiers with bounded memory.

use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use rampart_test_support::backend::{Backend, Fnv, fill_pattern, pattern_body};
use rampart_test_support::client::http1;
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::bins;

const GIB: u64 = 1 << 30;
const RSS_LIMIT_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_upload_and_download_pass_with_each_tier_under_64_mib() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let inner = stack.inner.as_ref().unwrap();
    eprintln!(
        "idle peak RSS: edge {} KiB, inner {} KiB",
        stack.edge.peak_rss_kib(),
        inner.peak_rss_kib()
    );

    // Upload: the backend counts and checksums what arrives.
    let started = Instant::now();
    let request = Request::builder()
        .method("POST")
        .uri("/count")
        .header("host", "api.example.test")
        .header("content-length", GIB)
        .body(pattern_body(GIB))
        .unwrap();
    let response = http1(stack.http(), request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let summary: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut expected = Fnv::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0;
    while offset < GIB {
        fill_pattern(&mut buf, offset);
        expected.update(&buf);
        offset += buf.len() as u64;
    }
    assert_eq!(summary["bytes"], GIB);
    assert_eq!(summary["fnv"], expected.0, "upload arrived altered");
    eprintln!("1 GiB upload: {:?}", started.elapsed());

    // Download: the client checks every byte as it streams in.
    let started = Instant::now();
    let request = Request::builder()
        .uri(format!("/download/{GIB}"))
        .header("host", "api.example.test")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let response = http1(stack.http(), request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"],
        GIB.to_string().as_str()
    );
    let mut body = response.into_body();
    let (mut received, mut got, mut want) = (0u64, Fnv::default(), Fnv::default());
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.unwrap().data_ref() {
            let mut expected = vec![0u8; data.len()];
            fill_pattern(&mut expected, received);
            want.update(&expected);
            got.update(data);
            received += data.len() as u64;
        }
    }
    assert_eq!(received, GIB);
    assert_eq!(got.0, want.0, "download arrived altered");
    eprintln!("1 GiB download: {:?}", started.elapsed());

    let (edge_peak, inner_peak) = (stack.edge.peak_rss_kib(), inner.peak_rss_kib());
    eprintln!("peak RSS: edge {edge_peak} KiB, inner {inner_peak} KiB");
    assert!(edge_peak < RSS_LIMIT_KIB, "edge peak RSS {edge_peak} KiB");
    assert!(
        inner_peak < RSS_LIMIT_KIB,
        "inner peak RSS {inner_peak} KiB"
    );
}
