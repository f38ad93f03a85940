//! Webhook delivery to real loopback receivers (HTTPS with fresh rcgen certificates).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rampart_test_support::pki::TestPki;
use tokio::net::TcpListener;

use super::super::webhook::{SIGNATURE, TIMESTAMP, sign};
use super::super::{Alert, Alerts};
use crate::audit::{Action, AuditEvent, DecisionRecord};

const SECRET: &str = "0123456789abcdef-webhook-secret";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    body: Vec<u8>,
    /// The signature checked against the timestamp header and body.
    signature_ok: bool,
}

/// An HTTPS receiver answering with `statuses` in turn (then 200).
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(pki: &TestPki, statuses: &[u16]) -> Receiver {
    let acceptor = pki.acceptor("hook", "localhost");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(
        statuses.iter().copied().collect::<VecDeque<u16>>(),
    ));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            let statuses = statuses.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        let statuses = statuses.clone();
                        async move {
                            let ts = header(&req, TIMESTAMP);
                            let sig = header(&req, SIGNATURE);
                            let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                            let signature_ok = sign(SECRET.as_bytes(), &ts, &body) == sig;
                            seen.lock().unwrap().push(Received { body, signature_ok });
                            let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                            let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
                            *r.status_mut() = StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(r)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Receiver { addr, seen }
}

fn header<B>(req: &Request<B>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

impl Receiver {
    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        wait(|| self.seen().len() >= n).await;
        self.seen()
    }
}

