//! Hot reload under load: both tiers' files are rewritten every second, alternating a
//! valid change (a marker route flips between allowed and refused on each tier) and an
//! invalid file (unknown key, syntax error, bad value), while clients keep sending
//! requests that no change concerns. None of them may fail; every valid change must
//! take effect and every invalid one must be refused and reported, the running
//! configuration staying. Reloads come from the admin API, the file watch and SIGHUP.
//!
//! `RAMPART_RELOAD_TEST_SECS` (default 30, 4..=600) sets how long the churn runs.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_service::admin::{Role, new_admin_token};
use rampart_test_support::backend::{Backend, closed_port};
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};

use crate::common::{self, AdminReply, bins};

/// The edge's marker route, open; the closed form denies the test's own address.
const EDGE_OPEN: &str = "# marker: open\n";
const EDGE_CLOSED: &str = "ip_policy = { deny = [\"127.0.0.0/8\"] }\n";
/// The inner's marker route goes to the backend, or to a closed port (502).
const INNER_OPEN: &str = "upstream = \"app\" # marker\n";
const INNER_CLOSED: &str = "upstream = \"dead\" # marker\n";

/// One admin call over a fresh connection.
fn admin_call(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> AdminReply {
    common::admin_call(addr, method, path, token, &[], "")
}

/// Replaces `path` in one step, as editors and config management do.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn generation(admin: SocketAddr, token: &str) -> (u64, serde_json::Value) {
    let reply = admin_call(admin, "GET", "/admin/status", Some(token));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let doc = reply.json();
    let status = doc["status"].clone();
    (status["config_generation"].as_u64().unwrap(), status)
}

