use std::collections::hash_map::RandomState;

use super::*;

fn facts<'a>(ip: &str, consumer: Option<&'a str>, route: &'a str) -> RequestFacts<'a> {
    RequestFacts {
        client_ip: ip.parse().unwrap(),
        consumer,
        plan: None,
        route,
        upstream: "up",
    }
}

#[test]
fn ipv6_clients_are_keyed_by_their_prefix() {
    let spec = KeySpec::new(&[KeyPart::ClientIp]);
    let p = IpPrefixes::default();
    let s = RandomState::new();
    let key = |ip: &str| spec.hash_with(&s, 0, &facts(ip, None, "api"), &p);
    // Same /64: one bucket, whatever the interface id.
    let same = [
        "2001:db8:1:2::1",
        "2001:db8:1:2:ffff:ffff:ffff:ffff",
        "2001:db8:1:2:abcd::9",
    ];
    for ip in same {
        assert_eq!(key(ip), key(same[0]), "{ip}");
    }
    // Neighbouring /64s and IPv4 addresses stay apart.
    for other in ["2001:db8:1:3::1", "2001:db8:1:1::1", "192.0.2.1"] {
        assert_ne!(key(other), key(same[0]), "{other}");
    }
    assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
}

#[test]
fn ipv4_mapped_ipv6_counts_as_the_ipv4_address() {
    let p = IpPrefixes::default();
    assert_eq!(
        p.network("::ffff:192.0.2.7".parse().unwrap()),
        "192.0.2.7".parse::<IpAddr>().unwrap()
    );
    let wide = IpPrefixes { v4: 24, v6: 48 };
    assert_eq!(
        wide.network("192.0.2.77".parse().unwrap()).to_string(),
        "192.0.2.0"
    );
    assert_eq!(
        wide.network("2001:db8:aa:bb::1".parse().unwrap())
            .to_string(),
        "2001:db8:aa::"
    );
    let none = IpPrefixes { v4: 0, v6: 0 };
    assert_eq!(
        none.network("203.0.113.9".parse().unwrap()).to_string(),
        "0.0.0.0"
    );
    let full = IpPrefixes { v4: 32, v6: 128 };
    assert_eq!(
        full.network("2001:db8::1".parse().unwrap()).to_string(),
        "2001:db8::1"
    );
}

#[test]
fn anonymous_requests_are_keyed_by_address_and_never_match_a_consumer() {
    let spec = KeySpec::new(&[KeyPart::Consumer]);
    let p = IpPrefixes::default();
    let s = RandomState::new();
    let anon_a = spec.hash_with(&s, 0, &facts("192.0.2.1", None, "r"), &p);
    let anon_b = spec.hash_with(&s, 0, &facts("192.0.2.2", None, "r"), &p);
    // A consumer whose id looks like an address must not share the anonymous bucket.
    let named = spec.hash_with(&s, 0, &facts("192.0.2.1", Some("192.0.2.1"), "r"), &p);
    assert_ne!(anon_a, anon_b);
    assert_ne!(anon_a, named);
    let redis_anon = spec.redis_key("p:", "g", "q", &facts("192.0.2.1", None, "r"), &p);
    let redis_named = spec.redis_key(
        "p:",
        "g",
        "q",
        &facts("192.0.2.1", Some("192.0.2.1"), "r"),
        &p,
    );
    assert_eq!(redis_anon, "p:g:q:c@192.0.2.1");
    assert_eq!(redis_named, "p:g:q:c=192.0.2.1");
}

#[test]
fn redis_keys_escape_separators_so_parts_cannot_be_forged() {
    let spec = KeySpec::new(&[KeyPart::Consumer, KeyPart::Route]);
    let p = IpPrefixes::default();
    let key = |c, r| spec.redis_key("rampart:", "g", "pol", &facts("192.0.2.1", Some(c), r), &p);
    assert_eq!(key("alice", "api"), "rampart:g:pol:c=alice:r=api");
    // A consumer id containing the separator does not collide with another pair.
    assert_ne!(key("alice:r=api", "x"), key("alice", "api:r=x"));
    assert_eq!(key("a:b", "r"), "rampart:g:pol:c=a%3Ab:r=r");
    assert_eq!(key("é\n", "r"), "rampart:g:pol:c=%C3%A9%0A:r=r");
}

#[test]
fn policies_and_part_order_separate_keys() {
    let p = IpPrefixes::default();
    let s = RandomState::new();
    let f = facts("192.0.2.1", Some("a"), "a");
    let cr = KeySpec::new(&[KeyPart::Consumer, KeyPart::Route]);
    let rc = KeySpec::new(&[KeyPart::Route, KeyPart::Consumer]);
    assert_ne!(cr.hash_with(&s, 0, &f, &p), cr.hash_with(&s, 1, &f, &p));
    assert_ne!(cr.hash_with(&s, 0, &f, &p), rc.hash_with(&s, 0, &f, &p));
    assert_eq!(
        KeySpec::new(&[KeyPart::Route, KeyPart::Route]).parts(),
        [KeyPart::Route]
    );
    // The empty key is one global bucket.
    let global = KeySpec::default();
    assert_eq!(
        global.hash_with(&s, 0, &f, &p),
        global.hash_with(&s, 0, &facts("2001:db8::1", None, "b"), &p)
    );
}
