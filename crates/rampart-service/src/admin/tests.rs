//! The admin listener over real sockets: roles per endpoint, refusals, audit records,
//! bounded bodies, the dashboard and its event stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rampart_core::Reason;
use rampart_core::check::Denial;
use rampart_core::id::RequestId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::{Token, token_hash};
use super::*;
use crate::audit::{self, Auditor, ClientAddress, Sink};
use crate::shutdown::Trigger;

#[derive(Default)]
struct FakeActions {
    calls: Mutex<Vec<String>>,
}

impl FakeActions {
    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl AdminActions for FakeActions {
    fn status(&self) -> TierStatus {
        TierStatus {
            tier: "edge".into(),
            version: "0.1.0".into(),
            config_generation: 3,
            ready: true,
            requests_total: 42,
            ..TierStatus::default()
        }
    }
    fn set_route_mode(&self, route: &str, mode: Mode) -> Result<(), ActionError> {
        if route == "missing" {
            return Err(ActionError::NotFound("no route \"missing\"".into()));
        }
        self.log(format!("route {route} {}", mode.as_str()));
        Ok(())
    }
    fn set_rule_mode(&self, rule: &str, mode: Mode) -> Result<(), ActionError> {
        self.log(format!("rule {rule} {}", mode.as_str()));
        Ok(())
    }
    fn block_address(&self, network: IpNet, duration: Duration) -> Result<(), ActionError> {
        self.log(format!("block {network} {}", duration.as_secs()));
        Ok(())
    }
    fn unblock_address(&self, network: IpNet) -> Result<(), ActionError> {
        self.log(format!("unblock {network}"));
        Ok(())
    }
    fn reload(&self) -> ActionFuture<'_, ReloadOutcome> {
        self.log("reload".into());
        Box::pin(std::future::ready(Ok(ReloadOutcome {
            generation: 4,
            applied: true,
            at: "2027-01-15T08:00:00Z".into(),
            errors: Vec::new(),
            warnings: Vec::new(),
        })))
    }
    fn manage(&self, request: ManageRequest) -> ActionFuture<'_, serde_json::Value> {
        self.log(format!("manage {} {}", request.method, request.path));
        Box::pin(std::future::ready(Ok(serde_json::json!({ "ok": true }))))
    }
}

