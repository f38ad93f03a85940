//! `/metrics` of both tiers after real traffic: parsed with a Prometheus text-format
//! parser, every family present with its labels, counters moved by exactly the traffic
//! sent (allowed, SQL injection, oversized body, rate-limited burst, dead upstream),
//! histograms well formed, and no label carrying a request path or client address.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use prometheus_parse::{Sample, Scrape, Value};
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};

use crate::common::{assert_problem, bins};

/// A path segment no label may ever show.
const MARKER: &str = "m3tr1cs-unique-path";
/// Client addresses (via `X-Forwarded-For`) no label may ever show.
const CLIENTS: &str = "198.51.100.";

const INNER_ROUTES: &str = r#"
[[routes]]
name = "dead"
path_prefix = "/dead"
upstream = "dead"

[[routes]]
name = "api"
path_prefix = "/"
upstream = "app"
"#;

/// Port 1 on loopback refuses connections: the upstream is down from the first try.
const INNER_EXTRA: &str = r#"
[upstreams.dead]
addresses = ["http://127.0.0.1:1"]
connect_timeout = "1s"
passive_cooldown = "10m"
"#;

const EDGE_EXTRA: &str = r#"
[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["127.0.0.0/8"]

[[routes]]
name = "limited"
path_prefix = "/limited"

[rate_limit]
[[rate_limit.policies]]
name = "per-ip"
key = ["client_ip"]
rate = "1/min"
burst = 2
routes = ["limited"]
"#;

fn request(client: &str, method: &str, target: &str, body: &[u8]) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "api.example.test")
        .header("x-forwarded-for", client);
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap()
}

async fn send(stack: &Stack, client: &str, method: &str, target: &str, body: &[u8]) -> u16 {
    let response = http1(stack.http(), request(client, method, target, body))
        .await
        .unwrap();
    collect(response).await.status.as_u16()
}

/// One scrape, parsed.
fn scrape(admin: SocketAddr) -> (String, Scrape) {
    let reply = blocking_get(admin, "/metrics");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or(("", ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let parsed = Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (body.to_owned(), parsed)
}

fn samples<'a>(scrape: &'a Scrape, metric: &str) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .collect()
}

fn scalar(value: &Value) -> f64 {
    match value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The value of the series of `metric` with exactly `labels` (0 when absent).
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(scrape, metric)
        .into_iter()
        .filter(|s| {
            s.labels.len() == labels.len() && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
        })
        .map(|s| scalar(&s.value))
        .collect();
    assert!(found.len() <= 1, "{metric} {labels:?}: {found:?}");
    found.first().copied().unwrap_or(0.0)
}

/// Sum of every series of `metric` whose labels include `labels`.
fn total(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, metric)
        .into_iter()
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| scalar(&s.value))
        .sum()
}

/// Every family in `want` exists with exactly the given label names, `tier` = `tier`.
fn assert_families(scrape: &Scrape, tier: &str, want: &[(&str, &[&str])]) {
    for (metric, labels) in want {
        let found = samples(scrape, metric);
        assert!(!found.is_empty(), "{tier}: no {metric}");
        for s in found {
            let mut names: Vec<&str> = s.labels.keys().map(String::as_str).collect();
            names.sort_unstable();
            let mut expected = labels.to_vec();
            expected.sort_unstable();
            assert_eq!(names, expected, "{tier}: labels of {metric}");
            assert_eq!(s.labels.get("tier"), Some(tier), "{metric}");
        }
    }
}

/// Histograms: buckets cumulative, `+Inf` equal to `_count`; returns count per series.
fn assert_histograms(scrape: &Scrape, metric: &str) -> BTreeMap<String, f64> {
    let mut counts = BTreeMap::new();
    for s in samples(scrape, metric) {
        let Value::Histogram(buckets) = &s.value else {
            panic!("{metric} is not a histogram: {:?}", s.value);
        };
        assert!(buckets.len() > 2, "{metric}: {buckets:?}");
        for pair in buckets.windows(2) {
            assert!(pair[0].less_than < pair[1].less_than, "{metric}: bounds");
            assert!(pair[0].count <= pair[1].count, "{metric}: not cumulative");
        }
        let inf = buckets.last().unwrap();
        assert!(inf.less_than.is_infinite(), "{metric}: last bucket {inf:?}");
        let count_name = format!("{metric}_count");
        let count = samples(scrape, &count_name)
            .into_iter()
            .find(|c| c.labels == s.labels)
            .map(|c| scalar(&c.value))
            .unwrap_or_else(|| panic!("no {count_name} for {}", s.labels));
        assert_eq!(inf.count, count, "{metric} {}: +Inf != count", s.labels);
        let sum_name = format!("{metric}_sum");
        assert!(
            samples(scrape, &sum_name)
                .into_iter()
                .any(|c| c.labels == s.labels && scalar(&c.value) >= 0.0),
            "no {sum_name} for {}",
            s.labels
        );
        counts.insert(s.labels.to_string(), count);
    }
    counts
}

