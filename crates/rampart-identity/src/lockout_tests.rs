#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::*;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn lockout() -> Lockout {
    Lockout::new(LockoutConfig {
        threshold: 3,
        ip_threshold: 100,
        window: secs(60),
        base: secs(1),
        max: secs(10),
        capacity: 50,
    })
}

fn user_lock(l: &Lockout, now: Instant) -> Option<Duration> {
    l.check_user("alice", now).err().map(|e| e.retry_after)
}

#[test]
fn backoff_starts_at_the_threshold_doubles_and_caps() {
    let l = lockout();
    let t0 = Instant::now();
    let mut now = t0;
    // (failures so far, lock expected right after the failure)
    let steps = [
        (1, None),
        (2, None),
        (3, Some(1)),
        (4, Some(2)),
        (5, Some(4)),
        (6, Some(8)),
    ];
    for (n, want) in steps {
        l.record_failure(Some("alice"), A, now);
        assert_eq!(user_lock(&l, now), want.map(secs), "after {n} failures");
        now += want.map_or(secs(1), secs); // retry exactly when the lock ends
        assert_eq!(user_lock(&l, now), None, "lock over after {n} failures");
    }
    for _ in 0..40 {
        l.record_failure(Some("alice"), A, now);
        assert_eq!(user_lock(&l, now), Some(secs(10)), "capped at max");
        now += secs(10);
    }
    assert!(
        l.check("alice".into(), B, now - secs(1)).is_err(),
        "locked from any address"
    );
}

#[test]
fn quiet_window_forgets_failures_but_not_during_a_lock() {
    let l = lockout();
    let t0 = Instant::now();
    l.record_failure(Some("alice"), A, t0);
    l.record_failure(Some("alice"), A, t0 + secs(30));
    l.record_failure(Some("alice"), A, t0 + secs(91)); // 61 s quiet: counting restarts
    assert_eq!(user_lock(&l, t0 + secs(91)), None);

    for i in 0..3 {
        l.record_failure(Some("bob"), A, t0 + secs(i));
    }
    let after_lock = t0 + secs(2) + secs(1) + secs(59); // within window of the lock's end
    l.record_failure(Some("bob"), A, after_lock);
    assert_eq!(
        l.check_user("bob", after_lock).unwrap_err().retry_after,
        secs(2),
        "still escalating"
    );
}

#[test]
fn success_resets_the_user_but_not_the_address() {
    let l = Lockout::new(LockoutConfig {
        ip_threshold: 4,
        ..LockoutConfig::default()
    });
    let now = Instant::now();
    for _ in 0..3 {
        l.record_failure(Some("alice"), A, now);
    }
    l.record_success("alice");
    l.record_failure(Some("alice"), A, now);
    assert!(l.check_user("alice", now).is_ok(), "counter restarted at 1");
    let locked = l.check(Some("alice"), A, now).unwrap_err();
    assert_eq!(
        locked.by,
        LockedBy::Address,
        "the address's 4 failures remain"
    );
}

#[test]
fn address_lock_is_independent_of_users() {
    let l = Lockout::new(LockoutConfig {
        ip_threshold: 3,
        ..LockoutConfig::default()
    });
    let now = Instant::now();
    for user in ["u1", "u2", "u3"] {
        l.record_failure(Some(user), A, now);
    }
    let locked = l.check(Some("fresh"), A, now).unwrap_err();
    assert_eq!(
        (locked.by, locked.retry_after),
        (LockedBy::Address, secs(1))
    );
    assert!(
        l.check(Some("fresh"), B, now).is_ok(),
        "another address is unaffected"
    );
    assert!(
        l.check(Some("u1"), B, now).is_ok(),
        "one failure does not lock u1"
    );
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
    assert!(
        l.check(None, mapped, now).is_err(),
        "IPv4-mapped form is the same address"
    );
    assert!(l.check(None, IpAddr::V6(Ipv6Addr::LOCALHOST), now).is_ok());
}

#[test]
fn a_flood_of_usernames_stays_within_capacity() {
    let l = lockout();
    let now = Instant::now();
    for i in 0..10_000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from_bits(i));
        l.record_failure(
            Some(&format!("user{i}")),
            ip,
            now + Duration::from_millis(u64::from(i)),
        );
    }
    let (users, ips) = l.tracked();
    assert!(users <= 50 && ips <= 50, "{users} users, {ips} addresses");
    // The newest entries survive eviction: the last user is still counted.
    let last = now + Duration::from_millis(9_999);
    l.record_failure(Some("user9999"), B, last);
    l.record_failure(Some("user9999"), B, last);
    assert!(l.check_user("user9999", last).is_err());
}
