//! The link modes: `edge-dials` (the edge connects to the inner) and `inner-dials` (the
//! inner replicas connect out to the edge, and nothing on the LAN side listens for the
//! DMZ). One request suite runs in both, so the mode is shown to change nothing above
//! the transport; the rest covers what only `inner-dials` has.
//!
//! The streamed body size is 1 GiB as in `large.rs`; `RAMPART_E2E_LINK_BYTES` lowers it
//! for a quick local run.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{Empty, Full};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::pki::TestPki;
use rampart_test_support::process::TierProcess;
use rampart_test_support::stack::{Stack, StackOptions};
use tokio::io::AsyncReadExt;

use crate::common::{assert_problem, bins, stream_download, stream_upload};

fn streamed_bytes() -> u64 {
    std::env::var("RAMPART_E2E_LINK_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30)
}

fn options(backend: &Backend, inner_dials: bool) -> StackOptions {
    let mut opts = StackOptions::new(backend.url());
    opts.inner_dials = inner_dials;
    opts
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(path)
        .header("host", "api.example.test")
        .body(Empty::new())
        .unwrap()
}

async fn status(addr: SocketAddr, path: &str) -> u16 {
    match http1(addr, get(path)).await {
        Ok(response) => collect(response).await.status.as_u16(),
        Err(_) => 0,
    }
}

/// Byte-exact passthrough, 1 GiB each way, then fail-closed once the inner is gone.
async fn request_suite(inner_dials: bool) {
    let mode = if inner_dials {
        "inner-dials"
    } else {
        "edge-dials"
    };
    let backend = Backend::start().await;
    let mut stack = Stack::start(&bins(), &options(&backend, inner_dials));

    // 1. Methods, bodies, queries and repeated headers arrive as sent.
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("GET", "/items?id=7&q=a%20b&q=c&empty=&flag", Vec::new()),
        ("POST", "/upload?kind=bin", binary),
        ("PUT", "/items/7", b"{\"name\":\"O'Reilly\"}".to_vec()),
        ("DELETE", "/items/7?hard=true", Vec::new()),
        ("PATCH", "/items/7", vec![0u8, 159, 146, 150, 255]),
    ];
    for (method, target, body) in &cases {
        let request = Request::builder()
            .method(*method)
            .uri(*target)
            .header("host", "api.example.test")
            .header("x-custom", "one")
            .header("x-custom", "two")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        let response = collect(http1(stack.http(), request).await.unwrap()).await;
        assert_eq!(response.status, 200, "{mode}: {method} {target}");
        assert_eq!(response.header("x-echo-method"), Some(*method), "{mode}");
        assert_eq!(response.header("x-echo-uri"), Some(*target), "{mode}");
        assert_eq!(response.body, Bytes::from(body.clone()), "{mode}: {target}");
        let seen: Vec<(String, String)> =
            serde_json::from_str(response.header("x-echo-headers").unwrap()).unwrap();
        let custom: Vec<&str> = (seen.iter())
            .filter(|(k, _)| k == "x-custom")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(custom, ["one", "two"], "{mode}: repeated headers in order");
    }

    // 2. A large upload, checksummed by the backend; 3. a large download, checked byte
    // by byte as it streams in.
    let size = streamed_bytes();
    stream_upload(stack.http(), size, mode).await;
    stream_download(stack.http(), size, mode).await;
    eprintln!(
        "{mode}: peak RSS edge {} KiB, inner {} KiB",
        stack.edge.peak_rss_kib(),
        stack.inner.as_ref().unwrap().peak_rss_kib()
    );

    // 4. Fail closed: with the inner gone, 503 and nothing reaches the backend.
    let before = backend.seen().len();
    stack.inner.as_mut().unwrap().kill();
    for i in 0..5 {
        let started = Instant::now();
        let response = collect(
            http1(stack.http(), get(&format!("/after/{i}")))
                .await
                .unwrap(),
        )
        .await;
        eprintln!(
            "{mode}: answer {i} with the inner gone after {:?}",
            started.elapsed()
        );
        assert_problem(&response, 503, "inner-unavailable");
    }
    assert_eq!(
        backend.seen().len(),
        before,
        "{mode}: a request got through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_suite_with_the_edge_dialling() {
    request_suite(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_suite_with_the_inner_dialling() {
    request_suite(true).await;
}

/// The TCP ports `pid` has in LISTEN state (its own sockets, not the namespace's).
fn listening_ports(pid: u32) -> BTreeSet<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    let mut ports = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state == "0A" && inodes.contains(*inode) {
                let port = local.rsplit(':').next().unwrap();
                ports.insert(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inner_that_dials_out_listens_on_its_admin_port_only() {
    let backend = Backend::start().await;
    for inner_dials in [false, true] {
        let stack = Stack::start(&bins(), &options(&backend, inner_dials));
        assert_eq!(status(stack.http(), "/hello").await, 200);
        let inner = stack.inner.as_ref().unwrap();
        let mut want = BTreeSet::from([inner.addr("admin").port()]);
        if !inner_dials {
            want.insert(inner.addr("link").port());
        }
        assert_eq!(
            listening_ports(inner.pid()),
            want,
            "inner_dials = {inner_dials}"
        );
        if inner_dials {
            // The edge is the one listening for the link.
            assert!(listening_ports(stack.edge.pid()).contains(&stack.edge.addr("link").port()));
        }
    }
}

/// Sends requests one after another until stopped, noting when each answered what.
struct Steady {
    answers: Arc<Mutex<Vec<(Instant, u16)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Steady {
    fn start(addr: SocketAddr) -> Self {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (sink, flag) = (answers.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut n = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let code = status(addr, &format!("/steady/{n}")).await;
                sink.lock().unwrap().push((Instant::now(), code));
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Self {
            answers,
            stop,
            task,
        }
    }

    /// Answers at or after `since`.
    fn since(&self, since: Instant) -> Vec<(Instant, u16)> {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .copied()
            .filter(|(t, _)| *t >= since)
            .collect()
    }

    async fn finish(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dialling_replica_leaves_the_rotation_and_its_restart_rejoins_without_errors() {
    let backend = Backend::start().await;
    let mut opts = options(&backend, true);
    opts.inner_replicas = 2;
    let mut stack = Stack::start(&bins(), &opts);
    // Both replicas take traffic once both dialled in and answered a probe.
    let mut both = false;
    for round in 0..50 {
        for i in 0..4 {
            assert_eq!(
                status(stack.http(), &format!("/warm/{round}/{i}")).await,
                200
            );
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

    let steady = Steady::start(stack.http());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Instant::now();
    stack.replicas[0].kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_kill = steady.since(killed);
    let failed: Vec<u128> = (after_kill.iter())
        .filter(|(_, code)| *code != 200)
        .map(|(t, _)| t.duration_since(killed).as_millis())
        .collect();
    let settled = failed.last().copied().unwrap_or(0);
    eprintln!(
        "kill: {} requests in 3 s, {} failed (at {failed:?} ms); all answered 200 from {settled} ms on",
        after_kill.len(),
        failed.len()
    );
    let tail = after_kill
        .iter()
        .filter(|(t, _)| t.duration_since(killed).as_millis() > settled)
        .count();
    assert!(tail >= 20, "only {tail} requests after the last failure");

    // The replica comes back: it dials in again and serves, and no client sees an error.
    let restarted_at = Instant::now();
    let restarted = TierProcess::start(
        "inner1-restarted",
        &bins().inner,
        &stack.inner_config(),
        &["admin"],
    );
    let mut rejoined = None;
    for _ in 0..200 {
        if !restarted.access_log().is_empty() {
            rejoined = Some(restarted_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rejoined = rejoined.expect("the restarted replica never served a request");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_restart = steady.since(restarted_at);
    steady.finish().await;
    let errors: Vec<u16> = (after_restart.iter())
        .map(|(_, code)| *code)
        .filter(|code| *code != 200)
        .collect();
    eprintln!(
        "restart: served again after {rejoined:?}; {} requests, {} errors",
        after_restart.len(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "client errors during the restart: {errors:?}"
    );
    assert!(after_restart.len() >= 20, "the request loop stalled");
}

/// What the edge's link port does with a TLS client presenting `client` (none: no
/// certificate): `true` when the edge went on to speak HTTP/2 (the connection preface),
/// `false` when it refused the connection.
async fn link_accepts(addr: SocketAddr, ca: &Path, client: Option<&(PathBuf, PathBuf)>) -> bool {
    let roots = rampart_tls::load_roots(ca).unwrap();
    let config = match client {
        Some((cert, key)) => rampart_tls::link_client_config(
            roots,
            rampart_tls::load_certs(cert).unwrap(),
            rampart_tls::load_private_key(key).unwrap(),
        )
        .unwrap(),
        None => {
            let mut config =
                rampart_tls::rustls::ClientConfig::builder_with_provider(rampart_tls::provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(roots)
                    .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec()];
            config
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rampart_tls::rustls::pki_types::ServerName::try_from("rampart-edge").unwrap();
    let Ok(mut tls) = connector.connect(name, tcp).await else {
        return false;
    };
    let mut preface = [0u8; 14];
    match tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut preface)).await {
        Ok(Ok(_)) => &preface == b"PRI * HTTP/2.0",
        _ => false,
    }
}

/// A case: its name, the client certificate and key presented (none: no certificate),
/// and whether the edge must accept the connection.
type IdentityCase = (&'static str, Option<(PathBuf, PathBuf)>, bool);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_link_port_accepts_only_the_inner_identity_from_the_link_ca() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &options(&backend, true));
    let other_ca = TestPki::new();
    let pki = &stack.pki;
    let cases: Vec<IdentityCase> = vec![
        (
            "the inner's identity from the link CA",
            Some(pki.client("probe-inner", "rampart-inner")),
            true,
        ),
        (
            "the inner's name from another CA",
            Some(other_ca.client("forged-inner", "rampart-inner")),
            false,
        ),
        (
            "another name from the link CA",
            Some(pki.client("intruder", "rampart-intruder")),
            false,
        ),
        (
            "the edge's own identity from the link CA",
            Some(pki.client("edge-as-client", "rampart-edge")),
            false,
        ),
        (
            "the inner's name on a server-only certificate",
            Some(pki.server("inner-server-only", "rampart-inner")),
            false,
        ),
        ("no client certificate", None, false),
    ];
    let link = stack.edge.addr("link");
    for (name, client, want) in &cases {
        assert_eq!(
            link_accepts(link, &pki.ca_path, client.as_ref()).await,
            *want,
            "{name}"
        );
    }
    // Refused connections never reached the rotation: traffic still flows.
    assert_eq!(status(stack.http(), "/still-up").await, 200);
    assert!(
        !stack
            .edge
            .logs_containing("link connection refused")
            .is_empty(),
        "refusals are logged"
    );
}

/// The children of `pid` (every thread's, since a child belongs to the thread that
/// spawned it).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

#[test]
fn rampart_up_with_the_inner_dialling_serves_and_its_inner_listens_on_admin_only() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (http, https) = (port(), port());
    let mut up = Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
        .args(["up", "--link", "inner-dials", "--log-format", "json"])
        .args(["--listen", &format!("127.0.0.1:{http}")])
        .args(["--tls-listen", &format!("127.0.0.1:{https}")])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = rampart_test_support::stack::blocking_get(addr, "/hello?name=world");
        if reply.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no answer within 30 s: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let inner_toml = std::fs::read_to_string(dir.path().join("inner.toml")).unwrap();
    assert!(
        inner_toml.contains("mode = \"inner-dials\""),
        "{inner_toml}"
    );
    assert!(!inner_toml.contains("link_listen"), "{inner_toml}");
    let admin: u16 = (inner_toml.lines())
        .find_map(|l| l.strip_prefix("admin_listen = \"127.0.0.1:"))
        .and_then(|rest| rest.trim_end_matches('"').parse().ok())
        .unwrap();
    let inner = children(up.id())
        .into_iter()
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).nth(1) == Some(b"inner"))
        })
        .expect("the inner tier process");
    assert_eq!(listening_ports(inner), BTreeSet::from([admin]));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(up.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "rampart up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
