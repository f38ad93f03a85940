//! The adapter alone, and under real hyper servers (HTTP/1, HTTP/2, auto-detected).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::sync::mpsc;

use super::*;
use crate::h1::HeadVerdict;
use crate::h2::{Flood, H2Violation};

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn lets_bytes_before_a_body_fault_through_then_fails() {
    let (mut client, server) = duplex(64 * 1024);
    let mut io = GuardedIo::http1(server, H1Limits::default());
    let ledger = io.ledger();
    let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    client
        .write_all(format!("{head}3\r\nabc\r\nzz\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let n = io.read(&mut buf).await.unwrap();
    assert_eq!(n, head.len() + 8, "everything before the bad size line");
    assert_eq!(ledger.next_head(), Some(HeadVerdict::Clean));
    let err = io.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        ledger.fault(),
        Some(Violation::Http1(FramingViolation::InvalidChunkSize))
    );
    assert_eq!(ledger.protocol(), Some(Protocol::Http1));
}

#[tokio::test]
async fn refuses_pipelines_deeper_than_the_limit() {
    let (mut client, server) = duplex(64 * 1024);
    let mut io = GuardedIo::http1(server, H1Limits::default());
    let ledger = io.ledger();
    let get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    client.write_all(get.repeat(64).as_bytes()).await.unwrap();
    let mut buf = vec![0; 64 * 1024];
    assert_eq!(io.read(&mut buf).await.unwrap(), get.len() * 64);
    client.write_all(get.as_bytes()).await.unwrap();
    assert!(io.read(&mut buf).await.is_err(), "65 requests waiting");
    assert_eq!(
        ledger.fault(),
        Some(Violation::Http1(FramingViolation::PipelineTooDeep))
    );
}

/// What the handler saw for one request: path, verdict rule, body outcome.
type Seen = (String, String, Result<usize, String>);

/// Serves one HTTP/1 connection with hyper over `GuardedIo`; the handler pops the
/// ledger once per request and reports what it saw.
fn serve_h1(server: DuplexStream) -> (mpsc::UnboundedReceiver<Seen>, Ledger) {
    let io = GuardedIo::http1(server, H1Limits::default());
    let ledger = io.ledger();
    let (tx, rx) = mpsc::unbounded_channel();
    let handler_ledger = ledger.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let (ledger, tx) = (handler_ledger.clone(), tx.clone());
        async move {
            let verdict = match ledger.next_head() {
                Some(HeadVerdict::Clean) => "clean".to_owned(),
                Some(HeadVerdict::Violation(v)) => v.rule().to_owned(),
                None => "none".to_owned(),
            };
            let path = req.uri().path().to_owned();
            let body = match req.into_body().collect().await {
                Ok(b) => Ok(b.to_bytes().len()),
                Err(e) => Err(e.to_string()),
            };
            let close = verdict != "clean" || body.is_err();
            let _ = tx.send((path.clone(), verdict.clone(), body));
            let mut resp = Response::new(Full::new(Bytes::from(format!("{path} {verdict}\n"))));
            if close {
                resp.headers_mut()
                    .insert("connection", http::HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(resp)
        }
    });
    tokio::spawn(
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service),
    );
    (rx, ledger)
}

async fn exchange(input: String) -> (Vec<Seen>, String, Ledger) {
    exchange_bytes(input.as_bytes()).await
}

