//! Alerts and syslog with both tiers: a burst of attacks through the edge makes the
//! inner's rule fire once, reaching a loopback HTTPS webhook that checks the signature,
//! listed by `GET /admin/alerts`; the inner's audit records reach a TCP syslog collector
//! as RFC 5424 messages.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rampart_service::admin::{Role, new_admin_token};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::pki::TestPki;
use rampart_test_support::stack::{Stack, StackOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;

use crate::common::{admin_call, assert_problem, bins};

const SECRET: &str = "e2e-webhook-secret-0123456789";

/// What the webhook receiver saw: (timestamp header, signature header, body).
type Hooks = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

async fn webhook_receiver(pki: &TestPki) -> (SocketAddr, Hooks) {
    let acceptor = pki.acceptor("hook", "localhost");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Hooks = Arc::default();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen2.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let h = |n: &str| {
                                req.headers()
                                    .get(n)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_owned()
                            };
                            let (ts, sig) = (h("x-rampart-timestamp"), h("x-rampart-signature"));
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            seen.lock().unwrap().push((ts, sig, body.to_vec()));
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// The receiver's own check: HMAC-SHA256 over `<timestamp>.<body>`, timestamp recent.
fn signature_ok(ts: &str, sig: &str, body: &[u8]) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let mut signed = ts.as_bytes().to_vec();
    signed.push(b'.');
    signed.extend_from_slice(body);
    let Some(hex) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Some(mac) = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = ts.parse::<u64>().is_ok_and(|t| t.abs_diff(now) < 300);
    fresh && ring::hmac::verify(&key, &signed, &mac).is_ok()
}

/// A TCP syslog collector reading octet-counted frames.
async fn syslog_collector() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let out = lines.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let out = out.clone();
            tokio::spawn(async move {
                let mut r = BufReader::new(tcp);
                loop {
                    let mut len = Vec::new();
                    if r.read_until(b' ', &mut len).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = std::str::from_utf8(&len[..len.len() - 1])
                        .unwrap()
                        .parse()
                        .unwrap();
                    let mut msg = vec![0; n];
                    r.read_exact(&mut msg).await.unwrap();
                    out.lock().unwrap().push(String::from_utf8(msg).unwrap());
                }
            });
        }
    });
    (addr, lines)
}

async fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ROUTES: &str = r#"
[[routes]]
name = "api"
path_prefix = "/"
upstream = "app"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attack_burst_makes_one_signed_alert_and_audit_lines_reach_syslog() {
    let backend = Backend::start().await;
    let pki = TestPki::new();
    let secret = pki.path().join("hook.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let (hook_addr, hooks) = webhook_receiver(&pki).await;
    let (syslog_addr, syslog) = syslog_collector().await;
    let (viewer, viewer_toml) = new_admin_token("watch", Role::Viewer);
    let mut opts = StackOptions::new(backend.url());
    opts.routes = ROUTES.into();
    // The burst is gathered for `group_wait` before it is sent: generous for a busy box.
    opts.inner_extra = format!(
        r#"
{viewer_toml}
[alerts]
group_wait = "10s"
[[alerts.rules]]
name = "sqli-burst"
match = {{ check = "inspection", class = "sqli" }}
threshold = 5
window = "60s"
per = "client"
cooldown = "1h"
[[alerts.webhooks]]
url = "https://localhost:{port}/hooks/rampart"
secret_file = {secret:?}
ca_file = {ca:?}
timeout = "10s"
backoff = "100ms"

[syslog]
transport = "tcp"
address = "{syslog_addr}"
app_name = "rampart-inner"
"#,
        port = hook_addr.port(),
        secret = secret.display().to_string(),
        ca = pki.ca_path.display().to_string(),
    );
    let stack = Stack::start(&bins(), &opts);

    let attack = br#"{"note":"1' UNION SELECT password FROM users--"}"#;
    let mut ids = Vec::new();
    for _ in 0..7 {
        let request = Request::post("/orders")
            .header("host", "api.example.test")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(attack)))
            .unwrap();
        let response = collect(http1(stack.http(), request).await.unwrap()).await;
        assert_problem(&response, 403, "attack-detected");
        ids.push(response.header("x-request-id").unwrap().to_owned());
    }
    // A look-alike that must pass and count for nothing.
    let fine = Request::post("/orders")
        .header("host", "api.example.test")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"note":"select your plan"}"#,
        )))
        .unwrap();
    assert_eq!(
        collect(http1(stack.http(), fine).await.unwrap())
            .await
            .status,
        200
    );

    wait("the webhook", || !hooks.lock().unwrap().is_empty()).await;
    let (ts, sig, body) = hooks.lock().unwrap()[0].clone();
    assert!(signature_ok(&ts, &sig, &body), "signature {sig} over {ts}");
    assert!(!signature_ok(&ts, &sig, b"{\"tampered\":true}"));
    let alert: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(alert["rule"], "sqli-burst");
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["count"], 7);
    assert_eq!(alert["tier"], "inner");
    let samples = alert["sample_request_ids"].as_array().unwrap();
    assert!(!samples.is_empty() && samples.len() <= 5);
    assert!(
        samples
            .iter()
            .all(|s| ids.iter().any(|id| s == id.as_str())),
        "{samples:?} / {ids:?}"
    );

    // The inner's audit records (and the alert) reached the collector as RFC 5424.
    wait("syslog lines", || {
        let lines = syslog.lock().unwrap();
        ids.iter().all(|id| {
            lines
                .iter()
                .any(|l| l.contains(&format!("request_id=\"{id}\"")))
        }) && lines.iter().any(|l| l.contains(" alert [rampart@32473 "))
    })
    .await;
    for line in syslog.lock().unwrap().iter() {
        let (head, msg) = line.split_once("] {").expect("SD then JSON MSG");
        assert!(head.starts_with('<') && head.contains(">1 "), "{line}");
        let fields: Vec<&str> = head.splitn(7, ' ').collect();
        assert_eq!(fields[3], "rampart-inner", "{line}");
        assert!(fields[4].parse::<u32>().is_ok(), "PROCID: {line}");
        assert!(
            fields[6].starts_with("[rampart@32473 tier=\"inner\""),
            "{line}"
        );
        serde_json::from_str::<serde_json::Value>(&format!("{{{msg}")).unwrap();
    }

    // GET /admin/alerts on the inner lists it for a viewer.
    let inner_admin = stack.inner.as_ref().unwrap().addr("admin");
    let listed = admin_get(inner_admin, "/admin/alerts", &viewer);
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    assert!(listed.contains("\"sqli-burst\""), "{listed}");
    let metrics = admin_get(inner_admin, "/metrics", &viewer);
    assert!(
        metrics.contains("rampart_alerts_total{tier=\"inner\",rule=\"sqli-burst\"} 1"),
        "{metrics}"
    );
    // Still exactly one delivery: the flood was one alert.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hooks.lock().unwrap().len(), 1);
}

/// The whole answer, head and body.
fn admin_get(addr: SocketAddr, path: &str, token: &str) -> String {
    let reply = admin_call(addr, "GET", path, Some(token), &[], "");
    format!("{}\r\n\r\n{}", reply.head, reply.body)
}
