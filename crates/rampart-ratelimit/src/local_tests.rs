use std::net::IpAddr;
use std::path::Path;

use rampart_core::config::Problems;

use super::*;
use crate::clock::ManualClock;
use crate::config::RawRateLimit;
use crate::decision::Decision;

const T0: u64 = 1_706_745_540; // 2024-01-31T23:59:00Z

pub(crate) fn config(text: &str) -> RateLimitConfig {
    let raw: RawRateLimit = toml::from_str(text).unwrap();
    let mut p = Problems::default();
    let config = RateLimitConfig::validate(&mut p, &raw);
    p.finish(Path::new("test.toml"), Some(config)).unwrap()
}

fn limiter(text: &str) -> (LocalLimiter<ManualClock>, ManualClock) {
    let clock = ManualClock::at_unix_secs(T0);
    (LocalLimiter::new(&config(text), 1.0, clock.clone()), clock)
}

fn facts<'a>(ip: &str, consumer: Option<&'a str>, route: &'a str) -> RequestFacts<'a> {
    RequestFacts {
        client_ip: ip.parse::<IpAddr>().unwrap(),
        consumer,
        plan: None,
        route,
        upstream: "backend",
    }
}

fn admitted(l: &LocalLimiter<ManualClock>, f: &RequestFacts<'_>, n: usize) -> usize {
    (0..n).filter(|_| l.check(f).is_allowed()).count()
}

const PER_IP: &str = r#"
[[policies]]
name = "per-ip"
key = ["client_ip"]
rate = "10/s"
burst = 5
"#;

#[test]
fn admits_the_burst_then_the_steady_rate() {
    let (l, clock) = limiter(PER_IP);
    let f = facts("192.0.2.1", None, "api");
    assert_eq!(admitted(&l, &f, 20), 5);
    // Ten seconds at 100 attempts per second: exactly the rate gets through.
    let mut total = 0;
    for _ in 0..1000 {
        clock.advance(Duration::from_millis(10));
        total += admitted(&l, &f, 1);
    }
    assert_eq!(total, 100);
}

