//! Closed-loop load over HTTP/2 (TLS on TCP) and HTTP/3 (QUIC) against a running edge,
//! with the same request mix, concurrency and duration for both; prints requests per
//! second and p50/p99 latency per protocol and the HTTP/3 / HTTP/2 ratio.
//!
//! ```text
//! cargo run --release -p rampart-edge --example h2_h3_load -- \
//!     --h2 127.0.0.1:8443 --h3 127.0.0.1:8443 --ca ca.pem \
//!     --workloads get,post-1k --concurrency 32 --seconds 10
//! ```
//!
//! Workloads are `get` (GET `--path`) and `post-<N>k` (POST of an N KiB JSON object).
//! Each protocol gets `--connections` connections carrying `--concurrency` request
//! loops in total; connections are set up before the clock starts. Workloads run one
//! after the other, HTTP/2 then HTTP/3 for each, so drift on a noisy machine lands on
//! both. Only 2xx answers count as done; latencies are of those answers.
//! Besides the table, one machine-readable line per run:
//! `RESULT workload=get proto=h2 ok=.. failed=.. rps=.. p50_ms=.. p99_ms=..`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[derive(Parser, Debug, Clone)]
struct Args {
    /// The edge's HTTPS (TCP) address, for HTTP/2.
    #[arg(long)]
    h2: SocketAddr,
    /// The edge's HTTP/3 (UDP) address.
    #[arg(long)]
    h3: SocketAddr,
    /// CA that signed the edge's certificate.
    #[arg(long)]
    ca: PathBuf,
    /// Name the edge's certificate carries.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// Requests in flight at any time, per protocol.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Connections per protocol the request loops are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds per workload and protocol.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Comma-separated workloads: get, post-1k, post-64k, ...
    #[arg(long, default_value = "get")]
    workloads: String,
    /// Request path.
    #[arg(long, default_value = "/")]
    path: String,
}

/// Latency samples kept per request loop; beyond this the loop only counts.
const MAX_SAMPLES_PER_LOOP: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    H2,
    H3,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::H2 => "h2",
            Proto::H3 => "h3",
        }
    }
}

/// One workload: GET, or POST of a JSON body of this many bytes.
#[derive(Debug, Clone)]
struct Workload {
    name: String,
    body: Bytes,
}

impl Workload {
    fn parse(name: &str) -> Self {
        let body = match name {
            "get" => Bytes::new(),
            other => {
                let kib: usize = other
                    .strip_prefix("post-")
                    .and_then(|k| k.strip_suffix('k'))
                    .and_then(|k| k.parse().ok())
                    .unwrap_or_else(|| panic!("unknown workload {other:?}: get or post-<N>k"));
                json_body(kib * 1024)
            }
        };
        Self {
            name: name.to_owned(),
            body,
        }
    }

    fn request(&self, args: &Args) -> http::Request<()> {
        let builder = http::Request::builder()
            .uri(format!("https://{}{}", args.server_name, args.path))
            .header("accept", "application/json");
        let builder = if self.body.is_empty() {
            builder.method("GET")
        } else {
            builder
                .method("POST")
                .header("content-type", "application/json")
                .header("content-length", self.body.len())
        };
        builder.body(()).expect("request")
    }
}

/// A JSON object of exactly `len` bytes (at least 10).
fn json_body(len: usize) -> Bytes {
    let pad = "a".repeat(len.saturating_sub(10));
    Bytes::from(format!("{{\"pad\":\"{pad}\"}}"))
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

/// What one request loop saw.
#[derive(Default)]
struct LoopResult {
    ok: u64,
    failed: u64,
    micros: Vec<u32>,
}

impl LoopResult {
    fn record(&mut self, started: Instant, ok: bool) {
        if ok {
            self.ok += 1;
            if self.micros.len() < MAX_SAMPLES_PER_LOOP {
                let us = started.elapsed().as_micros();
                self.micros.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
        } else {
            self.failed += 1;
        }
    }
}

type H3Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;
type H2Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// Open connections of one protocol.
enum Conns {
    H2(Vec<H2Sender>),
    H3(quinn::Endpoint, Vec<H3Sender>),
}

async fn connect(args: &Args, proto: Proto) -> Conns {
    match proto {
        Proto::H2 => {
            let connector = tokio_rustls::TlsConnector::from(Arc::new(tls(args, b"h2")));
            let mut senders = Vec::new();
            for _ in 0..args.connections {
                let tcp = tokio::net::TcpStream::connect(args.h2).await.expect("TCP");
                let _ = tcp.set_nodelay(true);
                let name = rustls::pki_types::ServerName::try_from(args.server_name.clone())
                    .expect("name");
                let stream = connector.connect(name, tcp).await.expect("TLS");
                let (sender, conn) = hyper::client::conn::http2::handshake(
                    TokioExecutor::new(),
                    TokioIo::new(stream),
                )
                .await
                .expect("HTTP/2");
                tokio::spawn(conn);
                senders.push(sender);
            }
            Conns::H2(senders)
        }
        Proto::H3 => {
            let crypto =
                quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls(args, b"h3")))
                    .expect("QUIC TLS");
            let bind: SocketAddr = if args.h3.is_ipv6() {
                "[::1]:0".parse().expect("addr")
            } else {
                "127.0.0.1:0".parse().expect("addr")
            };
            let mut endpoint = quinn::Endpoint::client(bind).expect("UDP");
            endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
            let mut senders = Vec::new();
            for _ in 0..args.connections {
                let quic = endpoint
                    .connect(args.h3, &args.server_name)
                    .expect("connect")
                    .await
                    .expect("QUIC handshake");
                let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(quic))
                    .await
                    .expect("HTTP/3");
                tokio::spawn(async move {
                    let _ = driver.wait_idle().await;
                });
                senders.push(sender);
            }
            Conns::H3(endpoint, senders)
        }
    }
}

