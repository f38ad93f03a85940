//! Config push from the LAN: the inner signs the edge's policy and streams it over the
//! link; the edge applies each valid bundle like a reload, refuses invalid, tampered or
//! untrusted ones and keeps the running policy, and comes back after a restart without
//! the LAN with the last good bundle from its `state_dir`. Runs in both link modes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use rampart_service::admin::{Role, new_admin_token};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::process::TierProcess;
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{admin_call, bins};

/// The inner's edge policy: one route denying the addresses of `blocked.txt`.
const DENY_LIST: &str = "[ip_lists.files]\nblocked = \"blocked.txt\"\n\n[[routes]]\nname = \"all\"\npath_prefix = \"/\"\nip_policy = { deny = [\"blocked\"] }\n";
/// A tight per-address rate limit.
const RATE_LIMIT: &str = "[rate_limit]\n[[rate_limit.policies]]\nname = \"pushed\"\nkey = [\"client_ip\"]\nrate = \"1/min\"\nburst = 1\n";
/// Valid TOML in a pushable section that no edge can build (an unknown list).
const INVALID: &str = "[ip_policy]\ndeny = [\"no-such-list\"]\n";

/// A signing key pair made by `rampart push keygen`: (private key, public key file).
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
        .args(["push", "keygen", "--out"])
        .arg(&key)
        .arg("--public")
        .arg(&public)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("trusted_keys = [\"ed25519:"), "{stdout}");
    (key, public)
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn status(addr: SocketAddr) -> u16 {
    let request = Request::builder()
        .uri("/orders/1")
        .header("host", "api.example.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    match http1(addr, request).await {
        Ok(response) => collect(response).await.status.as_u16(),
        Err(_) => 0,
    }
}

