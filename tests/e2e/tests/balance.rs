//! Balancing over inner replicas: a replica that goes away leaves the rotation and the
//! traffic continues on the others (the spread itself: `failures.rs`; replicas behind
//! one DNS name: scripts/compose-test.sh).

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::bins;

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(path)
        .header("host", "api.example.test")
        .body(Empty::new())
        .unwrap()
}

async fn status(stack: &Stack, path: &str) -> u16 {
    match http1(stack.http(), get(path)).await {
        Ok(response) => collect(response).await.status.as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_leaves_the_rotation_and_traffic_continues_on_the_other() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.inner_replicas = 2;
    let mut stack = Stack::start(&bins(), &opts);
    // Both replicas take traffic once both answered a probe.
    let mut both = false;
    for round in 0..50 {
        for i in 0..4 {
            assert_eq!(status(&stack, &format!("/warm/{round}/{i}")).await, 200);
        }
        let first = stack.inner.as_ref().unwrap().access_log().len();
        let second = stack.replicas[0].access_log().len();
        if first > 0 && second > 0 {
            both = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(both, "the second replica never got a request");

    stack.replicas[0].kill();
    // A short switch window: requests already bound to the dead replica's connections
    // may fail; then five in a row succeed.
    let mut settled = false;
    for round in 0..100 {
        let mut all_ok = true;
        for i in 0..5 {
            all_ok &= status(&stack, &format!("/switch/{round}/{i}")).await == 200;
        }
        if all_ok {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled, "traffic did not settle on the remaining replica");
    for i in 0..20 {
        assert_eq!(
            status(&stack, &format!("/after/{i}")).await,
            200,
            "request {i} after the switch window"
        );
    }
    // Access records are written when a response ends, so records of the switch window
    // may still be arriving: count this phase's requests by path, and give the last a moment.
    let mut served = 0;
    for _ in 0..50 {
        served = stack
            .inner
            .as_ref()
            .unwrap()
            .access_log()
            .iter()
            .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/after/")))
            .count();
        if served >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served, 20, "the remaining replica serves every request");
}
