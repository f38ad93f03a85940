//! A demo admin listener with synthetic traffic, for looking at the dashboard (and for
//! headless-browser screenshots): `cargo run -p rampart-service --example admin_demo`.
//!
//! It prints a viewer token and serves the admin API on 127.0.0.1 (port from
//! `ADMIN_DEMO_PORT`, else ephemeral). With `ADMIN_DEMO_VIEW_PORT` set it also serves an
//! unauthenticated view of the same listener on that port (it adds the viewer token to
//! each request), so a headless browser can load `/dashboard` without signing in. Never
//! do that outside a demo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rampart_core::Reason;
use rampart_core::check::Denial;
use rampart_core::id::RequestId;
use rampart_service::admin::{
    self, AdminActions, AdminConfig, AdminParts, AdminState, Health, Latency, RawAdminConfig, Role,
    TierStatus,
};
use rampart_service::audit::{Action, AuditConfig, Auditor, Context, Details};

struct Demo {
    requests: AtomicU64,
    denials: AtomicU64,
}

impl AdminActions for Demo {
    fn status(&self) -> TierStatus {
        TierStatus {
            tier: "edge".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config_generation: 7,
            last_reload: Some(admin::ReloadOutcome {
                generation: 7,
                applied: true,
                at: "2026-11-28T08:00:00Z".into(),
                errors: Vec::new(),
                warnings: Vec::new(),
            }),
            ready: true,
            requests_total: self.requests.load(Ordering::Relaxed),
            denials_total: self.denials.load(Ordering::Relaxed),
            health: vec![
                Health {
                    name: "inner:10.0.2.10:7443".into(),
                    healthy: true,
                    detail: String::new(),
                },
                Health {
                    name: "inner:10.0.2.11:7443".into(),
                    healthy: false,
                    detail: "connect timeout".into(),
                },
            ],
            latency_ms: Some(Latency {
                p50: 3.2,
                p90: 7.9,
                p99: 21.4,
            }),
            extra: serde_json::Value::Null,
        }
    }
}

#[tokio::main]
async fn main() {
    let (token, snippet) = admin::new_admin_token("demo", Role::Viewer);
    let doc: toml::Table = toml::from_str(&snippet).unwrap();
    let raw: RawAdminConfig = doc["admin"].clone().try_into().unwrap();
    let mut problems = rampart_core::config::Problems::default();
    let config = AdminConfig::validate("admin", &raw, &mut problems).unwrap();
    let auditor = Auditor::start("edge", &AuditConfig::default()).unwrap();
    let demo = Arc::new(Demo {
        requests: AtomicU64::new(0),
        denials: AtomicU64::new(0),
    });
    let state = AdminState::new(AdminParts {
        tier: "edge",
        ready: Arc::new(|| true),
        metrics: None,
        actions: demo.clone(),
        config,
        auditor: auditor.clone(),
    });
    let port: u16 = std::env::var("ADMIN_DEMO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (_trigger, shutdown) = rampart_service::shutdown::channel();
    tokio::spawn(admin::serve_api(listener, state, None, shutdown));
    println!("admin listener: http://{addr}/dashboard");
    println!("viewer token:   {token}");
    if let Some(view) = std::env::var("ADMIN_DEMO_VIEW_PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
    {
        tokio::spawn(view_proxy(view, addr, token.clone()));
        println!("demo view:      http://127.0.0.1:{view}/dashboard");
    }
    traffic(&demo, &auditor).await;
}

/// Synthetic denials: a few noisy rules on a few routes, some clients more than others.
async fn traffic(demo: &Demo, auditor: &Auditor) {
    let routes = ["orders", "search", "billing", "accounts"];
    let findings = [
        ("screening", "sqli-001", "query:q", Reason::AttackDetected),
        (
            "screening",
            "xss-002",
            "header:referer",
            Reason::AttackDetected,
        ),
        (
            "screening",
            "sqli-001",
            "query:search",
            Reason::AttackDetected,
        ),
        ("rate-limit", "per-ip", "", Reason::RateLimited),
        ("ip-policy", "deny:drop", "", Reason::AddressDenied),
        ("request-limits", "max-body", "", Reason::BodyTooLarge),
    ];
    let pick = |len: usize| rand::random::<u32>() as usize % len;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        demo.requests
            .fetch_add(40 + rand::random::<u64>() % 60, Ordering::Relaxed);
        if pick(3) == 0 {
            continue;
        }
        let (check, rule, location, reason) = findings[pick(findings.len())];
        let id = RequestId::generate();
        let client = format!("203.0.113.{}", [7, 7, 7, 19, 19, 42, 88, 120][pick(8)]);
        let ctx = Context {
            tier: "edge",
            request_id: &id,
            route: routes[pick(routes.len())],
            client: &client,
        };
        let mut denial = Denial::new(check, reason).with_rule(rule);
        if !location.is_empty() {
            denial = denial.with_location(location);
        }
        denial.score = Some(5);
        let action = if pick(5) == 0 {
            Action::Report
        } else {
            demo.denials.fetch_add(1, Ordering::Relaxed);
            Action::Block
        };
        let explanation = [format!("{rule}@{location}: ' or 1=1 --")];
        auditor.record(&ctx, &Details::default(), &denial, action, &explanation);
    }
}

/// Demo only: forwards to the admin listener with the viewer token added.
async fn view_proxy(port: u16, admin: std::net::SocketAddr, token: String) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let token = token.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let token = token.clone();
                    async move {
                        req.headers_mut()
                            .insert("authorization", format!("Bearer {token}").parse().unwrap());
                        let upstream = tokio::net::TcpStream::connect(admin).await.unwrap();
                        let (mut sender, conn) =
                            hyper::client::conn::http1::handshake(TokioIo::new(upstream))
                                .await
                                .unwrap();
                        tokio::spawn(conn);
                        let response = sender.send_request(req).await.unwrap();
                        let response: hyper::Response<BoxBody<Bytes, hyper::Error>> =
                            response.map(|b| b.boxed());
                        Ok::<_, Infallible>(response)
                    }
                },
            );
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
