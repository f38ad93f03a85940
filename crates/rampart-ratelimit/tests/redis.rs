//! The shared store against a real `redis-server`: atomicity under two clients, the
//! check-then-commit across policies, quotas, key expiry, an outage and the recovery.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_core::config::Problems;
use rampart_ratelimit::quota::{QuotaPeriod, window};
use rampart_ratelimit::{Decision, RateLimitConfig, RateLimiter, RawRateLimit, RequestFacts};
use rampart_test_support::redis::RedisServer;

/// A config with `[redis]` pointing at `redis`; `extra` adds redis keys. The timeout is
/// generous unless `extra` sets one: only the outage test is about the deadline, and a
/// loaded test machine must not turn the others into `Unavailable`.
fn config(text: &str, redis: &RedisServer, extra: &str) -> RateLimitConfig {
    let timeout = if extra.contains("timeout") {
        ""
    } else {
        "timeout = \"2s\""
    };
    let text = format!(
        "{text}\n[redis]\nurl = \"{}\"\nkey_prefix = \"t:\"\n{timeout}\n{extra}",
        redis.url()
    );
    let raw: RawRateLimit = toml::from_str(&text).unwrap();
    let mut p = Problems::default();
    let config = RateLimitConfig::validate(&mut p, &raw);
    p.finish(Path::new("test.toml"), Some(config)).unwrap()
}