#[test]
fn refused_requests_consume_nothing() {
    let (l, clock) = limiter(PER_IP);
    let f = facts("192.0.2.1", None, "api");
    assert_eq!(admitted(&l, &f, 5), 5);
    assert_eq!(admitted(&l, &f, 10_000), 0);
    // One interval later exactly one more is admitted, however many were refused.
    clock.advance(Duration::from_millis(100));
    assert_eq!(admitted(&l, &f, 3), 1);
    match l.check(&f).decision {
        Decision::Deny {
            policy,
            retry_after,
            reset_after,
        } => {
            assert_eq!(&*policy, "per-ip");
            assert_eq!(retry_after, Duration::from_millis(100));
            assert_eq!(reset_after, Duration::from_millis(500));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_policy_that_refuses_keeps_the_others_from_consuming() {
    let (l, _clock) = limiter(
        r#"
[[policies]]
name = "per-consumer"
key = ["consumer"]
rate = "1/s"
burst = 1

[[policies]]
name = "route-cap"
key = ["route"]
rate = "1/min"
burst = 5
"#,
    );
    let alice = facts("192.0.2.1", Some("alice"), "api");
    assert_eq!(admitted(&l, &alice, 50), 1);
    // Alice's 49 refusals did not eat the route's budget: 4 of its 5 are left for Bob.
    let bob = facts("192.0.2.2", Some("bob"), "api");
    assert!(l.check(&bob).is_allowed());
    let carol = facts("192.0.2.3", Some("carol"), "api");
    let dave = facts("192.0.2.4", Some("dave"), "api");
    let erin = facts("192.0.2.5", Some("erin"), "api");
    assert_eq!(
        admitted(&l, &carol, 1) + admitted(&l, &dave, 1) + admitted(&l, &erin, 1),
        3
    );
    let frank = facts("192.0.2.6", Some("frank"), "api");
    match l.check(&frank).decision {
        Decision::Deny { policy, .. } => assert_eq!(&*policy, "route-cap"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn quota_and_rate_refusals_do_not_count_against_each_other() {
    let (l, clock) = limiter(
        r#"
[[policies]]
name = "burst"
key = ["consumer"]
rate = "1/s"
burst = 2

[[quotas]]
name = "daily"
key = ["consumer"]
limit = 3
period = "day"
"#,
    );
    let f = facts("192.0.2.1", Some("k1"), "api");
    assert_eq!(admitted(&l, &f, 10), 2); // rate refusals are not counted by the quota
    clock.advance(Duration::from_secs(5));
    assert_eq!(admitted(&l, &f, 10), 1); // quota: 3 of 3
    let denial = l.check(&f);
    match &denial.decision {
        Decision::Deny {
            policy,
            retry_after,
            ..
        } => {
            assert_eq!(&**policy, "daily");
            assert_eq!(*retry_after, Duration::from_secs(55)); // midnight UTC
        }
        other => panic!("{other:?}"),
    }
    // Quota refusals did not consume rate tokens: right after midnight both are fresh.
    clock.advance(Duration::from_secs(55));
    assert_eq!(admitted(&l, &f, 10), 2);
}

#[test]
fn an_ipv6_host_cannot_rotate_out_of_its_bucket() {
    let (l, _clock) = limiter(PER_IP);
    let rotated = (0..100u16).filter(|i| {
        let ip = format!("2001:db8:0:7:{i:x}::1");
        l.check(&facts(&ip, None, "api")).is_allowed()
    });
    assert_eq!(rotated.count(), 5);
    // The neighbouring /64 is someone else.
    assert!(l.check(&facts("2001:db8:0:8::1", None, "api")).is_allowed());
}

#[test]
fn an_evicted_or_overflowing_client_stays_throttled() {
    let mut text = PER_IP.replace("burst = 5", "burst = 1");
    text.insert_str(0, "max_keys = 4\n");
    let (l, clock) = limiter(&text);
    let victim = facts("198.51.100.7", None, "api");
    assert_eq!(admitted(&l, &victim, 3), 1);
    // Ten thousand other clients pass through a four-key table.
    for i in 0..10_000u32 {
        let ip = IpAddr::from(0x0a00_0000u32.wrapping_add(i).to_be_bytes());
        let f = RequestFacts {
            client_ip: ip,
            ..victim
        };
        l.check(&f);
        clock.advance(Duration::from_micros(1));
    }
    assert!(l.table_sizes()[0].1 <= 4);
    assert!(
        !l.check(&victim).is_allowed(),
        "the victim got a fresh bucket"
    );
    // A newcomer in a full table is limited, not free.
    let newcomer = facts("203.0.113.200", None, "api");
    assert!(admitted(&l, &newcomer, 3) <= 1);
    // Once its bucket is full again, the victim is admitted as usual.
    clock.advance(Duration::from_millis(100));
    assert!(l.check(&victim).is_allowed());
}

#[test]
fn scopes_select_routes_and_upstreams() {
    let (l, _clock) = limiter(
        r#"
[[policies]]
name = "login"
key = ["client_ip"]
rate = "1/min"
burst = 1
routes = ["login"]

[[policies]]
name = "payments-cap"
rate = 2
burst = 2
upstreams = ["payments"]
"#,
    );
    let login = facts("192.0.2.1", None, "login");
    let other = facts("192.0.2.1", None, "search");
    assert_eq!(admitted(&l, &login, 5), 1);
    assert_eq!(admitted(&l, &other, 5), 5);
    assert!(l.check(&other).statuses.is_empty());
    let pay = RequestFacts {
        upstream: "payments",
        ..facts("192.0.2.9", None, "search")
    };
    assert_eq!(admitted(&l, &pay, 5), 2);
}

#[test]
fn a_refund_gives_back_exactly_what_was_taken() {
    let (l, _clock) = limiter(PER_IP);
    let f = facts("192.0.2.1", None, "api");
    for _ in 0..5 {
        let (eval, reservation) = l.reserve(&f);
        assert!(eval.is_allowed());
        l.refund(reservation.unwrap());
    }
    assert_eq!(admitted(&l, &f, 10), 5);
    let (eval, reservation) = l.reserve(&f);
    assert!(!eval.is_allowed() && reservation.is_none());
}

#[test]
fn a_local_share_scales_the_limit() {
    let clock = ManualClock::at_unix_secs(T0);
    let l = LocalLimiter::new(&config(PER_IP), 0.4, clock);
    assert_eq!(admitted(&l, &facts("192.0.2.1", None, "api"), 10), 2);
}

#[test]
fn a_redis_limiter_outside_a_runtime_is_refused_not_a_panic() {
    let text = "[redis]\nurl = \"redis://127.0.0.1:1/0\"";
    let err = crate::RateLimiter::new(&config(text)).unwrap_err();
    assert!(matches!(err, crate::RateLimitError::NoRuntime), "{err}");
    // Without redis no runtime is needed.
    assert!(crate::RateLimiter::new(&config(PER_IP)).is_ok());
}
