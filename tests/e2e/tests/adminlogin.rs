//! Human admin sign-in against a real edge admin listener: a user made with
//! `rampart admin user add` (breached passwords refused), TOTP login, replay and old
//! codes refused, the session cookie's attributes, CSRF on state-changing calls, logout,
//! lockout, and a user added while the tier runs.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_service::admin::totp::{STEP_SECS, Secret};
use rampart_test_support::backend::Backend;
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{AdminReply, admin_call, bins};

type Reply = AdminReply;

fn call(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    admin_call(addr, method, path, None, headers, body)
}

/// `rampart admin user add NAME ROLE` with `password` on stdin: (success, stdout, stderr).
fn add_user(
    users: &Path,
    name: &str,
    role: &str,
    password: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
        .args(["admin", "user", "add", name, role, "--users-file"])
        .arg(users)
        .args(extra)
        .env_remove("RAMPART_BREACHED_CORPUS")
        .env_remove("RAMPART_RANGE_API")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn secret_of(stdout: &str) -> Secret {
    let uri = stdout
        .split_whitespace()
        .find(|w| w.starts_with("otpauth://totp/Rampart:"))
        .unwrap_or_else(|| panic!("no otpauth URI in {stdout}"));
    assert!(uri.contains("issuer=Rampart"), "{uri}");
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap();
    Secret::from_base32(secret).unwrap()
}

fn step_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / STEP_SECS
}

fn login(admin: SocketAddr, user: &str, password: &str, code: &str) -> Reply {
    let body = serde_json::json!({ "username": user, "password": password, "code": code });
    call(admin, "POST", "/admin/login", &[], &body.to_string())
}

