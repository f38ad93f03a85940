//! The inner's report of traffic its OpenAPI contracts do not describe, read from
//! `GET /admin/openapi/undocumented`: undocumented paths (as shapes), methods, query
//! parameters and headers (names only), and response statuses the backend sent that
//! the operation does not document. Viewers may read it; nobody unauthenticated may.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_service::admin::{Role, new_admin_token};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{Collected, collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{admin_call, bins};

/// `GET /orders` documents only 201, so the backend's 200 is an undocumented status.
const SPEC: &str = r#"openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /orders:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer}}
        - {name: X-Tenant, in: header, schema: {type: string}}
      responses:
        201: {description: created}
  /orders/{id}:
    get:
      responses:
        200: {description: ok}
"#;

/// `(status, body)` of one admin GET.
fn admin_get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let reply = admin_call(addr, "GET", path, token, &[], "");
    (reply.status, reply.body)
}

async fn send(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Collected {
    let mut b = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "api.example.test");
    for (name, value) in headers {
        b = b.header(*name, *value);
    }
    collect(
        http1(addr, b.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap(),
    )
    .await
}

fn names(report: &serde_json::Value, kind: &str) -> Vec<(String, String, u64)> {
    report["routes"]["orders"][kind]
        .as_array()
        .unwrap_or_else(|| panic!("no {kind}: {report}"))
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["operation"].as_str().unwrap_or("").to_owned(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inner_reports_traffic_its_contract_does_not_describe() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("orders.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let backend = Backend::start().await;
    let (viewer, viewer_toml) = new_admin_token("watch", Role::Viewer);
    let mut opts = StackOptions::new(backend.url());
    // Report mode: undocumented traffic reaches the backend, so statuses are seen too.
    opts.routes = format!(
        "[[routes]]\nname = \"orders\"\npath_prefix = \"/\"\nupstream = \"app\"\n\
         openapi = {{ spec = {:?}, mode = \"report\" }}\n",
        spec.display().to_string()
    );
    opts.inner_extra = viewer_toml;
    let stack = Stack::start(&bins(), &opts);
    let http = stack.http();

    // Documented: a parameter and a header the operation declares (and ordinary headers).
    let documented = [("x-tenant", "acme"), ("accept", "application/json")];
    assert_eq!(
        send(http, "GET", "/orders?limit=5", &documented)
            .await
            .status,
        200
    );
    // Undocumented parameter and header names; their values must never be stored.
    let extra = [("x-debug-token", "hunter2-header")];
    let got = send(http, "GET", "/orders?limit=5&debug=hunter2-query", &extra).await;
    assert_eq!(got.status, 200);
    // Undocumented paths (ids collapse into one shape) and an undocumented method.
    for id in ["1001", "1002", "1003"] {
        let target = format!("/internal/users/{id}/export?token=hunter2-path");
        assert_eq!(send(http, "GET", &target, &[]).await.status, 200);
    }
    assert_eq!(send(http, "PATCH", "/orders/77", &[]).await.status, 200);
    // Documented path, method and status: nothing new.
    assert_eq!(send(http, "GET", "/orders/77", &[]).await.status, 200);

    let inner_admin = stack.inner.as_ref().unwrap().addr("admin");
    let (status, body) = admin_get(inner_admin, "/admin/openapi/undocumented", Some(&viewer));
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("hunter2"), "values leaked: {body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    let s = |a: &str, b: &str, n| (a.to_owned(), b.to_owned(), n);
    assert_eq!(
        names(&report, "paths"),
        [s("/internal/users/{}/export", "", 3)]
    );
    assert_eq!(names(&report, "methods"), [s("PATCH", "/orders/{}", 1)]);
    assert_eq!(
        names(&report, "parameters"),
        [
            s("header:x-debug-token", "GET /orders", 1),
            s("query:debug", "GET /orders", 1),
        ]
    );
    // The backend's 200 to `GET /orders` (documented: 201); `GET /orders/{id}` is fine.
    // The status is noted as the response head passes, before the client reads it all.
    let deadline = Instant::now() + Duration::from_secs(5);
    let statuses = loop {
        let (_, body) = admin_get(inner_admin, "/admin/openapi/undocumented", Some(&viewer));
        let report: serde_json::Value = serde_json::from_str(&body).unwrap();
        let statuses = names(&report, "status_codes");
        if !statuses.is_empty() || Instant::now() > deadline {
            break statuses;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(statuses, [s("200", "GET /orders", 2)]);

    // Viewer role at least; unauthenticated callers get nothing.
    let (status, body) = admin_get(inner_admin, "/admin/openapi/undocumented", None);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("internal"), "{body}");
}
