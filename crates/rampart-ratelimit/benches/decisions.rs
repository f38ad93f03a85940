//! Decisions per second: local (one hot key, many keys, a full table) and through redis.
//! Reported, not asserted.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_core::config::Problems;
use rampart_ratelimit::{RateLimitConfig, RateLimiter, RawRateLimit, RequestFacts, SystemClock};
use rampart_test_support::redis::RedisServer;

fn config(text: &str) -> RateLimitConfig {
    let raw: RawRateLimit = toml::from_str(text).unwrap();
    let mut p = Problems::default();
    let config = RateLimitConfig::validate(&mut p, &raw);
    p.finish(Path::new("bench.toml"), Some(config)).unwrap()
}

const POLICIES: &str = r#"
max_keys = 100000

[[policies]]
name = "per-ip"
key = ["client_ip"]
rate = "1000000/s"

[[policies]]
name = "per-consumer"
key = ["consumer", "route"]
rate = "1000000/s"

[[quotas]]
name = "daily"
key = ["consumer"]
limit = 1000000000
period = "day"
"#;

fn facts(ip: u32) -> RequestFacts<'static> {
    RequestFacts {
        client_ip: IpAddr::from(ip.to_be_bytes()),
        consumer: Some("consumer-1"),
        plan: None,
        route: "api",
        upstream: "backend",
    }
}

fn local(c: &mut Criterion) {
    let mut group = c.benchmark_group("local");
    group.throughput(Throughput::Elements(1));
    let limiter = rampart_ratelimit::LocalLimiter::new(&config(POLICIES), 1.0, SystemClock::new());
    group.bench_function("one key, 3 policies", |b| {
        b.iter(|| black_box(limiter.check(&facts(0x0a00_0001))));
    });
    let mut ip = 0u32;
    group.bench_function("50k keys, 3 policies", |b| {
        b.iter(|| {
            ip = (ip + 1) % 50_000;
            black_box(limiter.check(&facts(0x0a00_0000 + ip)))
        });
    });
    // Four times more keys than the table holds: sweeps and the overflow sketch.
    let mut ip = 0u32;
    group.bench_function("400k keys into 100k slots", |b| {
        b.iter(|| {
            ip = (ip + 1) % 400_000;
            black_box(limiter.check(&facts(0x0b00_0000 + ip)))
        });
    });
    group.finish();
}

fn redis(c: &mut Criterion) {
    let server = RedisServer::spawn();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let text = format!(
        "{POLICIES}\n[redis]\nurl = \"{}\"\ntimeout = \"1s\"",
        server.url()
    );
    let limiter = Arc::new(rt.block_on(async { RateLimiter::new(&config(&text)).unwrap() }));
    let mut group = c.benchmark_group("redis");
    group.throughput(Throughput::Elements(1));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    let mut ip = 0u32;
    group.bench_function("one round trip, 3 policies", |b| {
        b.iter(|| {
            ip = (ip + 1) % 50_000;
            let e = rt.block_on(limiter.check(&facts(0x0c00_0000 + ip)));
            assert!(e.is_allowed() && !e.degraded);
        });
    });
    // 32 decisions in flight at once over the one multiplexed connection.
    group.throughput(Throughput::Elements(32));
    group.bench_function("32 concurrent, 3 policies", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..32u32)
                    .map(|i| {
                        let l = limiter.clone();
                        tokio::spawn(async move { l.check(&facts(0x0d00_0000 + i)).await })
                    })
                    .collect();
                for t in tasks {
                    let e = t.await.unwrap();
                    assert!(e.is_allowed() && !e.degraded);
                }
            });
        });
    });
    group.finish();
}

criterion_group!(benches, local, redis);
criterion_main!(benches);
