//! Start-up, configuration checking and draining on SIGTERM.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::http1;
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};

use crate::common::bins;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_an_in_flight_request_then_exits() {
    let backend = Backend::start().await;
    let mut stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let addr = stack.http();
    let in_flight = tokio::spawn(async move {
        let request = Request::builder()
            .uri("/delay/3000")
            .header("host", "api.example.test")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = http1(addr, request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body.len())
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !backend.seen().is_empty(),
        "request reached the backend before SIGTERM"
    );
    stack.edge.signal(nix::sys::signal::Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Draining: readiness is withdrawn and no new connection is accepted.
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
    let (status, _) = in_flight.await.unwrap();
    assert_eq!(status, 200, "in-flight request completed");
    let exit = stack
        .edge
        .wait(Duration::from_secs(10))
        .expect("edge exited after draining");
    assert!(exit.success(), "{exit}");
    assert!(!stack.edge.logs_containing("drained").is_empty());
}

#[test]
fn admin_endpoints_report_health_and_readiness() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let backend = rt.block_on(Backend::start());
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let admin = stack.edge.addr("admin");
    assert!(blocking_get(admin, "/healthz").starts_with("HTTP/1.1 200"));
    assert!(blocking_get(admin, "/readyz").starts_with("HTTP/1.1 200"));
    assert!(blocking_get(admin, "/nope").starts_with("HTTP/1.1 404"));
    let inner_admin = stack.inner.as_ref().unwrap().addr("admin");
    assert!(blocking_get(inner_admin, "/readyz").starts_with("HTTP/1.1 200"));
}

#[test]
fn config_check_reports_every_problem_with_its_key_path() {
    let dir = tempfile_dir();
    let bad = dir.join("edge.toml");
    std::fs::write(
        &bad,
        r#"[server]
http_listen = "not-an-address"
drain_timeout = "30"
bogus = 1

[inner]
endpoints = ["inner:7443", "no-port"]
connections_per_endpoint = 0

[surprise]
"#,
    )
    .unwrap();
    let output = Command::new(bins().edge)
        .args(["--check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "server.bogus",
        "surprise",
        "inner.endpoints[1]",
        "inner.server_name",
        "inner.connections_per_endpoint",
    ] {
        assert!(
            stderr.contains(&format!("edge.toml: {expected}")),
            "missing {expected}:\n{stderr}"
        );
    }
    // A valid file passes --check.
    let backend_less = dir.join("ok.toml");
    std::fs::write(&backend_less, "[server]\nhttp_listen = \"127.0.0.1:0\"\n[inner]\nendpoints = [\"127.0.0.1:1\"]\nserver_name = \"x\"\nca = \"missing.pem\"\nclient_cert = \"c.pem\"\nclient_key = \"k.pem\"\n").unwrap();
    let output = Command::new(bins().edge)
        .args(["--check", "--config"])
        .arg(&backend_less)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "missing files are problems too: {stderr}"
    );
    assert!(stderr.contains("missing.pem"), "{stderr}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rampart-e2e-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn deploy_examples_are_valid_configurations() {
    let dir = tempfile_dir();
    rampart_tls::pki::write_dev_pki(&dir.join("pki"), &rampart_tls::pki::DevNames::default())
        .unwrap();
    std::fs::copy(dir.join("pki/ca.pem"), dir.join("pki/lan-ca.pem")).unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples");
    for file in ["consumers.toml", "users.htpasswd"] {
        std::fs::copy(examples.join(file), dir.join(file)).unwrap();
    }
    for (file, bin) in [("edge.toml", bins().edge), ("inner.toml", bins().inner)] {
        std::fs::copy(examples.join(file), dir.join(file)).unwrap();
        let output = Command::new(bin)
            .args(["--check", "--config"])
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