async fn status_of(addr: SocketAddr, path: &str) -> u16 {
    let request = Request::builder()
        .uri(path)
        .header("host", "api.example.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(http1(addr, request).await.unwrap())
        .await
        .status
        .as_u16()
}

/// The invalid variants of a valid file and what their errors must name.
fn broken(text: &str, kind: usize) -> (String, &'static str) {
    match kind % 3 {
        0 => (format!("bogus_reload_key = 1\n{text}"), "bogus_reload_key"),
        1 => (format!("{text}\n[[routes]\n"), "line "),
        _ => (
            format!("reload_interval = \"every now and then\"\n{text}"),
            "reload_interval",
        ),
    }
}

/// Polls `admin` until its generation passes `after` (bounded).
fn wait_generation(admin: SocketAddr, token: &str, after: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (g, _) = generation(admin, token);
        if g > after {
            return g;
        }
        assert!(Instant::now() < deadline, "generation stayed {g}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_every_second_under_load_drop_nothing_and_refuse_bad_files() {
    let secs: u64 = std::env::var("RAMPART_RELOAD_TEST_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
        .clamp(4, 600);
    let backend = Backend::start().await;
    let dead = closed_port().await;
    let (operator, operator_toml) = new_admin_token("ops", Role::Operator);
    let (viewer, viewer_toml) = new_admin_token("watch", Role::Viewer);
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        "{operator_toml}{viewer_toml}\n[[routes]]\nname = \"marker\"\npath_prefix = \"/marker\"\n{EDGE_OPEN}\n[[routes]]\nname = \"rest\"\npath_prefix = \"/\"\n"
    );
    opts.inner_extra = format!(
        "[[routes]]\nname = \"imarker\"\npath_prefix = \"/imarker\"\n{INNER_OPEN}\n[upstreams.dead]\naddresses = [\"http://{dead}\"]\nconnect_timeout = \"1s\"\n\n{operator_toml}{viewer_toml}"
    );
    let stack = Stack::start(&bins(), &opts);
    let edge_admin = stack.edge.addr("admin");
    let inner_admin = stack.inner.as_ref().unwrap().addr("admin");
    let edge_file = stack.pki.path().join("edge.toml");
    let inner_file = stack.pki.path().join("inner.toml");
    let edge_open = std::fs::read_to_string(&edge_file).unwrap();
    let inner_open = std::fs::read_to_string(&inner_file).unwrap();
    assert!(edge_open.contains(EDGE_OPEN) && inner_open.contains(INNER_OPEN));
    let edge_closed = edge_open.replace(EDGE_OPEN, EDGE_CLOSED);
    let inner_closed = inner_open.replace(INNER_OPEN, INNER_CLOSED);
    let http = stack.http();
    assert_eq!(status_of(http, "/marker/a").await, 200);
    assert_eq!(status_of(http, "/imarker/a").await, 200);

    // Roles: an operator may reload, a viewer and a stranger may not.
    for admin in [edge_admin, inner_admin] {
        assert_eq!(
            admin_call(admin, "POST", "/admin/reload", Some(&viewer)).status,
            403
        );
        assert_eq!(admin_call(admin, "POST", "/admin/reload", None).status, 401);
        let (before, _) = generation(admin, &viewer);
        let reply = admin_call(admin, "POST", "/admin/reload", Some(&operator));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let outcome = reply.json();
        assert_eq!(outcome["applied"], true, "{outcome}");
        assert!(
            outcome["generation"].as_u64().unwrap() > before,
            "{outcome}"
        );
        assert!(outcome.get("warnings").is_none(), "{outcome}");
    }

    // The load: requests no change concerns, small JSON bodies included.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for c in 0..8u64 {
        let (stop, sent) = (stop.clone(), sent.clone());
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut i = 0u64;
            // Bounded even if `stop` were never set.
            while !stop.load(Ordering::Relaxed) && i < 1_000_000 {
                i += 1;
                let request = if i.is_multiple_of(2) {
                    Request::builder()
                        .method("POST")
                        .uri("/load/orders")
                        .header("host", "api.example.test")
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(format!(
                            "{{\"client\":{c},\"n\":{i},\"note\":\"ok\"}}"
                        ))))
                        .unwrap()
                } else {
                    Request::builder()
                        .uri(format!("/load/items?client={c}&n={i}"))
                        .header("host", "api.example.test")
                        .body(Full::new(Bytes::new()))
                        .unwrap()
                };
                match http1(http, request).await {
                    Ok(response) => {
                        let got = collect(response).await;
                        if !got.status.is_success() {
                            failures.push(format!("{}: {:?}", got.status, got.body));
                        }
                    }
                    Err(e) => failures.push(format!("transport: {e}")),
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }

    let started = Instant::now();
    let mut closed = false;
    let mut step = 0usize;
    let (mut applied, mut refused) = (0u32, 0u32);
    while started.elapsed() < Duration::from_secs(secs) {
        let tick = Instant::now();
        let (edge_before, _) = generation(edge_admin, &viewer);
        let (inner_before, _) = generation(inner_admin, &viewer);
        if step.is_multiple_of(2) {
            closed = !closed;
            let (e, i) = if closed {
                (&edge_closed, &inner_closed)
            } else {
                (&edge_open, &inner_open)
            };
            write_atomically(&edge_file, e);
            write_atomically(&inner_file, i);
            for (admin, before) in [(edge_admin, edge_before), (inner_admin, inner_before)] {
                let reply = admin_call(admin, "POST", "/admin/reload", Some(&operator));
                assert_eq!(reply.status, 200, "{}", reply.body);
                let outcome = reply.json();
                assert_eq!(outcome["applied"], true, "{outcome}");
                assert!(
                    outcome["generation"].as_u64().unwrap() > before,
                    "{outcome}"
                );
            }
            applied += 1;
        } else {
            let (e, e_names) = broken(if closed { &edge_closed } else { &edge_open }, step / 2);
            let (i, i_names) = broken(if closed { &inner_closed } else { &inner_open }, step / 2);
            write_atomically(&edge_file, &e);
            write_atomically(&inner_file, &i);
            for (admin, before, names) in [
                (edge_admin, edge_before, e_names),
                (inner_admin, inner_before, i_names),
            ] {
                let reply = admin_call(admin, "POST", "/admin/reload", Some(&operator));
                assert_eq!(reply.status, 200, "{}", reply.body);
                let outcome = reply.json();
                assert_eq!(outcome["applied"], false, "{outcome}");
                assert_eq!(outcome["generation"].as_u64().unwrap(), before, "{outcome}");
                let errors = outcome["errors"].as_array().unwrap();
                assert!(
                    errors.iter().any(|e| e.as_str().unwrap().contains(names)),
                    "{outcome}"
                );
                // Exposed on the status page too, the running generation unchanged.
                let (now, status) = generation(admin, &viewer);
                assert_eq!(now, before, "{status}");
                assert_eq!(status["last_reload"]["applied"], false, "{status}");
            }
            refused += 1;
        }
        // Whatever the last file was, the last valid configuration is the one in force.
        let edge_want = if closed { 403 } else { 200 };
        assert_eq!(status_of(http, "/marker/a").await, edge_want, "step {step}");
        // Closed, the inner sends the marker to a closed port: 502, or 503 once cooling.
        let inner = status_of(http, "/imarker/a").await;
        assert!(
            if closed { inner >= 502 } else { inner == 200 },
            "step {step}: {inner}"
        );
        step += 1;
        if let Some(rest) = Duration::from_secs(1).checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for client in clients {
        failures.extend(client.await.unwrap());
    }
    let total = sent.load(Ordering::Relaxed);
    assert!(
        applied >= 2 && refused >= 1,
        "{applied} applied, {refused} refused"
    );
    assert!(total > 0, "no load was sent");
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed during reloads, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    eprintln!("{total} requests over {step} reload steps: {applied} applied, {refused} refused");

    // The metric lines count both kinds.
    for admin in [edge_admin, inner_admin] {
        let metrics = blocking_get(admin, "/metrics");
        for series in [
            "rampart_config_generation{tier=",
            "rampart_config_reloads_total{tier=",
            "result=\"applied\"}",
            "result=\"rejected\"}",
            "rampart_config_last_reload_timestamp_seconds{tier=",
            "rampart_config_last_reload_success{tier=",
        ] {
            assert!(metrics.contains(series), "{series} missing:\n{metrics}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_watch_and_sighup_reload_and_restart_only_keys_are_reported() {
    let backend = Backend::start().await;
    let (viewer, viewer_toml) = new_admin_token("watch", Role::Viewer);
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        "{viewer_toml}\n[[routes]]\nname = \"marker\"\npath_prefix = \"/marker\"\n{EDGE_OPEN}"
    );
    opts.inner_extra = viewer_toml;
    let stack = Stack::start(&bins(), &opts);
    let edge_admin = stack.edge.addr("admin");
    let inner_admin = stack.inner.as_ref().unwrap().addr("admin");
    let edge_file = stack.pki.path().join("edge.toml");
    let inner_file = stack.pki.path().join("inner.toml");
    let edge_open = std::fs::read_to_string(&edge_file).unwrap();
    let http = stack.http();
    assert_eq!(status_of(http, "/marker/x").await, 200);

    // The watch (default 2 s) picks up a changed file on its own.
    let (before, _) = generation(edge_admin, &viewer);
    write_atomically(&edge_file, &edge_open.replace(EDGE_OPEN, EDGE_CLOSED));
    let after = wait_generation(edge_admin, &viewer, before);
    assert_eq!(status_of(http, "/marker/x").await, 403);

    // An invalid file seen by the watch is refused and reported; the generation stays.
    write_atomically(&edge_file, &format!("bogus_reload_key = 1\n{edge_open}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let (g, status) = generation(edge_admin, &viewer);
        assert_eq!(g, after, "{status}");
        if status["last_reload"]["applied"] == false {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the watch never refused: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let errors = status["last_reload"]["errors"].to_string();
    assert!(errors.contains("bogus_reload_key"), "{status}");
    assert_eq!(
        status_of(http, "/marker/x").await,
        403,
        "the running config stays"
    );

    // SIGHUP reloads (the certificate store listens too, and the edge keeps serving);
    // a changed listener address is applied at the next restart and says so.
    let moved = edge_open.replace(EDGE_OPEN, "").replacen(
        "drain_timeout",
        "tls_handshake_timeout = \"9s\"\ndrain_timeout",
        1,
    );
    write_atomically(&edge_file, &moved);
    stack.edge.signal(nix::sys::signal::Signal::SIGHUP);
    wait_generation(edge_admin, &viewer, after);
    let (_, status) = generation(edge_admin, &viewer);
    assert_eq!(status["last_reload"]["applied"], true, "{status}");
    assert_eq!(
        status["last_reload"]["warnings"][0], "restart needed for: server.tls_handshake_timeout",
        "{status}"
    );
    assert_eq!(status_of(http, "/marker/x").await, 200);

    // The inner reloads on SIGHUP too (it used to die of it).
    let (inner_before, _) = generation(inner_admin, &viewer);
    let inner_text = std::fs::read_to_string(&inner_file).unwrap();
    write_atomically(&inner_file, &format!("{inner_text}\n# touched\n"));
    stack
        .inner
        .as_ref()
        .unwrap()
        .signal(nix::sys::signal::Signal::SIGHUP);
    wait_generation(inner_admin, &viewer, inner_before);
    assert_eq!(status_of(http, "/load").await, 200);
}
