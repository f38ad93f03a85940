//! A backend for tests. By path:
//! - `/stall`: never answers (until the test ends);
//! - `/delay/<ms>`: answers like the echo after `ms`;
//! - `/download/<bytes>`: streams `bytes` of a known pattern;
//! - `/count`: consumes the body and answers its length and checksum; each body is
//!   recorded as complete or broken;
//! - `/truncate`: announces 1000 bytes, sends 500, then drops the connection;
//! - anything else: echoes the body, with the method, target and headers it saw in
//!   `x-echo-*` response headers, plus banner headers Rampart must remove.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// What the backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
}

pub struct Backend {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    bodies: Arc<Mutex<Vec<BodyOutcome>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// How a `/count` body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyOutcome {
    /// Read to its proper end: this many bytes.
    Complete(u64),
    /// The body failed after this many bytes (framing error, reset, early close).
    Broken(u64),
}

/// A deterministic byte pattern for large transfers.
pub fn pattern_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(31).wrapping_add(offset >> 13) % 251) as u8
}

/// Fills `buf` with the pattern starting at `offset`.
pub fn fill_pattern(buf: &mut [u8], offset: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(offset + i as u64);
    }
}

/// FNV-1a, to compare large bodies without keeping them.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for b in data {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

type Body = BoxBody<Bytes, BodyFailed>;

/// The error a backend body fails with on purpose.
#[derive(Debug)]
pub struct BodyFailed;

impl std::fmt::Display for BodyFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("backend body failed on purpose")
    }
}

impl std::error::Error for BodyFailed {}

fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body of `len` pattern bytes in 64 KiB frames.
pub fn pattern_body(len: u64) -> BoxBody<Bytes, Infallible> {
    const CHUNK: u64 = 64 * 1024;
    let stream = futures_util::stream::unfold(0u64, move |offset| async move {
        if offset >= len {
            return None;
        }
        let n = CHUNK.min(len - offset);
        let mut buf = vec![0u8; n as usize];
        fill_pattern(&mut buf, offset);
        Some((
            Ok::<_, Infallible>(Frame::data(Bytes::from(buf))),
            offset + n,
        ))
    });
    StreamBody::new(stream).boxed()
}

async fn echo(req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Response::builder()
        .header("x-echo-method", parts.method.as_str())
        .header("x-echo-uri", parts.uri.to_string())
        .header("x-echo-headers", serde_json::to_string(&headers).unwrap())
        .header("server", "backend-banner/1.0")
        .header("x-powered-by", "PHP/5.4")
        .header("set-cookie", "a=1")
        .header("set-cookie", "b=2")
        .body(full(body))
        .unwrap()
}

async fn answer(req: Request<Incoming>, bodies: Arc<Mutex<Vec<BodyOutcome>>>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if path == "/stall" {
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    if let Some(ms) = path.strip_prefix("/delay/").and_then(|s| s.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(n) = path.strip_prefix("/download/").and_then(|s| s.parse().ok()) {
        return Response::builder()
            .header("content-length", n)
            .body(pattern_body(n).map_err(|never| match never {}).boxed())
            .unwrap();
    }
    if path == "/count" {
        let mut body = req.into_body();
        let (mut n, mut fnv) = (0u64, Fnv::default());
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        n += data.len() as u64;
                        fnv.update(data);
                    }
                }
                Err(_) => {
                    bodies.lock().unwrap().push(BodyOutcome::Broken(n));
                    return Response::builder()
                        .status(400)
                        .body(full("broken body"))
                        .unwrap();
                }
            }
        }
        bodies.lock().unwrap().push(BodyOutcome::Complete(n));
        return Response::new(full(format!("{{\"bytes\":{n},\"fnv\":{}}}", fnv.0)));
    }
    if path == "/truncate" {
        // Head and half the body go out; the failure comes once they are on the wire.
        let stream = futures_util::stream::unfold(0u8, |step| async move {
            match step {
                0 => Some((Ok(Frame::data(Bytes::from(vec![b'x'; 500]))), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Some((Err(BodyFailed), 2))
                }
                _ => None,
            }
        });
        return Response::builder()
            .header("content-length", 1000)
            .body(StreamBody::new(stream).boxed())
            .unwrap();
    }
    echo(req).await
}

impl Backend {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (seen2, conns2, bodies2) = (seen.clone(), connections.clone(), bodies.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                conns2.fetch_add(1, Ordering::SeqCst);
                let seen = seen2.clone();
                let bodies = bodies2.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        seen.lock().unwrap().push(Seen {
                            method: req.method().clone(),
                            uri: req.uri().to_string(),
                            headers: req.headers().clone(),
                        });
                        let bodies = bodies.clone();
                        async move { Ok::<_, Infallible>(answer(req, bodies).await) }
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            seen,
            bodies,
            connections,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How each `/count` body ended.
    pub fn bodies(&self) -> Vec<BodyOutcome> {
        self.bodies.lock().unwrap().clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