async fn h2_once(sender: &mut H2Sender, req: http::Request<Full<Bytes>>) -> Option<bool> {
    let response = sender.send_request(req).await.ok()?;
    let status = response.status();
    response.into_body().collect().await.ok()?;
    Some(status.is_success())
}

async fn h3_once(sender: &mut H3Sender, req: http::Request<()>, body: &Bytes) -> Option<bool> {
    let mut stream = sender.send_request(req).await.ok()?;
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

/// Runs `concurrency` loops over the open connections until `deadline`.
async fn drive(
    args: &Arc<Args>,
    workload: &Workload,
    conns: &Conns,
    deadline: Instant,
) -> Vec<LoopResult> {
    let mut loops = tokio::task::JoinSet::new();
    for i in 0..args.concurrency {
        let (args, workload) = (args.clone(), workload.clone());
        match conns {
            Conns::H2(senders) => {
                let mut sender = senders[i % senders.len()].clone();
                loops.spawn(async move {
                    let mut result = LoopResult::default();
                    while Instant::now() < deadline {
                        let req = workload
                            .request(&args)
                            .map(|()| Full::new(workload.body.clone()));
                        let started = Instant::now();
                        let ok = h2_once(&mut sender, req).await == Some(true);
                        result.record(started, ok);
                    }
                    result
                });
            }
            Conns::H3(_, senders) => {
                let mut sender = senders[i % senders.len()].clone();
                loops.spawn(async move {
                    let mut result = LoopResult::default();
                    while Instant::now() < deadline {
                        let started = Instant::now();
                        let ok = h3_once(&mut sender, workload.request(&args), &workload.body)
                            .await
                            == Some(true);
                        result.record(started, ok);
                    }
                    result
                });
            }
        }
    }
    let mut results = Vec::new();
    while let Some(done) = loops.join_next().await {
        results.push(done.expect("request loop"));
    }
    results
}

/// Throughput and latency of one run.
struct Summary {
    ok: u64,
    failed: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn summarize(results: Vec<LoopResult>, elapsed: Duration) -> Summary {
    let ok = results.iter().map(|r| r.ok).sum();
    let failed = results.iter().map(|r| r.failed).sum();
    let mut micros: Vec<u32> = results.into_iter().flat_map(|r| r.micros).collect();
    micros.sort_unstable();
    Summary {
        ok,
        failed,
        rps: ok as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&micros, 0.50),
        p99_ms: percentile(&micros, 0.99),
    }
}

async fn run(args: &Arc<Args>, workload: &Workload, proto: Proto) -> Summary {
    let conns = connect(args, proto).await;
    // A short unrecorded warm-up: first requests pay for the edge's link connections.
    let _ = drive(
        args,
        workload,
        &conns,
        Instant::now() + Duration::from_millis(500),
    )
    .await;
    let started = Instant::now();
    let results = drive(
        args,
        workload,
        &conns,
        started + Duration::from_secs(args.seconds),
    )
    .await;
    let summary = summarize(results, started.elapsed());
    if let Conns::H3(endpoint, senders) = conns {
        drop(senders);
        endpoint.close(0u32.into(), b"done");
        let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    }
    summary
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    assert!(
        args.connections >= 1 && args.concurrency >= args.connections,
        "need 1 <= --connections <= --concurrency"
    );
    let workloads: Vec<Workload> = args.workloads.split(',').map(Workload::parse).collect();
    println!(
        "| workload | proto | ok | failed | req/s | p50 ms | p99 ms | h3 / h2 |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    let mut results = Vec::new();
    for workload in &workloads {
        let mut h2_rps = None;
        for proto in [Proto::H2, Proto::H3] {
            let s = run(&args, workload, proto).await;
            let ratio = match (proto, h2_rps) {
                (Proto::H3, Some(h2)) if h2 > 0.0 => format!("{:.2}", s.rps / h2),
                _ => "-".to_owned(),
            };
            if proto == Proto::H2 {
                h2_rps = Some(s.rps);
            }
            println!(
                "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {ratio} |",
                workload.name,
                proto.name(),
                s.ok,
                s.failed,
                s.rps,
                s.p50_ms,
                s.p99_ms
            );
            results.push((workload.name.clone(), proto, s));
        }
    }
    println!();
    for (workload, proto, s) in &results {
        println!(
            "RESULT workload={workload} proto={} ok={} failed={} rps={:.1} p50_ms={:.3} p99_ms={:.3} concurrency={} connections={} seconds={}",
            proto.name(),
            s.ok,
            s.failed,
            s.rps,
            s.p50_ms,
            s.p99_ms,
            args.concurrency,
            args.connections,
            args.seconds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_have_the_asked_size_and_percentiles_pick_by_rank() {
        for len in [10, 1024, 65_536] {
            assert_eq!(json_body(len).len(), len);
        }
        assert_eq!(Workload::parse("post-1k").body.len(), 1024);
        assert!(Workload::parse("get").body.is_empty());
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile(&sorted, 0.50), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[7000], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
