//! Per-rule detection-only mode on the inner tier: an operator switches one rule class
//! to detect, its findings are then audited (action `report`) instead of refused while
//! other classes still block, and switching back restores blocking. Unknown rules are
//! refused (404) and viewers may not switch anything.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_service::admin::{Role, new_admin_token};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{Collected, collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{admin_call, assert_problem, bins};

/// `(status, body)` of one admin call.
fn call(addr: SocketAddr, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let reply = admin_call(addr, method, path, Some(token), &[], body);
    (reply.status, reply.body)
}

async fn get(addr: SocketAddr, target: &str) -> Collected {
    let request = Request::builder()
        .uri(target)
        .header("host", "api.example.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(http1(addr, request).await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_switches_one_rule_class_to_detect_only_and_back() {
    let backend = Backend::start().await;
    let (operator, operator_toml) = new_admin_token("ops", Role::Operator);
    let (viewer, viewer_toml) = new_admin_token("watch", Role::Viewer);
    let mut opts = StackOptions::new(backend.url());
    // The edge does not screen here: the inner's rules decide alone.
    opts.edge_extra = "[screening]\nmode = \"off\"\n".to_owned();
    opts.inner_extra = format!("{operator_toml}\n{viewer_toml}");
    let stack = Stack::start(&bins(), &opts);
    let http = stack.http();
    let inner = stack.inner.as_ref().unwrap();
    let admin = inner.addr("admin");
    let xss = "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let sqli = "/search?q=1%27%20OR%20%271%27%3D%271";
    let look_alike = "/search?q=script+writing+tips";
    let mode = |token: &str, rule: &str, mode: &str| {
        let path = format!("/admin/rules/{rule}/mode");
        call(
            admin,
            "POST",
            &path,
            token,
            &format!(r#"{{"mode":"{mode}"}}"#),
        )
        .0
    };

    assert_problem(&get(http, xss).await, 403, "attack-detected");
    assert_problem(&get(http, sqli).await, 403, "attack-detected");
    assert_eq!(get(http, look_alike).await.status, 200);

    // Refused switches: a viewer, an unknown rule.
    assert_eq!(mode(&viewer, "xss", "detect"), 403);
    assert_eq!(mode(&operator, "xss-does-not-exist", "detect"), 404);
    assert_problem(&get(http, xss).await, 403, "attack-detected");

    // xss to detect: the xss request goes through and is audited; sqli still blocks.
    assert_eq!(mode(&operator, "xss", "detect"), 200);
    let passed = get(http, xss).await;
    assert_eq!(passed.status, 200, "{:?}", passed.body);
    let id = passed.header("x-request-id").unwrap().to_owned();
    assert_problem(&get(http, sqli).await, 403, "attack-detected");
    let reported = || {
        inner.logs().into_iter().any(|l| {
            l["target"] == "rampart::audit"
                && l["request_id"] == id.as_str()
                && l["action"] == "report"
                && l["rule"].as_str().is_some_and(|r| r.starts_with("xss"))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !reported() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reported(), "no report record for {id}");
    let (status, body) = call(admin, "GET", "/admin/status", &viewer, "");
    assert_eq!(status, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["status"]["extra"]["rule_detect_overrides"],
        serde_json::json!(["xss"]),
        "{status}"
    );

    // Back to blocking.
    assert_eq!(mode(&operator, "xss", "block"), 200);
    assert_problem(&get(http, xss).await, 403, "attack-detected");
    assert_eq!(get(http, look_alike).await.status, 200);
}
