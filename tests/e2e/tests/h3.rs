//! HTTP/3: a QUIC client talks to the edge's UDP endpoint; the request meets the same
//! checks as over TCP and goes through both tiers to the backend.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::{Request, Response};
use http_body_util::Empty;
use rampart_test_support::backend::{Backend, BodyOutcome, closed_port};
use rampart_test_support::client::{Collected, collect, https2};
use rampart_test_support::stack::{Stack, StackOptions};
use rampart_tls::rustls;

use crate::common::{assert_problem, bins};

const ENABLED: &str = "[http3]\nenabled = true\nlisten = \"127.0.0.1:0\"\n";

/// The UDP address the edge announced for HTTP/3.
fn h3_addr(stack: &Stack) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = stack.edge.logs().into_iter().find_map(|l| {
            (l["message"] == "listening" && l["listener"] == "h3")
                .then(|| l["addr"].as_str()?.parse().ok())
                .flatten()
        });
        if let Some(addr) = found {
            return addr;
        }
        assert!(Instant::now() < deadline, "edge did not announce h3");
        std::thread::sleep(Duration::from_millis(20));
    }
}

type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// An HTTP/3 connection to `addr` trusting `ca`; the endpoint must outlive the sender.
async fn connect(addr: SocketAddr, ca: &Path) -> (quinn::Endpoint, Sender) {
    let (endpoint, sender, _closed) = connect_with(addr, ca, None).await;
    (endpoint, sender)
}

/// Like [`connect`], optionally sending QUIC keep-alives; the task ends when the
/// connection closes.
async fn connect_with(
    addr: SocketAddr,
    ca: &Path,
    keep_alive: Option<Duration>,
) -> (quinn::Endpoint, Sender, tokio::task::JoinHandle<()>) {
    let roots = rampart_tls::load_roots(ca).unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(rampart_tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls)).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(keep_alive);
    client.transport_config(Arc::new(transport));
    endpoint.set_default_client_config(client);
    let quic = endpoint
        .connect(addr, "localhost")
        .unwrap()
        .await
        .expect("QUIC handshake");
    let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(quic))
        .await
        .unwrap();
    let closed = tokio::spawn(async move {
        let _ = driver.wait_idle().await;
    });
    (endpoint, sender, closed)
}