struct Harness {
    addr: SocketAddr,
    auditor: Arc<Auditor>,
    audit_path: PathBuf,
    dir: PathBuf,
    actions: Arc<FakeActions>,
    state: Arc<AdminState>,
    viewer: String,
    operator: String,
    admin: String,
    _trigger: Trigger,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn token(name: &str, role: Role) -> (String, Token) {
    let secret = format!("rpa_test_{name}_{}", rand::random::<u64>());
    let token = Token {
        name: name.to_owned(),
        hash: token_hash(&secret),
        role,
    };
    (secret, token)
}

async fn start_with(
    configure: impl FnOnce(&mut AdminConfig),
    actions_override: Option<Arc<dyn AdminActions>>,
) -> Harness {
    start_tls(configure, actions_override, None).await
}

async fn start_tls(
    configure: impl FnOnce(&mut AdminConfig),
    actions_override: Option<Arc<dyn AdminActions>>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Harness {
    let dir = audit::tests::temp_dir("admin");
    let audit_path = dir.join("audit.log");
    let auditor = Auditor::start(
        "edge",
        &audit::AuditConfig {
            sink: Sink::File {
                path: audit_path.clone(),
                max_size: rampart_core::units::ByteSize::mib(10),
                keep: 1,
            },
            client_address: ClientAddress::Full,
            queue: 4096,
            recent: 1000,
            ..audit::AuditConfig::default()
        },
    )
    .unwrap();
    let (viewer, viewer_token) = token("watcher", Role::Viewer);
    let (operator, operator_token) = token("ops", Role::Operator);
    let (admin, admin_token) = token("root", Role::Admin);
    let mut config = AdminConfig {
        tokens: vec![viewer_token, operator_token, admin_token],
        ..AdminConfig::default()
    };
    configure(&mut config);
    let actions = Arc::new(FakeActions::default());
    let state = AdminState::new(AdminParts {
        tier: "edge",
        ready: Arc::new(|| true),
        metrics: Some(Arc::new(|| {
            "# TYPE rampart_requests_total counter\nrampart_requests_total 42\n".to_owned()
        })),
        actions: actions_override.unwrap_or_else(|| actions.clone()),
        config,
        auditor: auditor.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = crate::shutdown::channel();
    tokio::spawn(serve_api(listener, state.clone(), tls, shutdown));
    Harness {
        addr,
        auditor,
        audit_path,
        dir,
        actions,
        state,
        viewer,
        operator,
        admin,
        _trigger: trigger,
    }
}

async fn start() -> Harness {
    start_with(|_| {}, None).await
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(
    addr: SocketAddr,
    method: &Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> hyper::Response<hyper::body::Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method.clone())
        .uri(path)
        .header("host", "admin.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    sender.send_request(req).await.unwrap()
}

async fn call(
    addr: SocketAddr,
    method: &Method,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    let response = send(addr, method, path, &headers, body).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn admin_records(h: &Harness) -> Vec<serde_json::Value> {
    assert!(h.auditor.flush(Duration::from_secs(5)));
    std::fs::read_to_string(&h.audit_path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["kind"] == "admin")
        .collect()
}

#[tokio::test]
async fn each_role_can_do_exactly_its_set_and_every_call_is_audited() {
    let h = start().await;
    let endpoints: [(Method, &str, &str, Role); 12] = [
        (Method::GET, "/admin/status", "", Role::Viewer),
        (Method::GET, "/admin/events?group=1", "", Role::Viewer),
        (Method::GET, "/admin/blocks", "", Role::Viewer),
        (Method::GET, "/dashboard", "", Role::Viewer),
        (Method::GET, "/dashboard.js", "", Role::Viewer),
        (
            Method::POST,
            "/admin/routes/orders/mode",
            r#"{"mode":"detect"}"#,
            Role::Operator,
        ),
        (
            Method::POST,
            "/admin/rules/sqli-001/mode",
            r#"{"mode":"block"}"#,
            Role::Operator,
        ),
        (
            Method::POST,
            "/admin/blocks",
            r#"{"address":"203.0.113.9/24","duration":"15m"}"#,
            Role::Operator,
        ),
        (
            Method::DELETE,
            "/admin/blocks/203.0.113.0%2F24",
            "",
            Role::Operator,
        ),
        (Method::POST, "/admin/reload", "", Role::Operator),
        (Method::GET, "/admin/consumers", "", Role::Admin),
        (
            Method::POST,
            "/admin/keys/acme",
            r#"{"rotate":true}"#,
            Role::Admin,
        ),
    ];
    let callers: [(Option<&str>, Option<Role>, &str); 5] = [
        (None, None, "-"),
        (Some("rpa_not_a_real_token"), None, "-"),
        (Some(&h.viewer), Some(Role::Viewer), "watcher"),
        (Some(&h.operator), Some(Role::Operator), "ops"),
        (Some(&h.admin), Some(Role::Admin), "root"),
    ];
    let mut expected = Vec::new();
    for (method, path, body, needs) in &endpoints {
        for (token, role, actor) in &callers {
            let reply = call(h.addr, method, path, *token, body).await;
            let want = match role {
                None => StatusCode::UNAUTHORIZED,
                Some(r) if r < needs => StatusCode::FORBIDDEN,
                Some(_) => StatusCode::OK,
            };
            assert_eq!(
                reply.status, want,
                "{method} {path} as {actor}: {}",
                reply.body
            );
            if want == StatusCode::UNAUTHORIZED && path.starts_with("/admin") {
                // No detail: not which part failed, not whether the token exists.
                let body = reply.json();
                assert_eq!(body.as_object().unwrap().len(), 5, "{body}");
                assert_eq!(body["reason"], "unauthenticated");
                assert!(reply.headers.contains_key("www-authenticate"));
            }
            if want == StatusCode::FORBIDDEN {
                assert_eq!(reply.json()["reason"], "forbidden");
            }
            let outcome = match want {
                StatusCode::UNAUTHORIZED => "unauthenticated",
                StatusCode::FORBIDDEN => "forbidden",
                _ => "ok",
            };
            expected.push((
                method.to_string(),
                path.split('?').next().unwrap().to_owned(),
                *actor,
                outcome,
                want.as_u16(),
            ));
        }
    }
    let records = admin_records(&h);
    assert_eq!(records.len(), expected.len(), "one record per call");
    for (record, (method, path, actor, outcome, status)) in records.iter().zip(&expected) {
        assert_eq!(record["method"], method.as_str(), "{record}");
        assert_eq!(record["endpoint"], path.as_str(), "{record}");
        assert_eq!(record["actor"], *actor, "{record}");
        assert_eq!(record["outcome"], *outcome, "{record}");
        assert_eq!(record["status"], *status, "{record}");
        assert_eq!(record["peer"], "127.0.0.1");
        assert_eq!(record["target"], audit::AUDIT);
    }
    let raw = std::fs::read_to_string(&h.audit_path).unwrap();
    for secret in [&h.viewer, &h.operator, &h.admin] {
        assert!(!raw.contains(secret.as_str()), "tokens are never written");
    }
    // Only the operator and admin calls reached the tier, each once.
    let calls = h.actions.calls();
    for call in [
        "route orders detect",
        "rule sqli-001 block",
        "block 203.0.113.0/24 900",
        "unblock 203.0.113.0/24",
        "reload",
    ] {
        assert_eq!(
            calls.iter().filter(|c| *c == call).count(),
            2,
            "{call}: {calls:?}"
        );
    }
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("manage")).count(),
        2,
        "{calls:?}"
    );
}

#[tokio::test]
async fn probes_answer_as_before_and_metrics_can_be_protected() {
    let h = start().await;
    let healthz = call(h.addr, &Method::GET, "/healthz", None, "").await;
    assert_eq!(
        (healthz.status, healthz.body.as_str()),
        (StatusCode::OK, "ok\n")
    );
    let readyz = call(h.addr, &Method::GET, "/readyz", None, "").await;
    assert_eq!(
        (readyz.status, readyz.body.as_str()),
        (StatusCode::OK, "ready\n")
    );
    let metrics = call(h.addr, &Method::GET, "/metrics", None, "").await;
    assert_eq!(metrics.status, StatusCode::OK);
    for series in [
        "rampart_requests_total 42",
        "rampart_audit_dropped_total{tier=\"edge\"} 0",
        "rampart_admin_requests_total{tier=\"edge\",outcome=\"ok\"}",
    ] {
        assert!(metrics.body.contains(series), "{series}: {}", metrics.body);
    }
    assert!(admin_records(&h).is_empty(), "probes are not admin calls");

    let h = start_with(|c| c.protect_metrics = true, None).await;
    assert_eq!(
        call(h.addr, &Method::GET, "/metrics", None, "")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let metrics = call(h.addr, &Method::GET, "/metrics", Some(&h.viewer), "").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.body.contains("rampart_audit_records_total"));
    assert_eq!(
        call(h.addr, &Method::GET, "/healthz", None, "")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        admin_records(&h).len(),
        1,
        "the refused scrape is audited, the good one not"
    );
}

#[tokio::test]
async fn bodies_are_bounded_and_checked() {
    let h = start().await;
    let big = format!(
        r#"{{"address":"203.0.113.9","duration":"1m","pad":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let reply = call(
        h.addr,
        &Method::POST,
        "/admin/blocks",
        Some(&h.operator),
        &big,
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["reason"], "body-too-large");

    // The same without a declared length: cut off at the limit.
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    let head = format!(
        "POST /admin/blocks HTTP/1.1\r\nhost: a\r\nauthorization: Bearer {}\r\ntransfer-encoding: chunked\r\n\r\n",
        h.operator
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("2000\r\n{}\r\n", "x".repeat(0x2000));
    for _ in 0..16 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let table = [
        (r#"{"mode":"detect""#, StatusCode::BAD_REQUEST),
        (r#"{"mode":"detect","extra":1}"#, StatusCode::BAD_REQUEST),
        (
            r#"{"mode":"detect","mode":"block"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (r#"{"mode":"sometimes"}"#, StatusCode::BAD_REQUEST),
        (r#"{"mode":"detect"}"#, StatusCode::OK),
    ];
    for (body, want) in table {
        let reply = call(
            h.addr,
            &Method::POST,
            "/admin/routes/orders/mode",
            Some(&h.operator),
            body,
        )
        .await;
        assert_eq!(reply.status, want, "{body}: {}", reply.body);
    }
    let reply = call(
        h.addr,
        &Method::POST,
        "/admin/routes/missing/mode",
        Some(&h.operator),
        r#"{"mode":"detect"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["detail"], "no route \"missing\"");
    let reply = call(
        h.addr,
        &Method::POST,
        "/admin/routes/bad%20name/mode",
        Some(&h.operator),
        r#"{"mode":"detect"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    let blocks = [
        (
            r#"{"address":"0.0.0.0/0","duration":"1m"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"address":"2001:db8::/8","duration":"1m"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"address":"example.com","duration":"1m"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"address":"203.0.113.9","duration":"25h"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"address":"203.0.113.9","duration":"60"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"address":"203.0.113.9","duration":"0s"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"address":"203.0.113.9","duration":"24h"}"#,
            StatusCode::OK,
        ),
        (
            r#"{"address":"2001:db8:1::/48","duration":"5m"}"#,
            StatusCode::OK,
        ),
    ];
    for (body, want) in blocks {
        let reply = call(
            h.addr,
            &Method::POST,
            "/admin/blocks",
            Some(&h.operator),
            body,
        )
        .await;
        assert_eq!(reply.status, want, "{body}: {}", reply.body);
    }
    assert!(
        h.actions
            .calls()
            .contains(&"block 203.0.113.9/32 86400".to_owned())
    );
    assert!(
        h.actions
            .calls()
            .contains(&"block 2001:db8:1::/48 300".to_owned())
    );
}

#[tokio::test]
async fn a_tier_without_an_action_answers_not_supported() {
    let h = start_with(|_| {}, Some(Arc::new(StatusOnly { tier: "inner" }))).await;
    let reply = call(h.addr, &Method::POST, "/admin/reload", Some(&h.admin), "").await;
    assert_eq!(reply.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(reply.json()["reason"], "not-supported");
    let status = call(h.addr, &Method::GET, "/admin/status", Some(&h.viewer), "").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["status"]["tier"], "inner");
    let records = admin_records(&h);
    assert_eq!(records[0]["outcome"], "refused");
    assert_eq!(records[0]["role"], "admin");
}

#[tokio::test]
async fn the_dashboard_is_self_contained_under_a_strict_csp() {
    let h = start().await;
    let page = call(h.addr, &Method::GET, "/dashboard", Some(&h.viewer), "").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{csp}"
    );
    assert!(page.body.contains("<script src=\"/dashboard.js\""));
    assert_eq!(page.body.matches("<script").count(), 1, "no inline script");
    assert!(
        !page.body.contains("<style") && !page.body.contains(" style="),
        "no inline style"
    );
    assert!(
        !page.body.contains("//") || !page.body.contains("https://"),
        "no external asset"
    );
    let script = call(h.addr, &Method::GET, "/dashboard.js", Some(&h.viewer), "").await;
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(
        !script.body.contains("innerHTML"),
        "data only through textContent"
    );
    assert!(script.body.contains("EventSource(\"/admin/stream\")"));
    let style = call(h.addr, &Method::GET, "/dashboard.css", Some(&h.viewer), "").await;
    assert_eq!(style.status, StatusCode::OK);
    assert!(!style.body.contains("url("), "no external fonts or images");
}

#[tokio::test]
async fn a_browser_signs_in_with_a_token_and_gets_a_session_cookie() {
    let h = start().await;
    // Unauthenticated: the sign-in page (password + TOTP, or a token), nothing inline.
    let login = call(h.addr, &Method::GET, "/dashboard", None, "").await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(login.body.contains(r#"action="/admin/login""#));
    assert!(login.body.contains(r#"name="token""#));
    assert!(!login.body.contains("<style>"));
    assert!(!login.body.contains("<script>"));

    let form = [("content-type", "application/x-www-form-urlencoded")];
    let bad = send(
        h.addr,
        &Method::POST,
        "/admin/login",
        &form,
        "token=rpa_wrong",
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(!bad.headers().contains_key("set-cookie"));

    let ok = send(
        h.addr,
        &Method::POST,
        "/admin/login",
        &form,
        &format!("token={}", h.operator),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(!pair.contains(&h.operator), "the cookie is not the token");

    let page = send(h.addr, &Method::GET, "/dashboard", &[("cookie", &pair)], "").await;
    assert_eq!(page.status(), StatusCode::OK);
    // The page reads the session's CSRF token (same origin only).
    let session = send(
        h.addr,
        &Method::GET,
        "/admin/session",
        &[("cookie", &pair)],
        "",
    )
    .await;
    assert_eq!(session.status(), StatusCode::OK);
    let session = session.into_body().collect().await.unwrap().to_bytes();
    let session: serde_json::Value = serde_json::from_slice(&session).unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    // Changing something by cookie needs the session's CSRF token.
    let mode = r#"{"mode":"detect"}"#;
    let forged = send(
        h.addr,
        &Method::POST,
        "/admin/routes/orders/mode",
        &[("cookie", &pair)],
        mode,
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let real = send(
        h.addr,
        &Method::POST,
        "/admin/routes/orders/mode",
        &[("cookie", &pair), (api::CSRF_HEADER, &csrf)],
        mode,
    )
    .await;
    assert_eq!(real.status(), StatusCode::OK);
    assert_eq!(h.actions.calls(), vec!["route orders detect".to_owned()]);

    // Revoking the token ends its sessions.
    h.state.set_config(AdminConfig::default());
    let after = send(h.addr, &Method::GET, "/dashboard", &[("cookie", &pair)], "").await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let records = admin_records(&h);
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["endpoint"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(outcomes.contains(&("/admin/login", "unauthenticated")));
    assert!(outcomes.contains(&("/admin/login", "ok")));
    assert!(
        records
            .iter()
            .any(|r| r["auth"] == "session" && r["outcome"] == "forbidden")
    );
}

#[tokio::test]
async fn the_event_stream_delivers_audit_records_and_overviews() {
    let h = start().await;
    let unauthenticated = call(h.addr, &Method::GET, "/admin/stream", None, "").await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let auth = format!("Bearer {}", h.viewer);
    let response = send(
        h.addr,
        &Method::GET,
        "/admin/stream",
        &[("authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut seen = String::new();
    let id = RequestId::generate();
    let mut recorded = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains(id.as_str()) && seen.contains("event: overview")) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("stream stalled: {seen}"))
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
        if !recorded {
            // The stream is open: a denial now must reach it.
            let ctx = audit::Context {
                tier: "edge",
                request_id: &id,
                route: "search",
                client: "192.0.2.7",
            };
            let denial = Denial::new("screening", Reason::AttackDetected)
                .with_rule("sqli-001")
                .with_location("query:q");
            h.auditor.record(
                &ctx,
                &audit::Details::default(),
                &denial,
                audit::Action::Block,
                &[],
            );
            recorded = true;
        }
    }
    let audit_event = seen
        .split("\n\n")
        .find(|e| e.contains(id.as_str()))
        .unwrap();
    assert!(
        audit_event.starts_with("event: audit\ndata: {"),
        "{audit_event}"
    );
    let data: serde_json::Value =
        serde_json::from_str(audit_event.split("data: ").nth(1).unwrap()).unwrap();
    assert_eq!(data["kind"], "decision");
    assert_eq!(data["rule"], "sqli-001");
    let overview = seen
        .split("\n\n")
        .find(|e| e.starts_with("event: overview"))
        .unwrap();
    let data: serde_json::Value =
        serde_json::from_str(overview.split("data: ").nth(1).unwrap()).unwrap();
    assert_eq!(data["status"]["status"]["requests_total"], 42);
}

#[tokio::test]
async fn events_are_listed_and_grouped_with_exclusions() {
    let h = start().await;
    for i in 0..3 {
        let id = RequestId::generate();
        let ctx = audit::Context {
            tier: "edge",
            request_id: &id,
            route: "search",
            client: if i == 0 { "192.0.2.1" } else { "192.0.2.2" },
        };
        let denial = Denial::new("screening", Reason::AttackDetected)
            .with_rule("sqli-001")
            .with_location("query:q");
        h.auditor.record(
            &ctx,
            &audit::Details::default(),
            &denial,
            audit::Action::Report,
            &[],
        );
    }
    let events = call(
        h.addr,
        &Method::GET,
        "/admin/events?limit=2",
        Some(&h.viewer),
        "",
    )
    .await
    .json();
    assert_eq!(events["events"].as_array().unwrap().len(), 2);
    assert_eq!(events["totals"]["reports"], 3);
    let groups = call(
        h.addr,
        &Method::GET,
        "/admin/events?group=1",
        Some(&h.viewer),
        "",
    )
    .await
    .json();
    let group = &groups["groups"][0];
    assert_eq!(group["count"], 3);
    assert_eq!(group["clients"], 2);
    assert!(
        group["exclusion"]["global_snippet"]
            .as_str()
            .unwrap()
            .contains("[[screening.policy.exclusions]]\nrules = [\"sqli-001\"]\nlocations = [\"query:q\"]\n")
    );
}

mod tls {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::RootCertStore;
    use rustls::server::WebPkiClientVerifier;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    use super::*;

    struct Pki {
        ca: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    type Leaf = (CertificateDer<'static>, PrivateKeyDer<'static>);

    impl Pki {
        fn new() -> Pki {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "admin test ca");
            let ca = params.self_signed(&key).unwrap().der().clone();
            Pki {
                ca,
                issuer: Issuer::new(params, key),
            }
        }

        fn leaf(&self, name: &str) -> Leaf {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let cert = params.signed_by(&key, &self.issuer).unwrap().der().clone();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
            (cert, key)
        }

        fn roots(&self) -> RootCertStore {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca.clone()).unwrap();
            roots
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn server_config(pki: &Pki) -> Arc<rustls::ServerConfig> {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(pki.roots()), provider())
                .allow_unauthenticated()
                .build()
                .unwrap();
        let (cert, key) = pki.leaf("admin.test");
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(vec![cert], key)
                .unwrap(),
        )
    }

    async fn tls_call(
        addr: SocketAddr,
        pki: &Pki,
        client: Option<Leaf>,
        token: Option<&str>,
    ) -> (StatusCode, HeaderMap) {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(pki.roots());
        let config = match client {
            Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
            None => builder.with_no_client_auth(),
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let stream = connector
            .connect(ServerName::try_from("admin.test").unwrap(), tcp)
            .await
            .unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .uri("/admin/status")
            .header("host", "admin.test");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let response = sender
            .send_request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        (response.status(), response.headers().clone())
    }

    #[tokio::test]
    async fn client_certificates_map_to_roles_by_subject() {
        let pki = Pki::new();
        let h = start_tls(
            |c| {
                c.certificates = vec![super::super::config::CertificateRule {
                    subject: "alice.ops.example".into(),
                    role: Role::Admin,
                }];
            },
            None,
            Some(server_config(&pki)),
        )
        .await;
        let table = [
            (Some("alice.ops.example"), None, StatusCode::OK),
            (Some("mallory.example"), None, StatusCode::UNAUTHORIZED),
            (None, None, StatusCode::UNAUTHORIZED),
            (None, Some(h.viewer.clone()), StatusCode::OK),
            // A wrong token is refused even on a good certificate.
            (
                Some("alice.ops.example"),
                Some("rpa_wrong".to_owned()),
                StatusCode::UNAUTHORIZED,
            ),
        ];
        for (cert, token, want) in table {
            let (status, _) =
                tls_call(h.addr, &pki, cert.map(|n| pki.leaf(n)), token.as_deref()).await;
            assert_eq!(status, want, "{cert:?} {token:?}");
        }
        let records = admin_records(&h);
        assert_eq!(records.len(), 5);
        assert_eq!(records[0]["auth"], "certificate");
        assert_eq!(records[0]["actor"], "alice.ops.example");
        assert_eq!(records[0]["role"], "admin");
        assert_eq!(records[3]["auth"], "token");
    }
}

#[path = "login_tests.rs"]
mod login_tests;
