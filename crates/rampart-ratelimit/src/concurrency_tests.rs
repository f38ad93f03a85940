use std::net::IpAddr;

use super::*;
use crate::local::tests::config;

const IN_FLIGHT: &str = r#"
[[concurrency]]
name = "per-consumer"
key = ["consumer"]
max_in_flight = 2
"#;

fn facts(consumer: &str) -> RequestFacts<'_> {
    RequestFacts {
        client_ip: "192.0.2.1".parse::<IpAddr>().unwrap(),
        consumer: Some(consumer),
        plan: None,
        route: "api",
        upstream: "backend",
    }
}

#[test]
fn permits_are_released_on_drop() {
    let limiter = ConcurrencyLimiter::new(&config(IN_FLIGHT));
    let a = limiter.acquire(&facts("a")).unwrap();
    let b = limiter.acquire(&facts("a")).unwrap();
    assert_eq!(
        limiter.acquire(&facts("a")).unwrap_err(),
        Busy {
            policy: Arc::from("per-consumer")
        }
    );
    // Another consumer is not affected.
    let other = limiter.acquire(&facts("b")).unwrap();
    drop(a);
    let c = limiter.acquire(&facts("a")).unwrap();
    assert_eq!(limiter.in_flight("per-consumer", &facts("a")), Some(2));
    drop((b, c, other));
    assert_eq!(limiter.in_flight("per-consumer", &facts("a")), Some(0));
    assert_eq!(limiter.in_flight("nope", &facts("a")), None);
    // Entries leave the table when their count returns to zero.
    let rule = &limiter.inner.rules[0];
    assert!(rule.shards.iter().all(|s| s.lock().unwrap().map.is_empty()));
}

#[test]
fn a_refusal_by_one_policy_releases_the_permits_taken_before_it() {
    let limiter = ConcurrencyLimiter::new(&config(
        r#"
[[concurrency]]
name = "per-consumer"
key = ["consumer"]
max_in_flight = 10

[[concurrency]]
name = "route"
key = ["route"]
max_in_flight = 1
"#,
    ));
    let held = limiter.acquire(&facts("a")).unwrap();
    for _ in 0..5 {
        assert_eq!(&*limiter.acquire(&facts("b")).unwrap_err().policy, "route");
    }
    assert_eq!(limiter.in_flight("per-consumer", &facts("b")), Some(0));
    drop(held);
    assert!(limiter.acquire(&facts("b")).is_ok());
}

#[test]
fn overflowing_keys_are_limited_and_released_exactly() {
    let limiter = ConcurrencyLimiter::new(&config(&format!("max_keys = 2\n{IN_FLIGHT}")));
    let names: Vec<String> = (0..500).map(|i| format!("c{i}")).collect();
    let mut held = Vec::new();
    for name in &names {
        if let Ok(p) = limiter.acquire(&facts(name)) {
            held.push(p);
        }
    }
    // Every key got its first permit (an estimate can exceed the truth, so some may not).
    assert!(held.len() > 400, "{}", held.len());
    // Nobody can exceed the maximum, in the table or in the sketch.
    for name in &names {
        let mut extra = Vec::new();
        while let Ok(p) = limiter.acquire(&facts(name)) {
            extra.push(p);
            assert!(extra.len() <= 2, "{name} exceeded its maximum");
        }
    }
    drop(held);
    // With everything released, every key can take its two permits again.
    for name in names.iter().take(50) {
        let a = limiter.acquire(&facts(name));
        let b = limiter.acquire(&facts(name));
        assert!(a.is_ok() && b.is_ok(), "{name}");
    }
}