const PASSWORD: &str = "glacier-ferry-violet-37";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_password_and_totp_and_changes_things_with_the_csrf_token() {
    let backend = Backend::start().await;
    let dir = tempfile_dir();
    let users = dir.join("admin-users.toml");

    // A breached password is refused by the sample range corpus; a fresh one is taken.
    let corpus = dir.join("ranges");
    std::fs::create_dir_all(&corpus).unwrap();
    let breached = rampart_identity::breached::sha1_hex("correct-horse-staple");
    std::fs::write(
        corpus.join(&breached[..5]),
        format!("{}:4242\r\n{}:0\r\n", &breached[5..], "0".repeat(35)),
    )
    .unwrap();
    let corpus_arg = corpus.display().to_string();
    let (ok, _, err) = add_user(
        &users,
        "alice",
        "operator",
        "correct-horse-staple",
        &["--breached-corpus", &corpus_arg],
    );
    assert!(!ok && err.contains("breached"), "{err}");
    assert!(!users.exists());
    for (password, why) in [
        ("short-pass", "at least 12"),
        ("alice-was-here-2024", "user name"),
        ("my-rampart-pass-1", "rampart"),
    ] {
        let (ok, _, err) = add_user(&users, "alice", "operator", password, &[]);
        assert!(!ok && err.contains(why), "{password}: {err}");
    }
    let svg = dir.join("alice.svg");
    let svg_arg = svg.display().to_string();
    let (ok, out, err) = add_user(
        &users,
        "alice",
        "operator",
        PASSWORD,
        &["--breached-corpus", &corpus_arg, "--qr-svg", &svg_arg],
    );
    assert!(ok, "{err}");
    assert!(!out.contains(PASSWORD));
    assert!(
        out.contains('█') || out.contains('▀'),
        "a QR code in the terminal: {out}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&users).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the users file is private: {mode:o}");
    }
    let secret = secret_of(&out);

    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!("[admin]\nusers_file = {:?}\n", users.display().to_string());
    let stack = Stack::start(&bins(), &opts);
    let admin = stack.edge.addr("admin");

    // The login page is served, self-contained.
    let page = call(admin, "GET", "/admin/login", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/admin/login.js") && !page.body.contains("http"));

    // An old code (two steps back) is refused; the right one opens a session.
    let step = step_now();
    let old = login(admin, "alice", PASSWORD, &secret.code(step - 2));
    assert_eq!(old.status, 401, "{}", old.body);
    assert!(old.header("set-cookie").is_none());
    let code = secret.code(step_now());
    let ok = login(admin, "alice", PASSWORD, &code);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let doc: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(doc["user"], "alice");
    assert_eq!(doc["role"], "operator");
    let csrf = doc["csrf_token"].as_str().unwrap().to_owned();
    let cookie = ok.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(pair.starts_with("rampart_session=") && pair.len() > 40);
    // The same code again is a replay.
    let replay = login(admin, "alice", PASSWORD, &code);
    assert_eq!(replay.status, 401);

    // The session reads; a change needs the CSRF token.
    let session = call(admin, "GET", "/admin/session", &[("Cookie", &pair)], "");
    assert_eq!(session.status, 200, "{}", session.body);
    assert!(session.body.contains(&csrf));
    let block = r#"{"address":"203.0.113.0/24","duration":"1m"}"#;
    let forged = call(admin, "POST", "/admin/blocks", &[("Cookie", &pair)], block);
    assert_eq!(forged.status, 403, "{}", forged.body);
    let wrong = call(
        admin,
        "POST",
        "/admin/blocks",
        &[("Cookie", &pair), ("X-CSRF-Token", "x")],
        block,
    );
    assert_eq!(wrong.status, 403);
    let real = call(
        admin,
        "POST",
        "/admin/blocks",
        &[("Cookie", &pair), ("X-CSRF-Token", &csrf)],
        block,
    );
    assert_eq!(real.status, 200, "{}", real.body);

    // Logout ends the session.
    let out = call(admin, "POST", "/admin/logout", &[("Cookie", &pair)], "");
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = call(admin, "GET", "/admin/status", &[("Cookie", &pair)], "");
    assert_eq!(after.status, 401);

    // A user added while the tier runs can sign in once the file is reloaded.
    let (ok, out, err) = add_user(&users, "bob", "viewer", "maple-harbour-quartz-19", &[]);
    assert!(ok, "{err}");
    let bob = secret_of(&out);
    // Each try before the reload is a failure for bob: a few, spaced beyond the
    // listener's 2 s reload poll, stay under the lockout threshold.
    let mut tries = 0;
    loop {
        std::thread::sleep(Duration::from_secs(3));
        tries += 1;
        // Codes of the next step are valid (drift) and not used up by a failure.
        let reply = login(
            admin,
            "bob",
            "maple-harbour-quartz-19",
            &bob.code(step_now() + 1),
        );
        if reply.status == 200 {
            break;
        }
        assert!(tries < 4, "bob never signed in: {}", reply.body);
    }

    // Five failures lock alice out: then even the right code is refused.
    for _ in 0..5 {
        let bad = login(admin, "alice", PASSWORD, "000000");
        assert_eq!(bad.status, 401);
        assert!(bad.body.contains("login failed"), "{}", bad.body);
    }
    let locked = login(admin, "alice", PASSWORD, &secret.code(step_now() + 1));
    assert_eq!(locked.status, 401, "locked out");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rampart-adminlogin-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback range service answering `GET /range/<prefix>` with `lines` for `prefix`
/// (and padding only for any other), for `requests` requests; returns its base URL.
fn range_service(prefix: String, lines: String, requests: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..requests {
            let Ok((mut tcp, _)) = listener.accept() else {
                return;
            };
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                if tcp.read(&mut byte).unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            assert!(head.contains("add-padding: true"), "{head}");
            let body = if head.starts_with(&format!("get /range/{} ", prefix.to_ascii_lowercase()))
            {
                lines.clone()
            } else {
                format!("{}:0\r\n", "A".repeat(35))
            };
            let _ = tcp.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn passwd_asks_the_range_service_and_fails_closed_when_it_is_down() {
    let passwd = |password: &str, api: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
            .args(["passwd", "alice", "--range-api", api])
            .env_remove("RAMPART_BREACHED_CORPUS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let hash = rampart_identity::breached::sha1_hex("qwertyuiop-1234");
    let lines = format!("{}:0\r\n{}:3121\r\n", "B".repeat(35), &hash[5..]);
    let api = range_service(hash[..5].to_owned(), lines, 2);
    let (ok, err) = passwd("qwertyuiop-1234", &api);
    assert!(!ok && err.contains("3121"), "{err}");
    let (ok, err) = passwd("glacier-ferry-violet-37", &api);
    assert!(ok, "{err}");
    // Nothing listens: refused (fail closed), whatever the password.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (ok, err) = passwd("glacier-ferry-violet-37", &dead);
    assert!(!ok && err.contains("cannot check"), "{err}");
}
