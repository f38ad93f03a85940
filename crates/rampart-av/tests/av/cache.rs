//! The verdict cache in front of real engines.

use std::time::Duration;

use bytes::Bytes;
use rampart_av::{AvConfig, CacheConfig, ClamdAddress, Scanner, Verdict};

use crate::common::*;

fn clamd_only(av: &AvServices, cache: CacheConfig) -> Scanner {
    let mut clamd = clamd_config(ClamdAddress::Tcp(av.clamd_tcp));
    clamd.timeout = Duration::from_millis(700);
    Scanner::new(&AvConfig::new(Some(clamd), None, cache).unwrap())
}

#[tokio::test]
async fn a_repeated_body_is_answered_from_the_cache_even_with_clamd_frozen() {
    let av = AvServices::start();
    let scanner = clamd_only(&av, cache_config());
    let clean = Bytes::from(clean_body(300_000));
    let infected = Bytes::from(json_with(TEST_MARKER));
    assert!(scanner.scan(clean.clone()).await.unwrap().is_clean());
    let first = scanner.scan(infected.clone()).await.unwrap();
    assert!(matches!(first, Verdict::Infected { .. }), "{first:?}");
    assert_eq!(scanner.metrics().snapshot().clamd.requests, 2);

    av.pause_clamd();
    assert!(scanner.scan(clean.clone()).await.unwrap().is_clean());
    assert_eq!(scanner.scan(infected).await.unwrap(), first);
    let m = scanner.metrics().snapshot();
    assert_eq!((m.clamd.requests, m.clamd.cache_hits), (2, 2), "{m:?}");
    // The cache is keyed by the exact bytes: one byte more goes to (frozen) clamd.
    let mut other = clean.to_vec();
    other.push(b' ');
    assert!(scanner.scan(Bytes::from(other)).await.is_err());
    av.resume_clamd();
}

#[tokio::test]
async fn errors_and_oversize_answers_are_not_cached() {
    let av = AvServices::start();
    let scanner = clamd_only(&av, cache_config());
    av.stop_clamd();
    let body = Bytes::from_static(b"scanned after an outage");
    assert!(scanner.scan(body.clone()).await.is_err());
    av.restart_clamd();
    assert!(scanner.scan(body).await.unwrap().is_clean());
    let big = Bytes::from(clean_body(CLAMD_LIMIT.as_usize() + 1));
    for _ in 0..2 {
        assert!(matches!(
            scanner.scan(big.clone()).await.unwrap(),
            Verdict::Oversize { .. }
        ));
    }
    let m = scanner.metrics().snapshot();
    assert_eq!(
        (m.clamd.requests, m.clamd.cache_hits, m.clamd.errors),
        (4, 0, 1),
        "{m:?}"
    );
}

#[tokio::test]
async fn a_disabled_cache_asks_clamd_every_time() {
    let av = AvServices::start();
    let scanner = clamd_only(
        &av,
        CacheConfig {
            ttl: Duration::from_secs(60),
            entries: 0,
        },
    );
    for _ in 0..3 {
        assert!(
            scanner
                .scan(Bytes::from_static(b"same body"))
                .await
                .unwrap()
                .is_clean()
        );
    }
    let m = scanner.metrics().snapshot();
    assert_eq!((m.clamd.requests, m.clamd.cache_hits), (3, 0));
}