async fn exchange_bytes(input: &[u8]) -> (Vec<Seen>, String, Ledger) {
    let (mut client, server) = duplex(256 * 1024);
    let (mut seen_rx, ledger) = serve_h1(server);
    client.write_all(input).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(T, client.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let mut seen = Vec::new();
    while let Ok(s) = seen_rx.try_recv() {
        seen.push(s);
    }
    (seen, String::from_utf8_lossy(&out).into_owned(), ledger)
}

fn seen(path: &str, verdict: &str, body: usize) -> Seen {
    (path.to_owned(), verdict.to_owned(), Ok(body))
}

#[tokio::test]
async fn hyper_handler_sees_pipelined_verdicts_in_order() {
    let input = [
        "GET /one HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "GET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ]
    .concat();
    let (seen_all, out, ledger) = exchange(input).await;
    assert_eq!(
        seen_all,
        vec![
            seen("/one", "clean", 0),
            seen("/two", "clean", 5),
            seen("/three", "clean", 3),
            seen("/four", "clean", 0)
        ]
    );
    let order: Vec<&str> = out.lines().filter(|l| l.starts_with('/')).collect();
    assert_eq!(
        order,
        ["/one clean", "/two clean", "/three clean", "/four clean"]
    );
    assert_eq!(ledger.fault(), None);
}

#[tokio::test]
async fn rewritten_targets_reach_the_handler_instead_of_a_bare_400() {
    let input = [
        b"GET /s?q=<script> HTTP/1.1\r\nHost: a\r\n\r\n".as_slice(),
        b"POST /j?f={\"a\":1} HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n<b>",
        "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes(),
        b"GET /bad\xff HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    .concat();
    let (seen_all, out, ledger) = exchange_bytes(&input).await;
    assert_eq!(
        seen_all,
        vec![
            seen("/s", "clean", 0),
            seen("/j", "clean", 3),
            seen("/caf%C3%A9", "clean", 0),
            seen("/bad%FF", "invalid-target-utf8", 0),
        ],
        "{out}"
    );
    assert_eq!(ledger.fault(), None);
    // Look-alike: a control byte is still refused by hyper itself, the handler never runs.
    let (seen_all, out, _) = exchange_bytes(b"GET /a\x01<b> HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(seen_all, vec![]);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
}

#[tokio::test]
async fn rewritten_bytes_that_do_not_fit_are_handed_on_next_read() {
    let head = "POST /<<<<<<<<> HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let input = format!("{head}3\r\nabc\r\nzz\r\n");
    let mut io = GuardedIo::http1(input.as_bytes(), H1Limits::default());
    let ledger = io.ledger();
    let mut got = Vec::new();
    let mut buf = [0u8; 5];
    let err = loop {
        match io.read(&mut buf).await {
            Ok(0) => panic!("end of stream before the fault"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let escaped = head.replace('<', "%3C").replace('>', "%3E");
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("{escaped}3\r\nabc\r\n")
    );
    assert_eq!(ledger.next_head(), Some(HeadVerdict::Clean));
    assert_eq!(
        ledger.fault(),
        Some(Violation::Http1(FramingViolation::InvalidChunkSize))
    );
}

#[tokio::test]
async fn hyper_handler_sees_smuggling_shapes_hyper_accepts() {
    let table = [
        (
            "POST /dup HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            "duplicate-content-length",
        ),
        (
            "POST /clte HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "content-length-with-transfer-encoding",
        ),
        ("GET /nohost HTTP/1.1\r\n\r\n", "missing-host"),
        (
            "POST /gz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            "unsupported-transfer-encoding",
        ),
    ];
    for (request, rule) in table {
        // A clean request first: the violation must land on the second one.
        let input = format!("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n{request}");
        let (seen_all, out, _) = exchange(input).await;
        assert_eq!(seen_all.len(), 2, "{rule}: {seen_all:?}");
        assert_eq!(seen_all[0], seen("/ok", "clean", 0));
        assert_eq!(seen_all[1].1, rule);
        assert!(out.contains(&format!(" {rule}\n")), "{out}");
    }
}

#[tokio::test]
async fn hyper_body_read_fails_on_a_huge_chunk_extension() {
    let ext = "e".repeat(10 * 1024);
    let ok = "POST /fine HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
    let bad = format!(
        "POST /ext HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;{ext}\r\nabc\r\n0\r\n\r\n"
    );
    let (seen_all, _, ledger) = exchange(format!("{ok}{bad}")).await;
    assert_eq!(seen_all[0], seen("/fine", "clean", 3));
    assert_eq!(seen_all[1].0, "/ext");
    assert_eq!(seen_all[1].1, "clean", "the head itself is fine");
    assert!(
        seen_all[1].2.is_err(),
        "the body read fails: {:?}",
        seen_all[1]
    );
    assert_eq!(
        ledger.fault(),
        Some(Violation::Http1(FramingViolation::ChunkExtensionTooLong))
    );
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

async fn ok(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

#[tokio::test]
async fn hyper_h2_connection_is_dropped_on_a_ping_flood() {
    let (mut client, server) = duplex(256 * 1024);
    let io = GuardedIo::http2(server, H2Limits::default());
    let ledger = io.ledger();
    let conn = tokio::spawn(
        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(io), service_fn(ok)),
    );
    let mut input = crate::h2::PREFACE.to_vec();
    input.extend(h2_frame(0x4, 0, 0, &[]));
    for i in 0..150u64 {
        input.extend(h2_frame(0x6, 0, 0, &i.to_be_bytes()));
    }
    client.write_all(&input).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(T, client.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let result = tokio::time::timeout(T, conn).await.unwrap().unwrap();
    assert!(result.is_err(), "the server connection fails");
    assert_eq!(
        ledger.fault(),
        Some(Violation::Http2(H2Violation::Flood(Flood::Ping)))
    );
}

async fn h2_get(client: DuplexStream) -> http::StatusCode {
    let (send, conn) = h2::client::handshake(client).await.unwrap();
    tokio::spawn(conn);
    let mut send = send.ready().await.unwrap();
    let req = Request::get("http://a/x").body(()).unwrap();
    let (resp, _) = send.send_request(req, true).unwrap();
    tokio::time::timeout(T, resp)
        .await
        .unwrap()
        .unwrap()
        .status()
}

#[tokio::test]
async fn detects_h2_and_h1_on_plaintext_for_hyper_auto() {
    let limits = GuardLimits::default();
    let auto = || hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());

    let (client, server) = duplex(256 * 1024);
    let io = GuardedIo::detect(server, limits);
    let ledger = io.ledger();
    tokio::spawn(async move {
        auto()
            .serve_connection(TokioIo::new(io), service_fn(ok))
            .await
    });
    assert_eq!(h2_get(client).await, http::StatusCode::OK);
    assert_eq!(
        (ledger.protocol(), ledger.fault()),
        (Some(Protocol::Http2), None)
    );

    let (mut client, server) = duplex(256 * 1024);
    let io = GuardedIo::detect(server, limits);
    let ledger = io.ledger();
    tokio::spawn(async move {
        auto()
            .serve_connection(TokioIo::new(io), service_fn(ok))
            .await
    });
    // Starts like the preface, then is not: still HTTP/1, and judged as such.
    client
        .write_all(b"PRI * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(T, client.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ledger.protocol(), Some(Protocol::Http1));
    assert_eq!(ledger.next_head(), Some(HeadVerdict::Clean));
}

#[test]
fn can_be_served_by_hyper_util_on_any_runtime_thread() {
    fn servable<T: Send + Unpin + 'static>() {}
    servable::<GuardedIo<DuplexStream>>();
    servable::<crate::PrefixedIo<GuardedIo<DuplexStream>>>();
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Ledger>();
}
