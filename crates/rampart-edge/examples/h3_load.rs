//! Closed-loop load over HTTP/3 and HTTP/2 against a running edge, with the same
//! concurrency for both, reporting requests per second and their ratio.
//!
//! ```text
//! cargo run --release -p rampart-edge --example h3_load -- \
//!     --h3 127.0.0.1:8443 --https 127.0.0.1:8443 --ca ca.pem --concurrency 32 --seconds 10
//! ```
//!
//! Each protocol gets `--connections` connections carrying `--concurrency` request loops
//! in total (GET `--path`, or POST of `--body` bytes). Only 2xx answers count.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[derive(Parser, Debug, Clone)]
struct Args {
    /// The edge's HTTP/3 (UDP) address.
    #[arg(long)]
    h3: SocketAddr,
    /// The edge's HTTPS (TCP) address, for the HTTP/2 run.
    #[arg(long)]
    https: SocketAddr,
    /// CA that signed the edge's certificate (server name `localhost`).
    #[arg(long)]
    ca: PathBuf,
    /// Requests in flight at any time, per protocol.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Connections per protocol the request loops are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds per protocol.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Request path.
    #[arg(long, default_value = "/")]
    path: String,
    /// POST a body of this many bytes instead of GET.
    #[arg(long, default_value_t = 0)]
    body: usize,
}

fn tls(args: &Args, alpn: &[u8]) -> rustls::ClientConfig {
    let roots = rampart_tls::load_roots(&args.ca).expect("CA");
    let mut config = rustls::ClientConfig::builder_with_provider(rampart_tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

fn request(args: &Args) -> http::Request<()> {
    let builder = http::Request::builder().uri(format!("https://localhost{}", args.path));
    let builder = if args.body > 0 {
        builder
            .method("POST")
            .header("content-type", "application/json")
            .header("content-length", json_body(args.body).len())
    } else {
        builder.method("GET")
    };
    builder.body(()).expect("request")
}

/// A JSON object of exactly `len` bytes (at least 10), or nothing.
fn json_body(len: usize) -> Bytes {
    if len == 0 {
        return Bytes::new();
    }
    let pad = "a".repeat(len.saturating_sub(10));
    Bytes::from(format!("{{\"pad\":\"{pad}\"}}"))
}

struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

async fn run_h3(args: Arc<Args>, tally: Arc<Tally>, deadline: Instant) {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls(&args, b"h3")))
        .expect("QUIC TLS");
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("UDP");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let body = json_body(args.body);
    let mut loops = Vec::new();
    for c in 0..args.connections {
        let quic = endpoint
            .connect(args.h3, "localhost")
            .expect("connect")
            .await
            .expect("QUIC handshake");
        let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(quic))
            .await
            .expect("HTTP/3");
        tokio::spawn(async move {
            let _ = driver.wait_idle().await;
        });
        let share = args.concurrency / args.connections
            + usize::from(c < args.concurrency % args.connections);
        for _ in 0..share {
            let mut sender = sender.clone();
            let (args, tally, body) = (args.clone(), tally.clone(), body.clone());
            loops.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let ok = async {
                        let mut stream = sender.send_request(request(&args)).await.ok()?;
                        if !body.is_empty() {
                            stream.send_data(body.clone()).await.ok()?;
                        }
                        stream.finish().await.ok()?;
                        let head = stream.recv_response().await.ok()?;
                        while let Some(mut chunk) = stream.recv_data().await.ok()? {
                            chunk.advance(chunk.remaining());
                        }
                        Some(head.status().is_success())
                    }
                    .await;
                    let counter = if ok == Some(true) {
                        &tally.ok
                    } else {
                        &tally.failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    for l in loops {
        let _ = l.await;
    }
    endpoint.close(0u32.into(), b"done");
}

async fn run_h2(args: Arc<Args>, tally: Arc<Tally>, deadline: Instant) {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls(&args, b"h2")));
    let body = json_body(args.body);
    let mut loops = Vec::new();
    for c in 0..args.connections {
        let tcp = tokio::net::TcpStream::connect(args.https)
            .await
            .expect("TCP");
        let _ = tcp.set_nodelay(true);
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let stream = connector.connect(name, tcp).await.expect("TLS");
        let (sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("HTTP/2");
        tokio::spawn(conn);
        let share = args.concurrency / args.connections
            + usize::from(c < args.concurrency % args.connections);
        for _ in 0..share {
            let mut sender = sender.clone();
            let (args, tally, body) = (args.clone(), tally.clone(), body.clone());
            loops.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let req = request(&args).map(|()| Full::new(body.clone()));
                    let ok = async {
                        let response = sender.send_request(req).await.ok()?;
                        let status = response.status();
                        response.into_body().collect().await.ok()?;
                        Some(status.is_success())
                    }
                    .await;
                    let counter = if ok == Some(true) {
                        &tally.ok
                    } else {
                        &tally.failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    for l in loops {
        let _ = l.await;
    }
}

async fn measure<F, Fut>(name: &str, args: &Arc<Args>, run: F) -> f64
where
    F: FnOnce(Arc<Args>, Arc<Tally>, Instant) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let tally = Arc::new(Tally {
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let started = Instant::now();
    run(
        args.clone(),
        tally.clone(),
        started + Duration::from_secs(args.seconds),
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let ok = tally.ok.load(Ordering::Relaxed);
    let rate = ok as f64 / elapsed;
    println!(
        "{name}: {ok} ok, {} failed in {elapsed:.1}s: {rate:.0} req/s (concurrency {}, {} connections)",
        tally.failed.load(Ordering::Relaxed),
        args.concurrency,
        args.connections,
    );
    rate
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    assert!(args.connections >= 1 && args.concurrency >= args.connections);
    let h2 = measure("HTTP/2", &args, run_h2).await;
    let h3 = measure("HTTP/3", &args, run_h3).await;
    if h2 > 0.0 {
        println!("HTTP/3 / HTTP/2 = {:.2}", h3 / h2);
    }
}