/// The edge's `push` status object.
fn push_status(admin: SocketAddr, token: &str) -> serde_json::Value {
    let reply = admin_call(admin, "GET", "/admin/status", Some(token), &[], "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["status"]["extra"]["push"].clone()
}

/// Polls until `done` holds for the push status (bounded), and returns it.
fn wait_push(
    admin: SocketAddr,
    token: &str,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let push = push_status(admin, token);
        if done(&push) {
            return push;
        }
        assert!(Instant::now() < deadline, "{what}: {push}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn version(push: &serde_json::Value) -> u64 {
    push["version"].as_u64().unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    stack: Stack,
    token: String,
}

impl Setup {
    fn policy(&self) -> PathBuf {
        self.dir.path().join("policy/policy.toml")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}

/// Both tiers with `[push]`: the inner signs with `signing`, the edge trusts `trusted`.
fn start(backend: &Backend, inner_dials: bool, same_key: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (signing, trusted) = keygen(dir.path(), "lan");
    let (_, stranger) = keygen(dir.path(), "stranger");
    let trusted = if same_key { trusted } else { stranger };
    std::fs::create_dir(dir.path().join("policy")).unwrap();
    std::fs::write(dir.path().join("policy/blocked.txt"), "203.0.113.0/24\n").unwrap();
    std::fs::write(dir.path().join("policy/policy.toml"), DENY_LIST).unwrap();
    let (token, token_toml) = new_admin_token("watch", Role::Admin);
    let mut opts = StackOptions::new(backend.url());
    opts.inner_dials = inner_dials;
    opts.edge_extra = format!(
        "{token_toml}\n[push]\ntrusted_keys = [{:?}]\nstate_dir = {:?}\n",
        trusted.display().to_string(),
        dir.path().join("state").display().to_string()
    );
    opts.inner_extra = format!(
        "\n[push]\npolicy = {:?}\nsigning_key = {:?}\ninterval = \"200ms\"\n",
        dir.path().join("policy/policy.toml").display().to_string(),
        signing.display().to_string()
    );
    let stack = Stack::start(&bins(), &opts);
    Setup { dir, stack, token }
}

async fn pushed_policy_takes_effect_and_survives_a_restart_without_the_lan(inner_dials: bool) {
    let backend = Backend::start().await;
    let mut setup = start(&backend, inner_dials, true);
    let admin = setup.stack.edge.addr("admin");
    let token = setup.token.clone();
    let http = setup.stack.http();

    // 1. The first bundle arrives and lets the test's own address through.
    let first = wait_push(admin, &token, "first bundle", |p| version(p) > 0);
    assert_eq!(first["last_push"]["applied"], true, "{first}");
    assert_eq!(status(http).await, 200);

    // 2. A rate limit is pushed: the request that passed is now throttled.
    write_atomically(&setup.policy(), &format!("{DENY_LIST}{RATE_LIMIT}"));
    let v = version(&first);
    let limited = wait_push(admin, &token, "rate limit", |p| version(p) > v);
    let got = [status(http).await, status(http).await];
    assert_eq!(got, [200, 429], "{limited}");

    // 3. The rate limit is taken out again: the edge's own (none) is back.
    write_atomically(&setup.policy(), DENY_LIST);
    let v = version(&limited);
    let back = wait_push(admin, &token, "no rate limit", |p| version(p) > v);
    assert_eq!(status(http).await, 200, "{back}");

    // 4. Only a named file changes: the address list now holds the test's address.
    write_atomically(
        &setup.dir.path().join("policy/blocked.txt"),
        "127.0.0.0/8\n",
    );
    let v = version(&back);
    let denied = wait_push(admin, &token, "deny list", |p| version(p) > v);
    assert_eq!(status(http).await, 403, "{denied}");
    let running = version(&denied);

    // 5. An invalid policy is signed and sent, and the edge refuses it; 403 stays.
    write_atomically(&setup.policy(), INVALID);
    let refused = wait_push(admin, &token, "refusal", |p| {
        p["rejected"].as_u64() > Some(0)
    });
    assert_eq!(refused["last_push"]["applied"], false, "{refused}");
    let errors = refused["last_push"]["errors"].to_string();
    assert!(errors.contains("no-such-list"), "{errors}");
    assert_eq!(version(&refused), running);
    assert_eq!(status(http).await, 403);

    // 6. The inner goes away, the edge restarts: the kept bundle is verified and applied
    // before the first request; the pushed deny answers instead of the missing link.
    setup.stack.inner.as_mut().unwrap().kill();
    setup.stack.edge.kill();
    let listeners: &[&str] = if inner_dials {
        &["http", "https", "admin", "link"]
    } else {
        &["http", "https", "admin"]
    };
    let edge_file = setup.stack.pki.path().join("edge.toml");
    let mut edge = TierProcess::start("edge-restarted", &bins().edge, &edge_file, listeners);
    let restored = push_status(edge.addr("admin"), &token);
    assert_eq!(version(&restored), running, "{restored}");
    assert_eq!(restored["last_push"]["from"], "state_dir", "{restored}");
    assert_eq!(status(edge.addr("http")).await, 403);
    edge.kill();

    // 7. A byte of the kept bundle changed on disk: refused at start, reported, and the
    // edge runs its own file (no deny; no inner, so 503).
    let kept = setup.state().join("bundle.pb");
    let mut bytes = std::fs::read(&kept).unwrap();
    let at = (bytes.windows(11))
        .position(|w| w == b"127.0.0.0/8")
        .unwrap();
    bytes[at + 10] = b'9';
    std::fs::write(&kept, &bytes).unwrap();
    let mut edge = TierProcess::start("edge-tampered", &bins().edge, &edge_file, listeners);
    let tampered = push_status(edge.addr("admin"), &token);
    assert_eq!(version(&tampered), 0, "{tampered}");
    assert_eq!(tampered["last_push"]["applied"], false, "{tampered}");
    assert!(
        tampered["last_push"]["errors"]
            .to_string()
            .contains("signature"),
        "{tampered}"
    );
    assert_eq!(status(edge.addr("http")).await, 503);
    edge.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_dials_pushed_policy_takes_effect_and_survives_a_restart() {
    pushed_policy_takes_effect_and_survives_a_restart_without_the_lan(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_dials_pushed_policy_takes_effect_and_survives_a_restart() {
    pushed_policy_takes_effect_and_survives_a_restart_without_the_lan(true).await;
}

/// An inner signing with a key the edge does not trust: every bundle is refused and
/// reported, the edge's own policy stays (the pushed deny-all never applies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_signed_with_an_untrusted_key_are_refused() {
    let backend = Backend::start().await;
    let setup = start(&backend, false, false);
    write_atomically(&setup.dir.path().join("policy/blocked.txt"), "0.0.0.0/0\n");
    let admin = setup.stack.edge.addr("admin");
    let push = wait_push(admin, &setup.token, "refusal", |p| {
        p["rejected"].as_u64() > Some(0)
    });
    assert_eq!(version(&push), 0, "{push}");
    assert!(
        push["last_push"]["errors"]
            .to_string()
            .contains("not trusted"),
        "{push}"
    );
    assert_eq!(status(setup.stack.http()).await, 200);
    assert!(!setup.state().join("bundle.pb").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_checks_a_policy_against_an_edge_config_before_it_is_published() {
    let backend = Backend::start().await;
    let setup = start(&backend, false, true);
    let edge_config = setup.stack.pki.dir.path().join("edge.toml");
    let check = |policy: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
            .args(["push", "check", "--policy"])
            .arg(policy)
            .arg("--edge-config")
            .arg(&edge_config)
            .output()
            .unwrap()
    };
    let good = check(&setup.policy());
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let broken = setup.dir.path().join("policy/broken.toml");
    for (text, expected) in [
        (INVALID, "no-such-list"),
        (
            "[server]\nhttp_listen = \"0.0.0.0:80\"\n",
            "cannot be pushed",
        ),
        ("[ip_lists.files]\nx = \"missing.txt\"\n", "missing.txt"),
    ] {
        std::fs::write(&broken, text).unwrap();
        let out = check(&broken);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {stderr}");
        assert!(stderr.contains(expected), "{text:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_consumers_file_is_read_only_on_the_edge() {
    let backend = Backend::start().await;
    let setup = start(&backend, false, true);
    let admin = setup.stack.edge.addr("admin");
    let first = version(&wait_push(admin, &setup.token, "first push", |p| {
        version(p) > 0
    }));
    std::fs::write(
        setup.dir.path().join("policy/consumers.toml"),
        "[[consumer]]\nname = \"acme\"\n",
    )
    .unwrap();
    write_atomically(
        &setup.policy(),
        &format!("{DENY_LIST}\n[identity]\nconsumers = \"consumers.toml\"\n"),
    );
    wait_push(admin, &setup.token, "identity pushed", |p| {
        version(p) > first
    });
    let listed = admin_call(
        admin,
        "GET",
        "/admin/consumers",
        Some(&setup.token),
        &[],
        "",
    );
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["consumers"][0]["name"], "acme");
    // The next push would undo an edit made here: keys are changed on the LAN.
    let minted = admin_call(
        admin,
        "POST",
        "/admin/consumers/acme/keys",
        Some(&setup.token),
        &[],
        "",
    );
    assert_eq!(minted.status, 422, "{}", minted.body);
    assert!(
        minted.body.contains("pushed from the LAN"),
        "{}",
        minted.body
    );
}