fn facts(consumer: Option<&str>) -> RequestFacts<'_> {
    RequestFacts {
        client_ip: "192.0.2.1".parse::<IpAddr>().unwrap(),
        consumer,
        plan: None,
        route: "api",
        upstream: "backend",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_hammering_one_key_share_the_limit() {
    let redis = RedisServer::spawn();
    let text = "[[policies]]\nname = \"global\"\nrate = \"200/s\"\nburst = 20";
    let replicas: Vec<Arc<RateLimiter>> = (0..2)
        .map(|_| Arc::new(RateLimiter::new(&config(text, &redis, "")).unwrap()))
        .collect();
    // Warm up both connections so the measured window starts with the first decision.
    for r in &replicas {
        assert!(r.check(&facts(None)).await.is_allowed());
    }
    let start = Instant::now();
    let run = Duration::from_secs(3);
    let tasks: Vec<_> = replicas
        .iter()
        .map(|r| {
            let r = r.clone();
            tokio::spawn(async move {
                let (mut admitted, mut refused) = (0u64, 0u64);
                while start.elapsed() < run {
                    match r.check(&facts(None)).await.decision {
                        Decision::Allow { .. } => admitted += 1,
                        Decision::Deny { .. } => refused += 1,
                        Decision::Unavailable => panic!("redis unavailable"),
                    }
                }
                (admitted, refused)
            })
        })
        .collect();
    let (mut admitted, mut refused) = (2u64, 0u64);
    for t in tasks {
        let (a, r) = t.await.unwrap();
        admitted += a;
        refused += r;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // The two warm-up requests came out of the burst.
    let expected = 200.0 * elapsed + 20.0;
    let error = (admitted as f64 - expected).abs() / expected;
    println!("admitted {admitted}, refused {refused} in {elapsed:.2}s (expected {expected:.0})");
    assert!(refused > admitted, "the test did not push past the limit");
    assert!(error < 0.05, "admitted {admitted}, expected {expected:.0}");
}

const TWO_POLICIES: &str = r#"
[[policies]]
name = "per-consumer"
key = ["consumer"]
rate = "1/min"
burst = 1

[[policies]]
name = "route-cap"
key = ["route"]
rate = "1/min"
burst = 3
"#;

#[tokio::test]
async fn a_refusal_in_redis_commits_nothing_for_the_other_keys() {
    let redis = RedisServer::spawn();
    let r1 = RateLimiter::new(&config(TWO_POLICIES, &redis, "")).unwrap();
    let r2 = RateLimiter::new(&config(TWO_POLICIES, &redis, "")).unwrap();
    assert!(r1.check(&facts(Some("alice"))).await.is_allowed());
    // Replica 2 has never seen alice, so only redis refuses her; the route key must not
    // move, and replica 2's local tokens are given back.
    for _ in 0..20 {
        match r2.check(&facts(Some("alice"))).await.decision {
            Decision::Deny { policy, .. } => assert_eq!(&*policy, "per-consumer"),
            other => panic!("{other:?}"),
        }
    }
    assert!(r2.check(&facts(Some("bob"))).await.is_allowed());
    assert!(r1.check(&facts(Some("carol"))).await.is_allowed());
    let denied = r2.check(&facts(Some("dave"))).await;
    match &denied.decision {
        Decision::Deny {
            policy,
            retry_after,
            ..
        } => {
            assert_eq!(&**policy, "route-cap");
            assert!(*retry_after > Duration::from_secs(15), "{retry_after:?}");
        }
        other => panic!("{other:?}"),
    }
    let headers = denied.headers();
    assert_eq!(headers.policy.unwrap(), r#""route-cap";q=1;w=60"#);
    // GCRA keys live exactly until their bucket is full again: at most 3 minutes.
    let ttl = redis.command("PTTL t:g:route-cap:r=api");
    let ms: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((120_000..=180_001).contains(&ms), "{ttl}");
}

#[tokio::test]
async fn quotas_count_only_admitted_requests() {
    let redis = RedisServer::spawn();
    let text = r#"
[[policies]]
name = "burst"
key = ["consumer"]
rate = "1/min"
burst = 3

[[quotas]]
name = "daily"
key = ["consumer"]
limit = 5
period = "day"
"#;
    let limiter = RateLimiter::new(&config(text, &redis, "")).unwrap();
    let mut admitted = 0;
    for _ in 0..50 {
        admitted += usize::from(limiter.check(&facts(Some("k"))).await.is_allowed());
    }
    assert_eq!(admitted, 3);
    // 47 rate refusals were not counted by the quota.
    assert_eq!(redis.command("HGET t:q:daily:c=k c"), "$1\r\n3\r\n");
    let ttl = redis.command("TTL t:q:daily:c=k");
    let secs: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((60..=86_460).contains(&secs), "{ttl}");
}

#[tokio::test]
async fn the_script_calendar_matches_the_local_one() {
    let redis = RedisServer::spawn();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let script = concat!(
        include_str!("../src/lua/calendar.lua"),
        "local s, e = quota_window(tonumber(ARGV[1]), ARGV[2]) return {s, e}"
    );
    let mut at = 0u64;
    // Every ~9.5 days for 150 years, plus month edges.
    let mut samples = vec![1_709_251_199, 1_709_251_200, 4_107_542_399, 951_782_400];
    while at < 150 * 365 * 86_400 {
        samples.push(at);
        at += 821_113;
    }
    for at in samples {
        for (period, code) in [(QuotaPeriod::Month, "m"), (QuotaPeriod::Day, "d")] {
            let got: (u64, u64) = redis::cmd("EVAL")
                .arg(script)
                .arg(0)
                .arg(at)
                .arg(code)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(got, window(period, at), "{period:?} at {at}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_follows_the_fail_mode_and_recovery_needs_no_rebuild() {
    let mut redis = RedisServer::spawn();
    let text =
        "[[policies]]\nname = \"per-ip\"\nkey = [\"client_ip\"]\nrate = \"10/min\"\nburst = 10";
    let closed = RateLimiter::new(&config(
        text,
        &redis,
        "local_share = 0.5\ntimeout = \"50ms\"",
    ))
    .unwrap();
    let open = RateLimiter::new(&config(
        text,
        &redis,
        "local_share = 0.5\ntimeout = \"50ms\"\nfail_open = true",
    ))
    .unwrap();
    let ip = |last: u8| RequestFacts {
        client_ip: IpAddr::from([198, 51, 100, last]),
        ..facts(None)
    };
    // The first call also connects and loads the script.
    for l in [&closed, &open] {
        answers(l, &ip(1)).await;
    }

    redis.stop();
    let deadline = Duration::from_millis(50 + 250); // timeout plus scheduling slack
    for _ in 0..20 {
        let start = Instant::now();
        let e = closed.check(&ip(2)).await;
        assert!(start.elapsed() < deadline, "took {:?}", start.elapsed());
        assert_eq!(e.decision, Decision::Unavailable);
        assert!(e.degraded);
    }
    // Fail-open admits, but only as far as the local share (10 * 0.5) allows.
    let mut admitted = 0;
    for _ in 0..20 {
        let start = Instant::now();
        let e = open.check(&ip(2)).await;
        assert!(start.elapsed() < deadline, "took {:?}", start.elapsed());
        if e.is_allowed() {
            assert!(e.degraded);
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);

    // Back, empty (script cache included): the same limiters recover on their own.
    redis.start();
    answers(&closed, &ip(3)).await;
    // The fail-closed refusals gave their local tokens back: ip 2 still has its 5.
    let mut admitted = 0;
    for _ in 0..10 {
        admitted += usize::from(closed.check(&ip(2)).await.is_allowed());
    }
    assert_eq!(admitted, 5);
    answers(&open, &ip(4)).await;
}

/// Waits (up to 10 s) until `limiter` gets an answer from redis that admits `facts`.
async fn answers(limiter: &RateLimiter, facts: &RequestFacts<'_>) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let e = limiter.check(facts).await;
        if e.is_allowed() && !e.degraded {
            return;
        }
        assert!(Instant::now() < until, "redis never answered: {e:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
