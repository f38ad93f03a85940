//! The facade over both engines.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rampart_av::{AvConfig, ClamdAddress, Engine, ScanError, Scanner, Verdict};

use crate::common::*;

fn both(av: &AvServices) -> Scanner {
    let config = AvConfig::new(
        Some(clamd_config(ClamdAddress::Unix(av.clamd_socket.clone()))),
        Some(icap_config(&av.icap_url)),
        cache_config(),
    )
    .unwrap();
    Scanner::new(&config)
}

#[tokio::test]
async fn both_engines_pass_clean_bodies_and_block_infected_ones() {
    let av = AvServices::start();
    let scanner = both(&av);
    for len in [0, 2000, 4 << 20] {
        let verdict = scanner.scan(Bytes::from(clean_body(len))).await.unwrap();
        assert_eq!(verdict, Verdict::Clean, "{len}");
    }
    for (name, infected, _) in infected_and_look_alikes() {
        let verdict = scanner.scan(Bytes::from(infected)).await.unwrap();
        assert!(
            matches!(verdict, Verdict::Infected { .. }),
            "{name}: {verdict:?}"
        );
    }
    let m = scanner.metrics().snapshot();
    assert_eq!((m.scans, m.clean, m.errors), (3 + 9, 3, 0));
    assert_eq!(m.clamd.requests, 12);
    assert_eq!(m.icap.requests, 12);
}

#[tokio::test]
async fn a_body_over_the_limit_is_oversize() {
    let av = AvServices::start();
    let scanner = both(&av);
    let body = Bytes::from(clean_body(CLAMD_LIMIT.as_usize() + 1));
    let verdict = scanner.scan(body).await.unwrap();
    assert_eq!(
        verdict,
        Verdict::Oversize {
            engine: Engine::Clamd
        }
    );
    assert!(!verdict.is_clean());
}

#[tokio::test]
async fn one_engine_failing_is_an_error_and_health_says_which() {
    let av = AvServices::start();
    let scanner = both(&av);
    assert!(scanner.health().await.is_healthy());
    av.stop_icap();
    let err = scanner
        .scan(Bytes::from_static(b"unseen body"))
        .await
        .unwrap_err();
    assert_eq!(err.engine(), Some(Engine::Icap), "{err}");
    // A finding still decides while the other engine is down.
    let verdict = scanner.scan(Bytes::from_static(EICAR)).await.unwrap();
    assert!(
        matches!(
            verdict,
            Verdict::Infected {
                engine: Engine::Clamd,
                ..
            }
        ),
        "{verdict:?}"
    );
    let health = scanner.health().await;
    assert!(!health.is_healthy());
    assert!(matches!(health.clamd, Some(Ok(()))));
    assert!(matches!(health.icap, Some(Err(_))));
}

#[tokio::test]
async fn both_engines_frozen_clamd_ends_in_an_error_within_the_deadline() {
    let av = AvServices::start();
    let mut clamd = clamd_config(ClamdAddress::Tcp(av.clamd_tcp));
    clamd.timeout = Duration::from_millis(700);
    let mut icap = icap_config(&av.icap_url);
    icap.timeout = Duration::from_millis(700);
    let scanner = Scanner::new(&AvConfig::new(Some(clamd), Some(icap), cache_config()).unwrap());
    assert!(
        scanner
            .scan(Bytes::from_static(b"warm"))
            .await
            .unwrap()
            .is_clean()
    );
    av.pause_clamd();
    let started = Instant::now();
    let err = scanner
        .scan(Bytes::from_static(b"frozen"))
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::Timeout { .. }), "{err}");
    // Engines run concurrently: one deadline, not two in a row.
    assert!(started.elapsed() < Duration::from_millis(700) + Duration::from_secs(1));
    av.resume_clamd();
    assert!(
        scanner
            .scan(Bytes::from_static(b"thawed"))
            .await
            .unwrap()
            .is_clean()
    );
}
