//! Added latency of a scan with each engine, and throughput with the verdict cache warm.
//! Starts a private clamd and c-icap (scripts/av-services.sh); reports, asserts nothing.
//!
//! `cargo run -p rampart-av --example scan_latency [iterations]`

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use rampart_av::{
    AvConfig, CacheConfig, ClamdAddress, ClamdClient, ClamdConfig, EngineVerdict, IcapClient,
    IcapConfig, Scanner,
};
use rampart_core::units::ByteSize;
use rampart_test_support::antivirus::AvServices;

const SIZES: [(usize, &str); 2] = [(64 * 1024, "64 KiB"), (1024 * 1024, "1 MiB")];

fn body(len: usize, seed: u64) -> Vec<u8> {
    // Text-like and different each time: clamd keeps its own cache of clean hashes.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"abcdefghij klmnop,{}:\"0123\n"[(x % 27) as usize]
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{label:<34} n={:<5} p50={:>9.3?} p99={:>9.3?} mean={:>9.3?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        mean
    );
}

async fn measure<F, Fut>(n: usize, len: usize, mut scan: F) -> Vec<Duration>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = EngineVerdict>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let data = body(len, i as u64 + 1);
        let started = Instant::now();
        let verdict = scan(data).await;
        samples.push(started.elapsed());
        assert_eq!(verdict, EngineVerdict::Clean);
    }
    samples
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("iterations"))
        .unwrap_or(200);
    let av = AvServices::start_with_stream_max("32M");
    let clamd = |address| ClamdConfig {
        address,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(1),
        max_concurrency: 8,
        stream_max_length: ByteSize::mib(32),
    };
    let icap = IcapConfig {
        url: av.icap_url.parse().unwrap(),
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(1),
        max_connections: 8,
    };
    let unix = ClamdClient::new(&clamd(ClamdAddress::Unix(av.clamd_socket.clone())));
    let tcp = ClamdClient::new(&clamd(ClamdAddress::Tcp(av.clamd_tcp)));
    let icap_client = IcapClient::new(&icap);
    let (unix, tcp, icap_client) = (&unix, &tcp, &icap_client);

    println!("sequential scans, a different clean body each time (cache off)");
    for (len, name) in SIZES {
        let n = if len > 100_000 { n / 4 } else { n }.max(1);
        let s = measure(n, len, |d| async move { unix.scan(&d).await.unwrap() }).await;
        report(&format!("clamd unix socket, {name}"), s);
        let s = measure(n, len, |d| async move { tcp.scan(&d).await.unwrap() }).await;
        report(&format!("clamd tcp, {name}"), s);
        let s = measure(
            n,
            len,
            |d| async move { icap_client.scan(&d).await.unwrap() },
        )
        .await;
        report(&format!("icap (c-icap -> clamd), {name}"), s);
    }

    println!("\nboth engines through the Scanner, verdict cache warm (same body again)");
    let config = AvConfig::new(
        Some(clamd(ClamdAddress::Unix(av.clamd_socket.clone()))),
        Some(icap),
        CacheConfig {
            ttl: Duration::from_secs(3600),
            entries: 1000,
            ..CacheConfig::default()
        },
    )
    .unwrap();
    let scanner = Scanner::new(&config);
    for (len, name) in SIZES {
        let data = Bytes::from(body(len, 7));
        let cold = Instant::now();
        assert!(scanner.scan(data.clone()).await.unwrap().is_clean());
        let cold = cold.elapsed();
        let rounds = n * 10;
        let started = Instant::now();
        for _ in 0..rounds {
            assert!(scanner.scan(data.clone()).await.unwrap().is_clean());
        }
        let took = started.elapsed();
        println!(
            "scanner {name:<7} cold={cold:>9.3?}  warm: {:>9.0} scans/s ({:>8.3?} each, SHA-256 included)",
            rounds as f64 / took.as_secs_f64(),
            took / rounds as u32
        );
    }
    let m = scanner.metrics().snapshot();
    println!(
        "\nscanner counters: scans={} clamd requests={} cache hits={} icap requests={} cache hits={}",
        m.scans, m.clamd.requests, m.clamd.cache_hits, m.icap.requests, m.icap.cache_hits
    );
}
