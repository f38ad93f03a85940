//! Operations from an operator's seat: the admin API's roles, address blocks with their
//! 403s, route modes switched at run time on both tiers, and the audit file that
//! records the denials and the admin calls with their request ids.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_service::admin::{Role, new_admin_token};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{Collected, collect, http1};
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};

use crate::common::{AdminReply, admin_call, assert_problem, bins};

type Reply = AdminReply;

/// One admin call over a fresh connection.
fn call(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: &str) -> Reply {
    admin_call(addr, method, path, token, &[], body)
}

async fn get(addr: SocketAddr, target: &str) -> Collected {
    let request = Request::builder()
        .uri(target)
        .header("host", "api.example.test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(http1(addr, request).await.unwrap()).await
}

/// Every JSON line of the audit file and its rotated copies, oldest first.
fn audit_lines(path: &Path, keep: u32) -> Vec<serde_json::Value> {
    let mut files: Vec<std::path::PathBuf> = (1..=keep)
        .rev()
        .map(|n| path.with_extension(format!("log.{n}")))
        .collect();
    files.push(path.to_owned());
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<serde_json::Value>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_status_but_may_not_block() {
    let backend = Backend::start().await;
    let (viewer, viewer_toml) = new_admin_token("watch", Role::Viewer);
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = viewer_toml;
    let stack = Stack::start(&bins(), &opts);
    let admin = stack.edge.addr("admin");
    assert_eq!(get(stack.http(), "/hello").await.status, 200);

    // The access record (and its count) is written as the response ends.
    let deadline = Instant::now() + Duration::from_secs(3);
    let doc = loop {
        let reply = call(admin, "GET", "/admin/status", Some(&viewer), "");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let doc = reply.json();
        if doc["status"]["requests_total"].as_u64() >= Some(1) || Instant::now() > deadline {
            break doc;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = &doc["status"];
    assert_eq!(status["tier"], "edge");
    assert_eq!(status["config_generation"], 1);
    assert_eq!(status["ready"], true);
    assert!(status["requests_total"].as_u64() >= Some(1), "{doc}");
    assert_eq!(status["denials_total"], 0);
    let health = status["health"].as_array().unwrap();
    assert_eq!(health.len(), 1, "{doc}");
    assert!(
        health[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("inner:127.0.0.1:")
    );
    assert_eq!(health[0]["healthy"], true);
    assert_eq!(health[0]["detail"], "config generation 1");
    assert!(status["latency_ms"]["p99"].as_f64().is_some(), "{doc}");

    let block = r#"{"address":"127.0.0.1","duration":"60s"}"#;
    let refused = call(admin, "POST", "/admin/blocks", Some(&viewer), block);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.json()["reason"], "forbidden");
    for token in [None, Some("rpa_not-a-configured-token")] {
        let reply = call(admin, "GET", "/admin/status", token, "");
        assert_eq!(reply.status, 401, "{token:?}");
    }
    // The probes answer as before, without credentials.
    assert!(blocking_get(admin, "/healthz").starts_with("HTTP/1.1 200"));
    assert!(blocking_get(admin, "/readyz").starts_with("HTTP/1.1 200"));
    assert!(blocking_get(admin, "/metrics").contains("rampart_audit_records_total"));
    // The refused call blocked nothing.
    assert_eq!(get(stack.http(), "/hello").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_block_refuses_the_client_until_lifted_and_both_are_audited() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("edge-audit.log");
    let (operator, operator_toml) = new_admin_token("ops", Role::Operator);
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        "[audit]\nsink = \"file\"\npath = {audit:?}\nmax_size = \"4KiB\"\nkeep = 3\n\
         client_address = \"truncate\"\n\n{operator_toml}"
    );
    let stack = Stack::start(&bins(), &opts);
    let admin = stack.edge.addr("admin");
    assert_eq!(get(stack.http(), "/hello").await.status, 200);

    let block = r#"{"address":"127.0.0.1","duration":"60s"}"#;
    let blocked = call(admin, "POST", "/admin/blocks", Some(&operator), block);
    assert_eq!(blocked.status, 200, "{}", blocked.body);
    let refused = get(stack.http(), "/hello").await;
    assert_problem(&refused, 403, "address-denied");
    let denied_id = refused.header("x-request-id").unwrap().to_owned();
    // A neighbour outside the blocked /32 is a different address: not on loopback
    // here, so the list itself is checked.
    let list = call(admin, "GET", "/admin/blocks", Some(&operator), "").json();
    let blocks = list["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 1, "{list}");
    assert_eq!(blocks[0]["network"], "127.0.0.1/32");
    let left = blocks[0]["remaining_secs"].as_u64().unwrap();
    assert!((55..=60).contains(&left), "{left}");
    let too_broad = r#"{"address":"127.0.0.0/4","duration":"60s"}"#;
    assert_eq!(
        call(admin, "POST", "/admin/blocks", Some(&operator), too_broad).status,
        422
    );

    let lifted = call(
        admin,
        "DELETE",
        "/admin/blocks/127.0.0.1",
        Some(&operator),
        "",
    );
    assert_eq!(lifted.status, 200, "{}", lifted.body);
    assert_eq!(get(stack.http(), "/hello").await.status, 200);
    assert_eq!(
        call(
            admin,
            "DELETE",
            "/admin/blocks/127.0.0.1",
            Some(&operator),
            ""
        )
        .status,
        404
    );
    // Enough audited calls to rotate the 4 KiB file at least once.
    for _ in 0..12 {
        assert_eq!(
            call(admin, "GET", "/admin/blocks", Some(&operator), "").status,
            200
        );
    }

    let deadline = Instant::now() + Duration::from_secs(3);
    let lines = loop {
        let lines = audit_lines(&audit, 3);
        let done = lines
            .iter()
            .filter(|l| l["endpoint"] == "/admin/blocks")
            .count()
            >= 15;
        if done || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        audit.with_extension("log.1").exists(),
        "no rotation after {} lines",
        lines.len()
    );
    for n in 0..=3 {
        let file = if n == 0 {
            audit.clone()
        } else {
            audit.with_extension(format!("log.{n}"))
        };
        if let Ok(meta) = std::fs::metadata(&file) {
            assert!(
                meta.len() <= 4096,
                "{} is {} bytes",
                file.display(),
                meta.len()
            );
        }
    }
    let denial = lines
        .iter()
        .find(|l| l["request_id"] == denied_id.as_str())
        .unwrap_or_else(|| panic!("no record of {denied_id} in {lines:?}"));
    assert_eq!(denial["kind"], "decision");
    assert_eq!(denial["tier"], "edge");
    assert_eq!(denial["check"], "ip-policy");
    assert_eq!(denial["rule"], "admin-block");
    assert_eq!(denial["reason"], "address-denied");
    assert_eq!(denial["action"], "block");
    assert_eq!(denial["client"], "127.0.0.0/24", "truncated address");
    let admin_record = |id: &str| {
        lines
            .iter()
            .find(|l| l["kind"] == "admin" && l["request_id"] == id)
            .unwrap_or_else(|| panic!("no admin record {id} in {lines:?}"))
    };
    let blocked_rec = admin_record(&blocked.request_id());
    assert_eq!(blocked_rec["actor"], "ops");
    assert_eq!(blocked_rec["role"], "operator");
    assert_eq!(blocked_rec["method"], "POST");
    assert_eq!(blocked_rec["endpoint"], "/admin/blocks");
    assert_eq!(blocked_rec["status"], 200);
    assert_eq!(blocked_rec["outcome"], "ok");
    assert_eq!(blocked_rec["detail"], "block 127.0.0.1/32 for 60s");
    assert_eq!(
        admin_record(&lifted.request_id())["detail"],
        "unblock 127.0.0.1/32"
    );
    for decision in lines.iter().filter(|l| l["kind"] == "decision") {
        assert_eq!(decision["client"], "127.0.0.0/24", "{decision}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_switch_a_route_to_detect_only_and_back_on_both_tiers() {
    let backend = Backend::start().await;
    let (operator, operator_toml) = new_admin_token("ops", Role::Operator);
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!("{operator_toml}\n[[routes]]\nname = \"api\"\npath_prefix = \"/\"\n");
    opts.inner_extra = operator_toml;
    let stack = Stack::start(&bins(), &opts);
    let edge_admin = stack.edge.addr("admin");
    let inner_admin = stack.inner.as_ref().unwrap().addr("admin");
    let attack = "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let look_alike = "/search?q=script+writing+tips";
    let mode = |addr, route: &str, mode: &str| {
        let path = format!("/admin/routes/{route}/mode");
        call(
            addr,
            "POST",
            &path,
            Some(&operator),
            &format!(r#"{{"mode":"{mode}"}}"#),
        )
    };
    assert_eq!(get(stack.http(), look_alike).await.status, 200);
    assert_problem(&get(stack.http(), attack).await, 403, "attack-detected");

    // The edge reports; the inner still blocks.
    assert_eq!(mode(edge_admin, "api", "detect").status, 200);
    let refused = get(stack.http(), attack).await;
    assert_problem(&refused, 403, "attack-detected");
    let id = refused.header("x-request-id").unwrap().to_owned();
    let inner = stack.inner.as_ref().unwrap();
    let refused_by_inner = || {
        inner
            .access_log()
            .iter()
            .any(|l| l["request_id"] == id.as_str() && l["reason"] == "attack-detected")
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    while !refused_by_inner() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(refused_by_inner(), "the inner decided");

    // Both tiers report: the request reaches the backend.
    assert_eq!(mode(inner_admin, "default", "detect").status, 200);
    assert_eq!(get(stack.http(), attack).await.status, 200);
    let status = call(inner_admin, "GET", "/admin/status", Some(&operator), "").json();
    assert_eq!(
        status["status"]["extra"]["route_mode_overrides"]["default"], "detect",
        "{status}"
    );

    // Back to blocking at the edge alone is enough to refuse again.
    assert_eq!(mode(edge_admin, "api", "block").status, 200);
    assert_problem(&get(stack.http(), attack).await, 403, "attack-detected");
    assert_eq!(get(stack.http(), look_alike).await.status, 200);
    assert_eq!(mode(edge_admin, "nope", "detect").status, 404);
    assert_eq!(mode(inner_admin, "default", "block").status, 200);
    let status = call(edge_admin, "GET", "/admin/status", Some(&operator), "").json();
    assert!(
        status["status"]["denials_total"].as_u64() >= Some(2),
        "{status}"
    );
    // Per-rule switches live in the inner tier (its detection engine); the edge has none.
    assert_eq!(
        call(
            edge_admin,
            "POST",
            "/admin/rules/sqli/mode",
            Some(&operator),
            r#"{"mode":"detect"}"#
        )
        .status,
        501
    );
}

async fn get_with_key(addr: SocketAddr, target: &str, key: &str) -> Collected {
    let request = Request::builder()
        .uri(target)
        .header("host", "api.example.test")
        .header("x-api-key", key)
        .body(Full::new(Bytes::new()))
        .unwrap();
    collect(http1(addr, request).await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_mints_and_revokes_api_keys_through_the_consumers_file() {
    let backend = Backend::start().await;
    let (admin, admin_toml) = new_admin_token("root", Role::Admin);
    let (operator, operator_toml) = new_admin_token("ops", Role::Operator);
    let dir = tempfile::tempdir().unwrap();
    let consumers = dir.path().join("consumers.toml");
    std::fs::write(
        &consumers,
        "# partners, kept by hand and by the admin API\n\
         [[consumer]]\nname = \"acme\"   # since 2024\nscopes = [\"orders:read\"]\n\n\
         [[consumer]]\nname = \"beta\"\n",
    )
    .unwrap();
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        "{admin_toml}{operator_toml}\n[identity]\nconsumers = {:?}\n\n\
         [[routes]]\nname = \"orders\"\npath_prefix = \"/orders\"\n\
         auth = {{ methods = [\"api_key\"] }}\n",
        consumers.display().to_string()
    );
    let stack = Stack::start(&bins(), &opts);
    let edge_admin = stack.edge.addr("admin");

    // Consumers and keys are the admin role's alone.
    assert_eq!(
        call(edge_admin, "GET", "/admin/consumers", Some(&operator), "").status,
        403
    );
    let listed = call(edge_admin, "GET", "/admin/consumers", Some(&admin), "");
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["consumers"][0]["name"], "acme");
    assert_eq!(listed.json()["consumers"][0]["keys"], serde_json::json!([]));

    // A new key: shown once, only its hash written, usable at once.
    let minted = call(
        edge_admin,
        "POST",
        "/admin/consumers/acme/keys",
        Some(&admin),
        r#"{"expires":"2099-01-01T00:00:00Z"}"#,
    );
    assert_eq!(minted.status, 200, "{}", minted.body);
    let key = minted.json()["key"].as_str().unwrap().to_owned();
    let id = minted.json()["id"].as_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&consumers).unwrap();
    assert!(!text.contains(&key), "the key itself is never stored");
    assert!(text.contains("# since 2024") && text.contains("# partners"));
    assert_eq!(
        get_with_key(stack.http(), "/orders/1", &key).await.status,
        200
    );
    let acme = call(edge_admin, "GET", "/admin/consumers/acme", Some(&admin), "").json();
    assert_eq!(acme["keys"], serde_json::json!([id]));
    assert!(!acme.to_string().contains(&key));

    // Refused edits change nothing.
    for (method, path, body, status) in [
        ("POST", "/admin/consumers/nobody/keys", "", 404),
        (
            "POST",
            "/admin/consumers/acme/keys",
            r#"{"expires":"soon"}"#,
            422,
        ),
        (
            "DELETE",
            "/admin/consumers/beta/keys/0123456789abcdef",
            "",
            404,
        ),
        ("POST", "/admin/consumers/acme/keys", "", 403),
    ] {
        let token = if status == 403 { &operator } else { &admin };
        let reply = call(edge_admin, method, path, Some(token), body);
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    }
    assert_eq!(std::fs::read_to_string(&consumers).unwrap(), text);

    // Revoked: the key stops working at once.
    let path = format!("/admin/consumers/acme/keys/{id}");
    assert_eq!(
        call(edge_admin, "DELETE", &path, Some(&admin), "").status,
        200
    );
    assert_problem(
        &get_with_key(stack.http(), "/orders/1", &key).await,
        401,
        "unauthenticated",
    );
    assert!(!std::fs::read_to_string(&consumers).unwrap().contains(&id));
}
