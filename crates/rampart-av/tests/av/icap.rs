//! c-icap's virus_scan service (backed by clamd over its unix socket).

use std::time::{Duration, Instant};

use rampart_av::{EngineVerdict, IcapClient, ScanError};

use crate::common::*;

/// c-icap advertises `Preview: 1024`: bodies on both sides of it take different paths
/// (preview with ieof, preview then 100 Continue, and the empty body).
const SIZES: [usize; 6] = [0, 1, 1023, 1024, 1025, 3 << 20];

#[tokio::test]
async fn finds_signatures_raw_in_json_zip_and_gzip_and_passes_look_alikes() {
    let av = AvServices::start();
    let icap = IcapClient::new(&icap_config(&av.icap_url));
    for (name, infected, look_alike) in infected_and_look_alikes() {
        let verdict = icap.scan(&infected).await.unwrap();
        assert!(
            matches!(&verdict, EngineVerdict::Infected { signature } if signature.starts_with("Rampart.Test.")),
            "{name}: {verdict:?}"
        );
        assert_eq!(
            icap.scan(&look_alike).await.unwrap(),
            EngineVerdict::Clean,
            "look-alike of {name}"
        );
    }
}

#[tokio::test]
async fn clean_bodies_of_every_size_pass_and_the_marker_is_found_at_every_size() {
    let av = AvServices::start();
    let icap = IcapClient::new(&icap_config(&av.icap_url));
    for len in SIZES {
        assert_eq!(
            icap.scan(&clean_body(len)).await.unwrap(),
            EngineVerdict::Clean,
            "{len}"
        );
        // The marker at the very end: after the preview when the body is larger.
        let mut body = clean_body(len);
        body.extend_from_slice(TEST_MARKER.as_bytes());
        let verdict = icap.scan(&body).await.unwrap();
        assert!(
            matches!(verdict, EngineVerdict::Infected { .. }),
            "{len}: {verdict:?}"
        );
    }
}

#[tokio::test]
async fn options_are_fetched_once_and_connections_are_reused() {
    let av = AvServices::start();
    let icap = IcapClient::new(&icap_config(&av.icap_url));
    let options = icap.health().await.unwrap();
    assert!(options.methods.iter().any(|m| m == "REQMOD"), "{options:?}");
    assert_eq!(options.preview, Some(1024));
    assert!(options.allow_204);
    assert_eq!(options.ttl, Some(Duration::from_secs(3600)));
    assert!(options.istag.is_some());
    for _ in 0..10 {
        assert_eq!(
            icap.scan(&clean_body(5000)).await.unwrap(),
            EngineVerdict::Clean
        );
    }
    assert_eq!(
        icap.options_fetches(),
        1,
        "OPTIONS are cached for their TTL"
    );
    assert_eq!(
        icap.connections_opened(),
        1,
        "one keep-alive connection served all"
    );
    // A finding drops the connection rather than reading the blocked answer's body.
    assert!(matches!(
        icap.scan(EICAR).await.unwrap(),
        EngineVerdict::Infected { .. }
    ));
    assert_eq!(icap.scan(b"fine").await.unwrap(), EngineVerdict::Clean);
    assert_eq!(icap.connections_opened(), 2);
    icap.health().await.unwrap();
    assert_eq!(icap.options_fetches(), 2, "a health check fetches afresh");
}

#[tokio::test]
async fn a_pooled_connection_closed_by_a_restart_is_replaced_transparently() {
    let av = AvServices::start();
    let icap = IcapClient::new(&icap_config(&av.icap_url));
    assert_eq!(icap.scan(b"before").await.unwrap(), EngineVerdict::Clean);
    assert_eq!(icap.connections_opened(), 1);
    av.restart_icap();
    // The idle connection is dead; the scan is retried once on a fresh one.
    assert_eq!(icap.scan(b"after").await.unwrap(), EngineVerdict::Clean);
    assert!(matches!(
        icap.scan(EICAR).await.unwrap(),
        EngineVerdict::Infected { .. }
    ));
    assert_eq!(icap.connections_opened(), 2);
}

#[tokio::test]
async fn the_bare_virus_scan_service_is_never_taken_for_clean() {
    // Without mode=simple, c-icap answers a 100 KB infected upload with 200, no infection
    // header and an emptied body, and echoes clean ones with 200: only 204 is clean.
    let av = AvServices::start();
    let icap = IcapClient::new(&icap_config(&av.icap_bare_url));
    let mut infected = clean_body(100_000);
    infected.extend_from_slice(TEST_MARKER.as_bytes());
    for body in [infected, clean_body(100_000)] {
        let verdict = icap.scan(&body).await.unwrap();
        assert!(
            matches!(verdict, EngineVerdict::Infected { .. }),
            "{verdict:?}"
        );
    }
}

#[tokio::test]
async fn c_icap_down_is_an_error() {
    let av = AvServices::start();
    let icap = IcapClient::new(&icap_config(&av.icap_url));
    assert_eq!(icap.scan(b"hello").await.unwrap(), EngineVerdict::Clean);
    av.stop_icap();
    let started = Instant::now();
    let err = icap.scan(b"hello").await.unwrap_err();
    assert!(
        matches!(err, ScanError::Connect { .. } | ScanError::Io { .. }),
        "{err}"
    );
    assert!(started.elapsed() < TIMEOUT);
    assert!(icap.health().await.is_err());
}

#[tokio::test]
async fn clamd_down_behind_c_icap_is_an_error_not_clean() {
    let av = AvServices::start();
    let icap = IcapClient::new(&icap_config(&av.icap_url));
    assert_eq!(icap.scan(b"hello").await.unwrap(), EngineVerdict::Clean);
    av.stop_clamd();
    for body in [&b"hello again"[..], EICAR, &clean_body(50_000)] {
        let err = icap.scan(body).await.unwrap_err();
        assert!(
            matches!(err, ScanError::Status { status: 500, .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn clamd_frozen_behind_c_icap_hits_the_icap_deadline() {
    // c-icap has no timeout towards a hung clamd: only the client's deadline ends this.
    let av = AvServices::start();
    let mut config = icap_config(&av.icap_url);
    config.timeout = Duration::from_millis(800);
    let icap = IcapClient::new(&config);
    assert_eq!(icap.scan(b"hello").await.unwrap(), EngineVerdict::Clean);
    av.pause_clamd();
    let started = Instant::now();
    let err = icap.scan(b"hello, frozen").await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, ScanError::Timeout { .. }), "{err}");
    assert!(
        took >= config.timeout && took < config.timeout + Duration::from_secs(2),
        "{took:?}"
    );
    av.resume_clamd();
    let verdict = icap.scan(EICAR).await.unwrap();
    assert!(
        matches!(verdict, EngineVerdict::Infected { .. }),
        "{verdict:?}"
    );
}