/// No label value of any sample shows a request path or a client address.
fn assert_no_request_data(tier: &str, scrape: &Scrape) {
    for s in &scrape.samples {
        for (name, value) in s.labels.iter() {
            assert!(
                !value.contains(MARKER) && !value.contains(CLIENTS) && !value.contains("/orders"),
                "{tier}: {}{{{name}={value:?}}}",
                s.metric
            );
        }
    }
}

/// Scrapes until `done` holds (the access lines of the last responses are written when
/// their bodies end, just after the client has them), at most a generous while.
fn scrape_until(admin: SocketAddr, done: impl Fn(&Scrape) -> bool) -> (String, Scrape) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (text, parsed) = scrape(admin);
        if done(&parsed) || Instant::now() > deadline {
            return (text, parsed);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

const REQUESTS: &str = "rampart_http_requests_total";
const DENIALS: &str = "rampart_denials_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_tiers_expose_request_denial_latency_health_and_limit_metrics() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.routes = INNER_ROUTES.into();
    opts.inner_extra = INNER_EXTRA.into();
    opts.inner_server_extra = "large_inspections = 3".into();
    opts.edge_extra = EDGE_EXTRA.into();
    opts.edge_max_body = "1KiB";
    let stack = Stack::start(&bins(), &opts);
    let edge_admin = stack.edge.addr("admin");
    let inner = stack.inner.as_ref().unwrap();
    let inner_admin = inner.addr("admin");
    let link = inner.addr("link").to_string();

    // Allowed: three GETs from three clients, each with a path no label may show.
    for i in 1..=3 {
        let target = format!("/orders/{MARKER}-{i}?id={i}");
        let status = send(&stack, &format!("{CLIENTS}{i}"), "GET", &target, b"").await;
        assert_eq!(status, 200, "{target}");
    }
    // SQL injection in a JSON body: refused by the inner tier's inspection.
    let sqli = br#"{"note":"1' UNION SELECT password FROM users--"}"#;
    let response = collect(
        http1(
            stack.http(),
            request(&format!("{CLIENTS}10"), "POST", "/orders", sqli),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_problem(&response, 403, "attack-detected");
    // Its look-alike passes.
    let fine = br#"{"note":"select your plan"}"#;
    let status = send(&stack, &format!("{CLIENTS}11"), "POST", "/orders", fine).await;
    assert_eq!(status, 200);
    // Oversized body: refused by the edge from its Content-Length.
    let big = vec![b'a'; 4096];
    let response = collect(
        http1(
            stack.http(),
            request(&format!("{CLIENTS}12"), "POST", "/orders", &big),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_problem(&response, 413, "body-too-large");
    // A burst of three from one client against a burst of two.
    let burst: Vec<u16> = {
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(send(&stack, &format!("{CLIENTS}20"), "GET", "/limited/x", b"").await);
        }
        out
    };
    assert_eq!(burst, [200, 200, 429]);
    // An upstream that refuses connections.
    let status = send(&stack, &format!("{CLIENTS}30"), "GET", "/dead/x", b"").await;
    assert_eq!(status, 502);

    // Forwarded by the edge: 3 + 2 + 2 (burst) + 1 (dead); refused there: 413, 429.
    let (edge_text, edge) = scrape_until(edge_admin, |s| total(s, REQUESTS, &[]) >= 10.0);
    let (inner_text, inner) = scrape_until(inner_admin, |s| total(s, REQUESTS, &[]) >= 8.0);

    assert_families(
        &edge,
        "edge",
        &[
            (REQUESTS, &["tier", "route", "method", "status"]),
            (DENIALS, &["tier", "check", "rule", "reason", "action"]),
            ("rampart_request_duration_seconds", &["tier", "route"]),
            ("rampart_phase_duration_seconds", &["tier", "phase"]),
            ("rampart_inner_endpoint_up", &["tier", "endpoint"]),
            (
                "rampart_ratelimit_decisions_total",
                &["tier", "policy", "decision"],
            ),
        ],
    );
    assert_families(
        &inner,
        "inner",
        &[
            (REQUESTS, &["tier", "route", "method", "status"]),
            (DENIALS, &["tier", "check", "rule", "reason", "action"]),
            ("rampart_request_duration_seconds", &["tier", "route"]),
            ("rampart_phase_duration_seconds", &["tier", "phase"]),
            ("rampart_upstream_up", &["tier", "upstream"]),
        ],
    );
    // The configured bound on large-body inspections, none waiting.
    assert_eq!(value(&inner, "rampart_inspection_large_slots", &[]), 3.0);
    assert_eq!(value(&inner, "rampart_inspection_large_waiting", &[]), 0.0);

    // Requests, by the route that served them (the inner's name when it answered).
    let edge_requests = [
        ("api", "GET", "200", 5.0),
        ("api", "POST", "403", 1.0),
        ("api", "POST", "200", 1.0),
        ("-", "POST", "413", 1.0),
        ("limited", "GET", "429", 1.0),
        ("dead", "GET", "502", 1.0),
    ];
    for (route, method, status, n) in edge_requests {
        let labels = [
            ("tier", "edge"),
            ("route", route),
            ("method", method),
            ("status", status),
        ];
        assert_eq!(
            value(&edge, REQUESTS, &labels),
            n,
            "edge {labels:?}\n{edge_text}"
        );
    }
    assert_eq!(total(&edge, REQUESTS, &[]), 10.0, "{edge_text}");
    let inner_requests = [
        ("api", "GET", "200", 5.0),
        ("api", "POST", "403", 1.0),
        ("api", "POST", "200", 1.0),
        ("dead", "GET", "502", 1.0),
    ];
    for (route, method, status, n) in inner_requests {
        let labels = [
            ("tier", "inner"),
            ("route", route),
            ("method", method),
            ("status", status),
        ];
        assert_eq!(
            value(&inner, REQUESTS, &labels),
            n,
            "inner {labels:?}\n{inner_text}"
        );
    }
    assert_eq!(total(&inner, REQUESTS, &[]), 8.0, "{inner_text}");

    // Denials: each refusal once, in the tier that refused.
    let limited = [
        ("tier", "edge"),
        ("check", "rate-limit"),
        ("rule", "per-ip"),
        ("reason", "rate-limited"),
        ("action", "block"),
    ];
    assert_eq!(value(&edge, DENIALS, &limited), 1.0, "{edge_text}");
    let too_large = [("reason", "body-too-large"), ("action", "block")];
    assert_eq!(total(&edge, DENIALS, &too_large), 1.0, "{edge_text}");
    assert_eq!(total(&edge, DENIALS, &[]), 2.0, "{edge_text}");
    let attack = [("reason", "attack-detected"), ("action", "block")];
    assert_eq!(total(&inner, DENIALS, &attack), 1.0, "{inner_text}");
    assert_eq!(total(&inner, DENIALS, &[]), 1.0, "{inner_text}");
    let rule = samples(&inner, DENIALS)[0].labels.get("rule").unwrap();
    assert!(!rule.is_empty() && rule != "-", "attack rule id: {rule:?}");

    // Rate-limit decisions of the one policy: two admitted, one refused.
    let decision = |d: &str| {
        value(
            &edge,
            "rampart_ratelimit_decisions_total",
            &[("tier", "edge"), ("policy", "per-ip"), ("decision", d)],
        )
    };
    assert_eq!((decision("allowed"), decision("limited")), (2.0, 1.0));

    // Latency: one observation per finished request; phases as far as each request got.
    let edge_durations = assert_histograms(&edge, "rampart_request_duration_seconds");
    assert_eq!(
        edge_durations.values().sum::<f64>(),
        10.0,
        "{edge_durations:?}"
    );
    let inner_durations = assert_histograms(&inner, "rampart_request_duration_seconds");
    assert_eq!(
        inner_durations.values().sum::<f64>(),
        8.0,
        "{inner_durations:?}"
    );
    let edge_phases = assert_histograms(&edge, "rampart_phase_duration_seconds");
    let inner_phases = assert_histograms(&inner, "rampart_phase_duration_seconds");
    let phase = |counts: &BTreeMap<String, f64>, tier: &str, phase: &str| {
        counts
            .get(&format!("phase=\"{phase}\",tier=\"{tier}\""))
            .copied()
            .unwrap_or(0.0)
    };
    assert_eq!(
        phase(&edge_phases, "edge", "edge_checks"),
        8.0,
        "{edge_phases:?}"
    );
    assert_eq!(phase(&edge_phases, "edge", "edge_to_inner"), 8.0);
    assert_eq!(
        phase(&inner_phases, "inner", "inner_inspection"),
        8.0,
        "{inner_phases:?}"
    );
    // The refused injection never reached a backend.
    assert_eq!(phase(&inner_phases, "inner", "backend"), 7.0);

    // Health: the inner endpoint answers, the dead upstream does not.
    assert_eq!(
        value(
            &edge,
            "rampart_inner_endpoint_up",
            &[("tier", "edge"), ("endpoint", &link)]
        ),
        1.0,
        "{edge_text}"
    );
    let up = |name: &str| {
        value(
            &inner,
            "rampart_upstream_up",
            &[("tier", "inner"), ("upstream", name)],
        )
    };
    assert_eq!((up("app"), up("dead")), (1.0, 0.0), "{inner_text}");

    // What was there before stays: audit and admin counters, TLS on the edge.
    for family in [
        "rampart_audit_records_total",
        "rampart_admin_requests_total",
    ] {
        assert!(!samples(&edge, family).is_empty(), "edge {family}");
        assert!(!samples(&inner, family).is_empty(), "inner {family}");
    }
    assert!(
        edge_text.contains("# TYPE rampart_tls_certificate_expiry_seconds gauge"),
        "{edge_text}"
    );

    assert_no_request_data("edge", &edge);
    assert_no_request_data("inner", &inner);
    // Each tier shows its own series only.
    assert!(!edge_text.contains("tier=\"inner\""), "{edge_text}");
    assert!(!inner_text.contains("tier=\"edge\""), "{inner_text}");
}
