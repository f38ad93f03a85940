//! Edge protections seen from a client: per-route request rules, connection caps and
//! idle deadlines. Each refusal is checked next to a look-alike request that passes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{assert_problem, bins};

fn request(
    method: &str,
    target: &str,
    content_type: Option<&str>,
    body: &str,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "api.example.test");
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_rules_refuse_methods_media_types_and_parameter_floods() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = r#"
[[routes]]
name = "orders"
path_prefix = "/orders"
methods = ["GET", "POST"]
content_types = ["application/json", "*/*+json"]
max_query_params = 3
"#
    .into();
    let stack = Stack::start(&bins(), &opts);
    let json = Some("application/json");
    let cases: Vec<(Request<Full<Bytes>>, u16, &str)> = vec![
        (request("GET", "/orders?a=1&b=2&c=3", None, ""), 200, ""),
        (
            request("GET", "/orders?a=1&b=2&c=3&d=4", None, ""),
            400,
            "bad-request",
        ),
        (request("POST", "/orders", json, "{}"), 200, ""),
        (
            request(
                "POST",
                "/orders",
                Some("application/merge-patch+json"),
                "{}",
            ),
            200,
            "",
        ),
        (
            request("POST", "/orders", Some("application/xml"), "<a/>"),
            415,
            "unsupported-media-type",
        ),
        (
            request("DELETE", "/orders/7", None, ""),
            405,
            "method-not-allowed",
        ),
        // Another route: none of the orders rules apply.
        (request("DELETE", "/ordersx?a&b&c&d&e", None, ""), 200, ""),
        (
            request("PUT", "/other", Some("application/xml"), "<a/>"),
            200,
            "",
        ),
    ];
    for (req, status, reason) in cases {
        let label = format!("{} {}", req.method(), req.uri());
        let response = collect(http1(stack.http(), req).await.unwrap()).await;
        if status == 200 {
            assert_eq!(response.status, 200, "{label}");
        } else {
            assert_problem(&response, status, reason);
        }
    }
}

async fn send_get(tcp: &mut TcpStream) -> String {
    tcp.write_all(b"GET /x HTTP/1.1\r\nhost: a.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_connection_cap_gets_503_and_others_are_served() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.edge_server_extra = "max_connections_per_ip = 2".into();
    let stack = Stack::start(&bins(), &opts);
    let mut first = TcpStream::connect(stack.http()).await.unwrap();
    let mut second = TcpStream::connect(stack.http()).await.unwrap();
    assert!(send_get(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(send_get(&mut second).await.starts_with("HTTP/1.1 200"));
    let mut third = TcpStream::connect(stack.http()).await.unwrap();
    let answer = send_get(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("\"reason\":\"overloaded\""), "{answer}");
    drop(first);
    // The slot comes back once the edge notices the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = TcpStream::connect(stack.http()).await.unwrap();
        if send_get(&mut again).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slot never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The held keep-alive connection still works.
    assert!(send_get(&mut second).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.edge_server_extra = r#"idle_timeout = "500ms""#.into();
    let stack = Stack::start(&bins(), &opts);
    let mut tcp = TcpStream::connect(stack.http()).await.unwrap();
    assert!(send_get(&mut tcp).await.starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .expect("idle connection was not closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "expected a close, got {:?}", &buf[..n]);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

/// Reads until the peer closes (`true`) or `wait` passes with the connection open.
async fn closes_within(tcp: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut frame = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_ping_flood_loses_its_connection_and_a_few_pings_do_not() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    for (pings, dropped) in [(5usize, false), (500, true)] {
        // Prior-knowledge HTTP/2 on the plaintext listener.
        let mut tcp = TcpStream::connect(stack.http()).await.unwrap();
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend(h2_frame(4, 0, 0, &[]));
        for i in 0..pings {
            bytes.extend(h2_frame(6, 0, 0, &(i as u64).to_be_bytes()));
        }
        tcp.write_all(&bytes).await.unwrap();
        let closed = closes_within(&mut tcp, Duration::from_secs(3)).await;
        assert_eq!(closed, dropped, "{pings} pings");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_byte_by_byte_is_cut_off_at_the_header_deadline() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.edge_server_extra = r#"header_read_timeout = "1s""#.into();
    let stack = Stack::start(&bins(), &opts);
    let mut tcp = TcpStream::connect(stack.http()).await.unwrap();
    let started = Instant::now();
    let head = b"GET /x HTTP/1.1\r\nHost: a.test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for byte in head {
        if tcp.write_all(std::slice::from_ref(byte)).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    let closed = cut || closes_within(&mut tcp, Duration::from_secs(3)).await;
    assert!(closed, "a trickled head must not hold the connection");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(backend.seen().is_empty(), "nothing reached the backend");
}
