//! A body that breaks midway is never presented as complete: not to the backend when
//! the client aborts, not to the client when the backend aborts.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use rampart_test_support::backend::{Backend, BodyOutcome};
use rampart_test_support::client::http1;
use rampart_test_support::stack::{Stack, StackOptions};
use tokio::io::AsyncWriteExt;

use crate::common::bins;

/// Sends `head` and `body`, then closes the connection without finishing the request.
async fn send_and_abort(addr: std::net::SocketAddr, head: &str, body: &[u8]) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    tcp.flush().await.unwrap();
    // Give the tiers time to forward what they have before the client vanishes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(tcp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_abort_midway_never_reaches_the_backend_as_a_complete_body() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let cases = [
        // Content-Length promises more than is sent.
        (
            "POST /count HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 200000\r\n\r\n"
                .to_owned(),
            vec![b'a'; 120_000],
        ),
        // Chunked body without its last chunk.
        (
            "POST /count HTTP/1.1\r\nHost: api.example.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_owned(),
            b"10000\r\n"
                .iter()
                .copied()
                .chain(std::iter::repeat_n(b'b', 0x10000))
                .chain(*b"\r\n")
                .collect(),
        ),
        // Malformed chunk size after a good chunk.
        (
            "POST /count HTTP/1.1\r\nHost: api.example.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_owned(),
            b"5\r\nhello\r\nzz\r\nxx\r\n".to_vec(),
        ),
    ];
    for (head, body) in &cases {
        send_and_abort(stack.http(), head, body).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcomes = backend.bodies();
    assert!(
        outcomes.iter().all(|o| matches!(o, BodyOutcome::Broken(_))),
        "a truncated body reached the backend as complete: {outcomes:?}"
    );
    // The tiers logged the exchanges as incomplete rather than served.
    let edge_log = stack.edge.access_log();
    assert!(edge_log.iter().all(|r| r["status"] != 200), "{edge_log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_abort_midway_never_reaches_the_client_as_a_complete_body() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let request = Request::builder()
        .uri("/truncate")
        .header("host", "api.example.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = http1(stack.http(), request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "1000");
    let body = response.into_body().collect().await;
    assert!(
        body.is_err(),
        "the client must see the response break, not a short body"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_and_never_reaches_the_backend_whole() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.edge_limits_extra =
        "body_timeout = \"4s\"\nmin_body_rate = \"100B\"\nbody_rate_grace = \"1s\"\n".into();
    let stack = Stack::start(&bins(), &opts);
    let mut tcp = tokio::net::TcpStream::connect(stack.http()).await.unwrap();
    tcp.write_all(
        b"POST /count HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 1000\r\n\r\n",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    // One byte every 250 ms: each read is "recent", but the pace is 4 B/s.
    let writer = tokio::spawn(async move {
        let mut reply = Vec::new();
        for _ in 0..40 {
            if tcp.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            let mut buf = [0u8; 4096];
            if let Ok(Ok(n)) = tokio::time::timeout(
                Duration::from_millis(1),
                tokio::io::AsyncReadExt::read(&mut tcp, &mut buf),
            )
            .await
            {
                if n == 0 {
                    break;
                }
                reply.extend_from_slice(&buf[..n]);
            }
        }
        String::from_utf8_lossy(&reply).into_owned()
    });
    let reply = writer.await.unwrap();
    let took = started.elapsed();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"request-timeout\""), "{reply}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        backend
            .bodies()
            .iter()
            .all(|b| matches!(b, BodyOutcome::Broken(_))),
        "{:?}",
        backend.bodies()
    );
}
