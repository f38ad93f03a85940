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
            entries: 0,
            ..cache_config()
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

/// A threat the first signatures do not know and an update adds.
const NEW_THREAT: &str = "RAMPART-TEST-NEW-THREAT-0c21";

/// Asks for the signature version before every reuse, so the test needs no waiting.
fn checking_every_time() -> CacheConfig {
    CacheConfig {
        signature_check: Duration::ZERO,
        ..cache_config()
    }
}

/// Scans `body` twice (the second answer from the cache), updates the signatures to
/// know it, then scans it again: the cached clean verdict must not outlive them.
async fn a_clean_verdict_ends_with_the_signatures(av: &AvServices, scanner: &Scanner) {
    av.update_signatures(100, "RAMPART-TEST-NOT-IN-ANY-BODY");
    let body = Bytes::from(json_with(NEW_THREAT));
    let other = Bytes::from(clean_body(2_000));
    for _ in 0..2 {
        assert!(scanner.scan(body.clone()).await.unwrap().is_clean());
        assert!(scanner.scan(other.clone()).await.unwrap().is_clean());
    }
    let m = scanner.metrics().snapshot();
    let engine = |m: &rampart_av::MetricsSnapshot| m.clamd.requests.max(m.icap.requests);
    let hits = |m: &rampart_av::MetricsSnapshot| m.clamd.cache_hits.max(m.icap.cache_hits);
    assert_eq!((engine(&m), hits(&m)), (2, 2), "{m:?}");

    av.update_signatures(101, NEW_THREAT);
    let verdict = scanner.scan(body.clone()).await.unwrap();
    assert!(
        matches!(verdict, Verdict::Infected { .. }),
        "{verdict:?} {:?}",
        scanner.metrics().snapshot()
    );
    // The update dropped every verdict of the old signatures, the other body's too.
    assert!(scanner.scan(other).await.unwrap().is_clean());
    assert_eq!(scanner.scan(body).await.unwrap(), verdict);
    let m = scanner.metrics().snapshot();
    let changes = m.clamd.signature_changes + m.icap.signature_changes;
    assert_eq!((engine(&m) + hits(&m), changes), (7, 1), "{m:?}");
    assert!(engine(&m) >= 4, "both bodies were scanned again: {m:?}");
    // clamd's new verdicts are reused at once. An ICAP answer is reused only under the
    // ISTag it came with, and a pooled connection may still reach a c-icap worker from
    // before the reconfigure (it scans through the reloaded clamd but sends the old tag).
    assert!(hits(&m) >= 2 + u64::from(m.clamd.requests > 0), "{m:?}");
}

#[tokio::test]
async fn clamd_verdicts_are_not_reused_after_a_signature_update() {
    let av = AvServices::start();
    let scanner = clamd_only(&av, checking_every_time());
    a_clean_verdict_ends_with_the_signatures(&av, &scanner).await;
}

#[tokio::test]
async fn icap_verdicts_are_not_reused_once_the_istag_changes() {
    let av = AvServices::start();
    let config = AvConfig::new(None, Some(icap_config(&av.icap_url)), checking_every_time());
    let scanner = Scanner::new(&config.unwrap());
    a_clean_verdict_ends_with_the_signatures(&av, &scanner).await;
}

#[tokio::test]
async fn the_signature_version_is_asked_for_once_per_check_interval() {
    let av = AvServices::start();
    av.update_signatures(100, "RAMPART-TEST-NOT-IN-ANY-BODY");
    let scanner = clamd_only(
        &av,
        CacheConfig {
            signature_check: Duration::from_secs(3600),
            ..cache_config()
        },
    );
    let body = Bytes::from(json_with(NEW_THREAT));
    assert!(scanner.scan(body.clone()).await.unwrap().is_clean());
    // Within the interval the version confirmed at the first scan stands: an update now
    // is noticed at the next check, not before (the interval is the operator's bound).
    av.update_signatures(101, NEW_THREAT);
    assert!(scanner.scan(body.clone()).await.unwrap().is_clean());
    let m = scanner.metrics().snapshot();
    assert_eq!(
        (
            m.clamd.requests,
            m.clamd.cache_hits,
            m.clamd.signature_changes
        ),
        (1, 1, 0),
        "{m:?}"
    );
}
