//! `rampart up`, the README's first command, works as documented.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rampart_test_support::stack::blocking_get;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn rampart_up_serves_the_demo_backend_over_http_and_https_and_stops_cleanly() {
    let dir = std::env::temp_dir().join(format!("rampart-up-test-{}", std::process::id()));
    let (http, https) = (free_port(), free_port());
    let mut up = Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
        .args([
            "up",
            "--listen",
            &format!("127.0.0.1:{http}"),
            "--tls-listen",
            &format!("127.0.0.1:{https}"),
        ])
        .args(["--log-format", "json", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let http_addr = format!("127.0.0.1:{http}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let reply = loop {
        let reply = blocking_get(http_addr, "/hello?name=world");
        if reply.starts_with("HTTP/1.1 200") {
            break reply;
        }
        assert!(
            Instant::now() < deadline,
            "rampart up did not serve within 30 s: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        reply.contains("\"service\": \"rampart demo backend\""),
        "{reply}"
    );
    assert!(reply.contains("\"query\": \"name=world\""), "{reply}");
    assert!(
        !reply.to_ascii_lowercase().contains("server: demo-backend"),
        "banner removed: {reply}"
    );
    // `/graphql` is a GraphQL route: a document in the URL may query, not mutate.
    let query = blocking_get(http_addr, "/graphql?query=%7Bme%7Bname%7D%7D");
    assert!(query.starts_with("HTTP/1.1 200"), "{query}");
    let mutation = blocking_get(http_addr, "/graphql?query=mutation%7BdeleteAccount%7D");
    assert!(mutation.starts_with("HTTP/1.1 405"), "{mutation}");
    assert!(
        mutation.to_ascii_lowercase().contains("allow: post"),
        "{mutation}"
    );

    // HTTPS with the generated CA, as the banner's curl example does.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let https_addr = format!("127.0.0.1:{https}").parse().unwrap();
    let request = http::Request::builder()
        .uri(format!("https://localhost:{https}/orders"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = rt.block_on(async {
        rampart_test_support::client::collect(
            rampart_test_support::client::https2(https_addr, &dir.join("pki/ca.pem"), request)
                .await
                .unwrap(),
        )
        .await
    });
    assert_eq!(response.status, 200);

    kill(
        Pid::from_raw(i32::try_from(up.id()).unwrap()),
        Signal::SIGTERM,
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
    // Both tiers are gone: nothing listens any more.
    assert!(std::net::TcpStream::connect(http_addr).is_err());
    assert!(std::net::TcpStream::connect(https_addr).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `rampart keys new`, `rampart passwd` and `rampart admin token` print a secret once and
/// the line to store, which holds only a hash the tiers accept.
#[test]
fn credential_commands_print_the_secret_once_and_store_only_its_hash() {
    use std::io::Write as _;
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.success(), String::from_utf8(out.stdout).unwrap())
    };

    let (ok, out) = run(&["keys", "new", "--consumer", "partner-a"], "");
    assert!(ok, "{out}");
    let key = out.lines().nth(1).unwrap().trim();
    assert!(key.starts_with("rk_") && key.len() == 46, "{out}");
    assert_eq!(out.matches(key).count(), 1, "the key is printed once");
    assert!(out.contains("name = \"partner-a\"") && out.contains("hash = \"sha256:"));

    let password = "a long enough passphrase\n";
    let (ok, out) = run(&["passwd", "alice"], &password.repeat(2));
    assert!(ok, "{out}");
    assert!(out.starts_with("alice:$argon2id$"), "{out}");
    assert!(!out.contains("passphrase"));
    // Refused: mismatch, too short, containing the user name.
    for (stdin, why) in [
        ("one long passphrase\nanother long one\n", "differ"),
        ("short\nshort\n", "short"),
        ("alice-the-great-1\nalice-the-great-1\n", "user name"),
    ] {
        let (ok, _) = run(&["passwd", "alice"], stdin);
        assert!(!ok, "{why}");
    }

    let (ok, out) = run(&["admin", "token", "ops", "operator"], "");
    assert!(ok, "{out}");
    assert!(
        out.contains("role = \"operator\"") && out.contains("sha256:"),
        "{out}"
    );
    let (ok, _) = run(&["admin", "token", "ops", "root"], "");
    assert!(!ok, "unknown role");
}

/// `--edge-policy` joins the operator's sections to the generated edge config: a route
/// it declares takes effect, its `[server]` keys join the generated table (a per-address
/// connection cap of two refuses a third connection), and the rest of the demo works.
#[test]
fn rampart_up_applies_an_edge_policy_file() {
    use std::io::{Read, Write};
    let dir = std::env::temp_dir().join(format!("rampart-up-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[server]\nmax_connections_per_ip = 2\n\n\
         [[routes]]\nname = \"readonly\"\npath_prefix = \"/readonly\"\nmethods = [\"GET\"]\n",
    )
    .unwrap();
    let (http, https) = (free_port(), free_port());
    let mut up = Command::new(env!("CARGO_BIN_EXE_e2e-rampart"))
        .args(["up", "--listen", &format!("127.0.0.1:{http}")])
        .args(["--tls-listen", &format!("127.0.0.1:{https}")])
        .args(["--log-level", "warn", "--edge-policy"])
        .arg(&policy)
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{http}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !blocking_get(addr, "/readonly/x").starts_with("HTTP/1.1 200") {
        assert!(
            Instant::now() < deadline,
            "rampart up did not serve within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"DELETE /readonly/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    let _ = tcp.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
    assert!(blocking_get(addr, "/hello").starts_with("HTTP/1.1 200"));
    // Two idle connections fill the cap; a closed connection may take a moment to be
    // released, so the third is retried until the cap answers.
    let held = [
        std::net::TcpStream::connect(addr).unwrap(),
        std::net::TcpStream::connect(addr).unwrap(),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = blocking_get(addr, "/hello");
        if reply.starts_with("HTTP/1.1 503") {
            assert!(reply.contains("overloaded"), "{reply}");
            break;
        }
        assert!(Instant::now() < deadline, "no 503 over the cap: {reply}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(held);
    kill(
        Pid::from_raw(i32::try_from(up.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let _ = up.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
