//! clamd over TCP and its unix socket.

use std::time::{Duration, Instant};

use rampart_av::{ClamdAddress, ClamdClient, EngineVerdict, ScanError};
use rampart_core::units::ByteSize;

use crate::common::*;

fn addresses(av: &AvServices) -> [ClamdAddress; 2] {
    [
        ClamdAddress::Tcp(av.clamd_tcp),
        ClamdAddress::Unix(av.clamd_socket.clone()),
    ]
}

#[tokio::test]
async fn finds_signatures_raw_in_json_zip_and_gzip_and_passes_look_alikes() {
    let av = AvServices::start();
    for address in addresses(&av) {
        let clamd = ClamdClient::new(&clamd_config(address.clone()));
        for (name, infected, look_alike) in infected_and_look_alikes() {
            let verdict = clamd.scan(&infected).await.unwrap();
            assert!(
                matches!(&verdict, EngineVerdict::Infected { signature } if signature.starts_with("Rampart.Test.")),
                "{name} over {address:?}: {verdict:?}"
            );
            let verdict = clamd.scan(&look_alike).await.unwrap();
            assert_eq!(
                verdict,
                EngineVerdict::Clean,
                "look-alike of {name} over {address:?}"
            );
        }
    }
}

#[tokio::test]
async fn passes_clean_bodies_of_several_mib_and_an_empty_one() {
    let av = AvServices::start();
    for address in addresses(&av) {
        let clamd = ClamdClient::new(&clamd_config(address));
        for len in [0, 1, 65_536, 65_537, 6 << 20] {
            assert_eq!(
                clamd.scan(&clean_body(len)).await.unwrap(),
                EngineVerdict::Clean,
                "{len}"
            );
        }
    }
}

#[tokio::test]
async fn a_body_over_clamds_limit_is_oversize_never_clean() {
    let av = AvServices::start();
    let body = clean_body(CLAMD_LIMIT.as_usize() + 1);
    for address in addresses(&av) {
        // The client believes clamd takes more: clamd's own "size limit exceeded" reply
        // arrives while the upload is still running, and it decides.
        let mut config = clamd_config(address.clone());
        config.stream_max_length = ByteSize::mib(64);
        let clamd = ClamdClient::new(&config);
        assert_eq!(
            clamd.scan(&body).await.unwrap(),
            EngineVerdict::Oversize,
            "{address:?}"
        );
        // With the limits in step, the client says so without sending anything.
        let clamd = ClamdClient::new(&clamd_config(address.clone()));
        assert_eq!(
            clamd.scan(&body).await.unwrap(),
            EngineVerdict::Oversize,
            "{address:?}"
        );
        // The same body just under the limit is scanned.
        let fits = &body[..CLAMD_LIMIT.as_usize()];
        assert_eq!(
            clamd.scan(fits).await.unwrap(),
            EngineVerdict::Clean,
            "{address:?}"
        );
    }
}

#[tokio::test]
async fn a_stopped_clamd_is_an_error_within_the_deadline() {
    let av = AvServices::start();
    let clamds: Vec<ClamdClient> = addresses(&av)
        .map(|a| ClamdClient::new(&clamd_config(a)))
        .into();
    for clamd in &clamds {
        clamd.ping().await.unwrap();
    }
    av.stop_clamd();
    for clamd in &clamds {
        let started = Instant::now();
        let err = clamd.scan(EICAR).await.unwrap_err();
        assert!(matches!(err, ScanError::Connect { .. }), "{err}");
        assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
        assert!(clamd.ping().await.is_err());
    }
    av.restart_clamd();
    for clamd in &clamds {
        assert!(matches!(
            clamd.scan(EICAR).await.unwrap(),
            EngineVerdict::Infected { .. }
        ));
    }
}

#[tokio::test]
async fn a_frozen_clamd_times_out_and_the_same_client_recovers_when_it_thaws() {
    let av = AvServices::start();
    let mut config = clamd_config(ClamdAddress::Tcp(av.clamd_tcp));
    config.timeout = Duration::from_millis(800);
    let clamd = ClamdClient::new(&config);
    assert_eq!(clamd.scan(b"hello").await.unwrap(), EngineVerdict::Clean);

    av.pause_clamd();
    for body in [&b"hello"[..], &clean_body(2 << 20)] {
        let started = Instant::now();
        let err = clamd.scan(body).await.unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, ScanError::Timeout { .. }), "{err}");
        // The deadline ended it, not a reply: within deadline + slack.
        assert!(
            took >= config.timeout && took < config.timeout + Duration::from_secs(2),
            "{took:?}"
        );
    }
    assert!(matches!(clamd.ping().await, Err(ScanError::Timeout { .. })));

    av.resume_clamd();
    assert!(matches!(
        clamd.scan(EICAR).await.unwrap(),
        EngineVerdict::Infected { .. }
    ));
    clamd.ping().await.unwrap();
}

#[tokio::test]
async fn concurrent_scans_share_the_bounded_client() {
    let av = AvServices::start();
    let clamd = ClamdClient::new(&clamd_config(ClamdAddress::Unix(av.clamd_socket.clone())));
    let bodies: Vec<Vec<u8>> = (0..16)
        .map(|i| {
            if i % 4 == 0 {
                json_with(TEST_MARKER)
            } else {
                clean_body(100_000 + i)
            }
        })
        .collect();
    let verdicts = futures_util::future::join_all(bodies.iter().map(|b| clamd.scan(b))).await;
    for (i, verdict) in verdicts.into_iter().enumerate() {
        let verdict = verdict.unwrap();
        assert_eq!(
            verdict == EngineVerdict::Clean,
            i % 4 != 0,
            "{i}: {verdict:?}"
        );
    }
}
