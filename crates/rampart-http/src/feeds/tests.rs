#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use super::*;
use crate::iplist::IpLists;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const DROP_SAMPLE: &str = "\
; Spamhaus DROP List 2026/11/29 - (c) 2026 The Spamhaus Project SLRL
; Last-Modified: Sat, 28 Nov 2026 12:00:00 GMT
; Expires: Sun, 29 Nov 2026 13:00:00 GMT
1.10.16.0/20 ; SBL256894
2.56.192.0/22 ; SBL459831
2001:db8:dead::/48 ; SBL000001

203.0.113.7 ; a single host
";

#[test]
fn parses_drop_lines_with_comments_and_headers() {
    let feed = parse_feed(DROP_SAMPLE.as_bytes(), FeedFormat::Drop, 100).unwrap();
    assert_eq!(feed.entries, 4);
    assert_eq!(feed.skipped, 0);
    // Listed addresses next to their unlisted neighbours.
    let table = [
        ("1.10.16.1", true),
        ("1.10.31.255", true),
        ("1.10.32.0", false),
        ("1.10.15.255", false),
        ("2.56.195.9", true),
        ("2.56.196.0", false),
        ("2001:db8:dead:1::1", true),
        ("2001:db8:beef::1", false),
        ("203.0.113.7", true),
        ("203.0.113.8", false),
        ("::ffff:1.10.16.9", true),
    ];
    for (addr, listed) in table {
        assert_eq!(feed.set.contains(ip(addr)), listed, "{addr}");
    }
}

#[test]
fn parses_cidr_lines_with_hash_comments() {
    let body = "# blocklist\n198.51.100.0/24\n  192.0.2.1  # one host\n\n2001:db8::/32\r\n";
    let feed = parse_feed(body.as_bytes(), FeedFormat::Cidr, 100).unwrap();
    assert_eq!(feed.entries, 3);
    assert!(feed.set.contains(ip("198.51.100.77")));
    assert!(feed.set.contains(ip("192.0.2.1")));
    assert!(!feed.set.contains(ip("192.0.2.2")));
}

#[test]
fn refuses_bodies_that_are_not_the_configured_feed() {
    let many_good: String = (0..150).map(|i| format!("10.0.{i}.0/24\n")).collect();
    let table: [(&str, String, FeedFormat); 7] = [
        (
            "html error page",
            "<html><body>502 Bad Gateway</body></html>\n".into(),
            FeedFormat::Cidr,
        ),
        (
            "drop body read as cidr",
            DROP_SAMPLE.into(),
            FeedFormat::Cidr,
        ),
        (
            "cidr body with a stray word",
            "10.0.0.0/8\nhello\n".into(),
            FeedFormat::Cidr,
        ),
        ("host bits set", "10.0.0.1/8\n".into(), FeedFormat::Drop),
        (
            "prefix out of range",
            "10.0.0.0/33\n".into(),
            FeedFormat::Cidr,
        ),
        (
            "two bad lines in 152",
            format!("{many_good}junk\n10.0.0.0/33\n"),
            FeedFormat::Cidr,
        ),
        (
            "two tokens",
            "10.0.0.0/8 10.1.0.0/16\n".into(),
            FeedFormat::Cidr,
        ),
    ];
    for (name, body, format) in table {
        let err = parse_feed(body.as_bytes(), format, 10_000).unwrap_err();
        assert!(matches!(err, FeedError::Unparsable { .. }), "{name}: {err}");
    }
}

#[test]
fn tolerates_one_bad_line_in_a_hundred() {
    let mut body: String = (0..150).map(|i| format!("10.0.{i}.0/24\n")).collect();
    body.push_str("not-an-address\n");
    let feed = parse_feed(body.as_bytes(), FeedFormat::Cidr, 10_000).unwrap();
    assert_eq!((feed.entries, feed.skipped), (150, 1));
}

#[test]
fn refuses_more_entries_than_the_cap_and_binary_bodies() {
    let body: String = (0..11).map(|i| format!("10.0.{i}.0/24\n")).collect();
    assert_eq!(
        parse_feed(body.as_bytes(), FeedFormat::Cidr, 10),
        Err(FeedError::TooManyEntries { limit: 10 })
    );
    assert!(parse_feed(body.as_bytes(), FeedFormat::Cidr, 11).is_ok());
    assert_eq!(
        parse_feed(b"\xff\xfe1.2.3.4\n", FeedFormat::Cidr, 10),
        Err(FeedError::NotText)
    );
}

#[test]
fn refused_lines_are_reported_short() {
    let long = "x".repeat(10_000);
    let err = parse_feed(long.as_bytes(), FeedFormat::Cidr, 10).unwrap_err();
    assert!(err.to_string().len() < 200, "{err}");
}

#[test]
fn an_empty_update_never_replaces_a_non_empty_copy() {
    let mut lists = IpLists::default();
    let handle = lists.insert_feed("drop", IpSet::default(), 0);
    // An empty feed is fine as long as nothing was known before.
    let empty = parse_feed(b"; nothing listed today\n", FeedFormat::Drop, 10).unwrap();
    assert_eq!(handle.replace(empty.clone()), Ok(0));
    let one = parse_feed(b"192.0.2.0/24 ; SBL1\n", FeedFormat::Drop, 10).unwrap();
    assert_eq!(handle.replace(one), Ok(1));
    assert!(lists.get("drop").unwrap().contains(ip("192.0.2.9")));
    assert_eq!(handle.replace(empty), Err(FeedError::Empty { previous: 1 }));
    assert!(lists.get("drop").unwrap().contains(ip("192.0.2.9")));
    // An update replaces the whole copy: removed entries are gone, new ones present.
    let other = parse_feed(b"198.51.100.0/24 ; SBL2\n", FeedFormat::Drop, 10).unwrap();
    assert_eq!(handle.replace(other), Ok(1));
    let now = lists.get("drop").unwrap();
    assert!(!now.contains(ip("192.0.2.9")));
    assert!(now.contains(ip("198.51.100.9")));
}