/// Sends `request` with `body` (sent in 16 KiB pieces) and collects the answer.
async fn send(sender: &mut Sender, request: Request<()>, body: &[u8]) -> Collected {
    let mut stream = sender.send_request(request).await.unwrap();
    for piece in body.chunks(16 * 1024) {
        if stream
            .send_data(Bytes::copy_from_slice(piece))
            .await
            .is_err()
        {
            // Refused midway (e.g. 413): the answer is still there to read.
            break;
        }
    }
    let _ = stream.finish().await;
    let head: Response<()> = stream.recv_response().await.unwrap();
    let mut collected = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.unwrap() {
        collected.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    let (parts, ()) = head.into_parts();
    Collected {
        status: parts.status,
        headers: parts.headers,
        body: collected.into(),
    }
}

fn request(method: &str, target: &str) -> Request<()> {
    Request::builder()
        .method(method)
        .uri(format!("https://localhost{target}"))
        .body(())
        .unwrap()
}

fn options(backend: &Backend) -> StackOptions {
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = ENABLED.into();
    opts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_post_cross_both_tiers_over_http3() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &options(&backend));
    let (_endpoint, mut sender) = connect(h3_addr(&stack), &stack.pki.ca_path).await;

    let response = send(&mut sender, request("GET", "/h3/get?x=1"), b"").await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(response.header("x-echo-method"), Some("GET"));
    assert_eq!(response.header("x-echo-uri"), Some("/h3/get?x=1"));
    assert!(response.header("x-request-id").is_some());

    // A body larger than one link chunk, with and without a declared length.
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut with_length = request("POST", "/h3/post");
    with_length
        .headers_mut()
        .insert("content-length", body.len().into());
    for req in [with_length, request("POST", "/h3/stream")] {
        let response = send(&mut sender, req, &body).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("x-echo-method"), Some("POST"));
        assert!(response.body == body, "echoed body differs");
    }
    // Both requests arrived over one QUIC connection, as HTTP/3 on the edge.
    let seen = backend.seen();
    assert_eq!(seen.len(), 3);
    let access = stack.edge.access_log();
    assert_eq!(access.iter().filter(|r| r["status"] == 200).count(), 3);
    assert!(
        access.iter().all(|r| r["version"] == "HTTP/3"),
        "{access:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screening_limits_and_framing_apply_to_http3_requests() {
    let backend = Backend::start().await;
    let mut opts = options(&backend);
    opts.edge_max_body = "64KiB";
    opts.edge_extra.push_str("max_request_body = \"32KiB\"\n");
    let stack = Stack::start(&bins(), &opts);
    let (_endpoint, mut sender) = connect(h3_addr(&stack), &stack.pki.ca_path).await;

    // Over the 64 KiB header limit, under HTTP/3's field-section limit: the edge's 431.
    let mut long_header = request("GET", "/x");
    long_header
        .headers_mut()
        .insert("x-big", "a".repeat(66_000).parse().unwrap());
    let mut transfer_encoding = request("POST", "/x");
    transfer_encoding
        .headers_mut()
        .insert("transfer-encoding", "chunked".parse().unwrap());
    let mut declared_large = request("POST", "/count");
    declared_large
        .headers_mut()
        .insert("content-length", 40_000.into());
    let mut short_body = request("POST", "/count");
    short_body
        .headers_mut()
        .insert("content-length", 5_000.into());
    let cases: Vec<(Request<()>, Vec<u8>, u16, &str)> = vec![
        (
            request("GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
            vec![],
            403,
            "attack-detected",
        ),
        (
            request("GET", "/items?id=1%27%20OR%20%271%27%3D%271"),
            vec![],
            403,
            "attack-detected",
        ),
        // Look-alikes that must pass.
        (
            request("GET", "/search?q=select+your+plan"),
            vec![],
            200,
            "",
        ),
        (request("POST", "/count"), vec![b'a'; 30_000], 200, ""),
        // Over the HTTP/3 cap while streaming, and declared over it.
        (
            request("POST", "/count"),
            vec![b'a'; 40_000],
            413,
            "body-too-large",
        ),
        (declared_large, vec![b'a'; 40_000], 413, "body-too-large"),
        (
            transfer_encoding,
            b"5\r\nhello\r\n0\r\n\r\n".to_vec(),
            400,
            "bad-request",
        ),
        // Fewer bytes than declared: never forwarded as complete.
        (short_body, vec![b'a'; 1_000], 400, "incomplete-body"),
        (
            request("GET", &format!("/{}", "p".repeat(9_000))),
            vec![],
            414,
            "uri-too-long",
        ),
        (long_header, vec![], 431, "headers-too-large"),
    ];
    for (req, body, status, reason) in cases {
        let target = req.uri().to_string();
        let target = &target[..target.len().min(80)];
        let response = send(&mut sender, req, &body).await;
        if status == 200 {
            assert_eq!(response.status, 200, "{target}: {:?}", response.body);
        } else {
            assert_problem(&response, status, reason);
            assert!(
                !String::from_utf8_lossy(&response.body).contains("script"),
                "{target}: reflected"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        backend.bodies(),
        [BodyOutcome::Complete(30_000)],
        "only the legitimate body reached the backend"
    );
    let blocked = stack
        .edge
        .logs()
        .into_iter()
        .filter(|l| l["target"] == "rampart::audit" && l["action"] == "block")
        .count();
    assert!(blocked >= 8, "every refusal is audited: {blocked}");
    let access = stack.edge.access_log();
    assert_eq!(access.len(), 10, "one record per request");
    assert!(
        access.iter().all(|r| r["version"] == "HTTP/3"),
        "{access:?}"
    );
    // Each refusal was answered on its own stream: the connection served them all.
    let again = send(&mut sender, request("GET", "/after"), b"").await;
    assert_eq!(again.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_tier_down_gives_503_over_http3() {
    let backend = Backend::start().await;
    let mut opts = options(&backend);
    opts.without_inner = true;
    opts.wait_ready = false;
    opts.edge_endpoints_override = Some(vec![closed_port().await.to_string()]);
    let stack = Stack::start(&bins(), &opts);
    let (_endpoint, mut sender) = connect(h3_addr(&stack), &stack.pki.ca_path).await;
    let started = Instant::now();
    let response = send(&mut sender, request("GET", "/orders"), b"").await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_problem(&response, 503, "inner-unavailable");
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(backend.seen().is_empty());
}

async fn https_get(stack: &Stack) -> Collected {
    let request = Request::builder()
        .uri("/alt")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    collect(
        https2(stack.https(), &stack.pki.ca_path, request)
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alt_svc_advertises_http3_on_tcp_only_when_enabled() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &options(&backend));
    let port = h3_addr(&stack).port();
    let response = https_get(&stack).await;
    assert_eq!(response.status, 200);
    let want = format!("h3=\":{port}\"; ma=86400");
    assert_eq!(response.header("alt-svc"), Some(want.as_str()));
    drop(stack);

    let mut opts = options(&backend);
    opts.edge_extra.push_str("alt_svc = false\n");
    let stack = Stack::start(&bins(), &opts);
    assert_eq!(https_get(&stack).await.header("alt-svc"), None);
    drop(stack);

    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let response = https_get(&stack).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("alt-svc"), None);
    assert!(
        stack
            .edge
            .logs_containing("listening")
            .iter()
            .all(|l| l["listener"] != "h3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reset_mid_body_never_reaches_the_backend_as_complete() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &options(&backend));
    let (_endpoint, mut sender) = connect(h3_addr(&stack), &stack.pki.ca_path).await;
    for declared in [Some(200_000u64), None] {
        let mut req = request("POST", "/count");
        if let Some(len) = declared {
            req.headers_mut().insert("content-length", len.into());
        }
        let mut stream = sender.send_request(req).await.unwrap();
        stream
            .send_data(Bytes::from(vec![b'a'; 120_000]))
            .await
            .unwrap();
        // Give the tiers time to forward what they have before the client gives up.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
        stream.stop_sending(h3::error::Code::H3_REQUEST_CANCELLED);
        drop(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcomes = backend.bodies();
    assert!(
        outcomes.iter().all(|o| matches!(o, BodyOutcome::Broken(_))),
        "a reset body reached the backend as complete: {outcomes:?}"
    );
    let edge_log = stack.edge.access_log();
    assert_eq!(edge_log.len(), 2, "{edge_log:?}");
    assert!(edge_log.iter().all(|r| r["status"] != 200), "{edge_log:?}");
    // The connection itself is still good.
    let response = send(&mut sender, request("GET", "/fine"), b"").await;
    assert_eq!(response.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_always_still_serves_and_shutdown_drains_http3() {
    let backend = Backend::start().await;
    let mut opts = options(&backend);
    opts.edge_extra.push_str("retry = \"always\"\n");
    let mut stack = Stack::start(&bins(), &opts);
    let (_endpoint, mut sender) = connect(h3_addr(&stack), &stack.pki.ca_path).await;
    let response = send(&mut sender, request("GET", "/retry"), b"").await;
    assert_eq!(response.status, 200);

    // A slow request in flight when SIGTERM arrives is still answered.
    let mut slow = sender
        .send_request(request("GET", "/delay/500"))
        .await
        .unwrap();
    slow.finish().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stack.edge.signal(nix::sys::signal::Signal::SIGTERM);
    let head = slow.recv_response().await.unwrap();
    assert_eq!(head.status(), 200);
    while slow.recv_data().await.unwrap().is_some() {}
    // The client keeps its connection open; the edge does not wait on it (drain is 10s).
    let status = stack.edge.wait(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "edge exit: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http3_connections_are_closed_even_when_kept_alive() {
    let backend = Backend::start().await;
    let mut opts = options(&backend);
    opts.edge_extra.push_str("idle_timeout = \"1s\"\n");
    let stack = Stack::start(&bins(), &opts);
    let addr = h3_addr(&stack);
    // QUIC pings keep the transport alive: only the edge's own idle rule can close it.
    let keep_alive = Some(Duration::from_millis(200));
    let (_endpoint, mut sender, closed) = connect_with(addr, &stack.pki.ca_path, keep_alive).await;
    let response = send(&mut sender, request("GET", "/once"), b"").await;
    assert_eq!(response.status, 200);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("idle connection closed")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Look-alike: a connection busy with a slow request is not idle.
    let (_endpoint, mut sender, closed) = connect_with(addr, &stack.pki.ca_path, keep_alive).await;
    let response = send(&mut sender, request("GET", "/delay/1800"), b"").await;
    assert_eq!(response.status, 200);
    assert!(
        !closed.is_finished(),
        "closed while a request was in flight"
    );
}