/// Polls `done` for up to a minute (generous: the box is shared).
async fn wait(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn webhook(url: &str, ca: &Path, extra: &str) -> String {
    format!(
        "[[webhooks]]\nurl = {url:?}\nsecret_file = \"hook.secret\"\nca_file = {:?}\ntimeout = \"10s\"\nbackoff = \"10ms\"\n{extra}\n",
        ca.display().to_string()
    )
}

fn setup(dir: &Path) {
    std::fs::write(dir.join("hook.secret"), format!("{SECRET}\n")).unwrap();
}

const BURST_RULE: &str = "group_wait = \"1s\"\n[[rules]]\nname = \"sqli-burst\"\nmatch = { check = \"inspection\", class = \"sqli\" }\nthreshold = 5\nwindow = \"60s\"\ncooldown = \"1h\"\n";

pub(crate) fn decision(client: &str, rule: &str, request_id: &str) -> Arc<AuditEvent> {
    let (timestamp, unix_ms) = crate::audit::timestamp(std::time::SystemTime::now());
    Arc::new(AuditEvent::Decision(Arc::new(DecisionRecord {
        timestamp,
        unix_ms,
        tier: "inner",
        request_id: request_id.into(),
        trace_id: request_id.into(),
        route: "orders".into(),
        client: client.into(),
        principal: None,
        check: "inspection",
        rule: rule.into(),
        location: "query:q".into(),
        reason: "attack-detected",
        status: 403,
        score: 5,
        action: Action::Block,
        explanation: vec![],
    })))
}

fn start(config: &super::super::AlertsConfig) -> (Arc<Alerts>, Arc<Mutex<Vec<Alert>>>) {
    let emitted = Arc::new(Mutex::new(Vec::new()));
    let sink = emitted.clone();
    let alerts = Alerts::start(
        "inner",
        config,
        Arc::new(move |a| sink.lock().unwrap().push(a)),
    )
    .unwrap();
    (alerts, emitted)
}

#[tokio::test]
async fn a_burst_reaches_the_https_webhook_once_signed_with_its_count() {
    let pki = TestPki::new();
    setup(pki.path());
    let rx = receiver(&pki, &[]).await;
    let url = format!("https://localhost:{}/hooks/rampart", rx.addr.port());
    let config = super::config(
        &format!("{BURST_RULE}{}", webhook(&url, &pki.ca_path, "")),
        pki.path(),
    )
    .unwrap();
    let (alerts, emitted) = start(&config);
    for i in 0..12 {
        alerts.observe(&decision("203.0.113.9", "sqli-001", &format!("req-{i}")));
    }
    // A look-alike from the same client (another class) is not counted.
    alerts.observe(&decision("203.0.113.9", "xss-001", "req-xss"));
    let seen = rx.wait_for(1).await;
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert!(seen[0].signature_ok, "signature");
    assert_eq!(body["rule"], "sqli-burst");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["count"], 12);
    assert_eq!(body["key"], "203.0.113.9");
    assert_eq!(body["tier"], "inner");
    assert_eq!(body["sample_request_ids"].as_array().unwrap().len(), 5);
    for k in ["alert", "first_seen", "last_seen"] {
        assert!(body[k].is_string(), "{k}");
    }
    wait(|| alerts.webhook_deliveries() == 1).await;
    // More of the flood within the cooldown: no second delivery.
    for i in 0..20 {
        alerts.observe(&decision("203.0.113.9", "sqli-001", &format!("more-{i}")));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rx.seen().len(), 1);
    assert_eq!(emitted.lock().unwrap().len(), 1);
    assert_eq!(alerts.recent(10).len(), 1);
    let metrics = alerts.render_metrics();
    assert!(
        metrics.contains("rampart_alerts_total{tier=\"inner\",rule=\"sqli-burst\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rampart_alert_webhook_failures_total{tier=\"inner\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_alert_on_the_third_attempt() {
    let pki = TestPki::new();
    setup(pki.path());
    let rx = receiver(&pki, &[500, 503]).await;
    let url = format!("https://localhost:{}/hook", rx.addr.port());
    let config = super::config(
        &format!("{BURST_RULE}{}", webhook(&url, &pki.ca_path, "retries = 5")),
        pki.path(),
    )
    .unwrap();
    let (alerts, _) = start(&config);
    for i in 0..5 {
        alerts.observe(&decision("203.0.113.10", "sqli-001", &format!("r{i}")));
    }
    wait(|| alerts.webhook_deliveries() == 1).await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    // Every attempt carries the same alert, each validly signed.
    assert!(seen.iter().all(|r| r.signature_ok));
    assert!(seen.iter().all(|r| r.body == seen[0].body));
    assert_eq!(alerts.webhook_failures(), 0);
}

#[tokio::test]
async fn a_dead_receiver_is_counted_and_holds_up_nothing() {
    let pki = TestPki::new();
    setup(pki.path());
    let live = receiver(&pki, &[]).await;
    let dead = rampart_test_support::backend::closed_port().await;
    let hooks = format!(
        "{}{}",
        webhook(
            &format!("https://localhost:{}/dead", dead.port()),
            &pki.ca_path,
            "retries = 2"
        ),
        webhook(
            &format!("https://localhost:{}/live", live.addr.port()),
            &pki.ca_path,
            ""
        ),
    );
    let config = super::config(&format!("{BURST_RULE}{hooks}"), pki.path()).unwrap();
    let (alerts, emitted) = start(&config);
    for i in 0..5 {
        alerts.observe(&decision("203.0.113.11", "sqli-001", &format!("r{i}")));
    }
    // The live receiver is not held up by the dead one.
    let seen = live.wait_for(1).await;
    assert!(seen[0].signature_ok);
    wait(|| alerts.webhook_failures() == 1).await;
    assert_eq!(emitted.lock().unwrap().len(), 1);
    assert!(
        alerts
            .render_metrics()
            .contains("rampart_alert_webhook_failures_total{tier=\"inner\"} 1")
    );
    // Observing never waits, even far beyond the queue: the overflow is counted.
    let before = alerts.dropped();
    for i in 0..5_000 {
        alerts.observe(&decision("203.0.113.12", "sqli-001", &format!("f{i}")));
    }
    assert!(alerts.dropped() >= before);
}
