//! Screening throughput with the full built-in rule set, in bytes of header/query values
//! per second: request heads as browsers and API clients send them (path, query with ids,
//! dates, emails and tokens, cookies, auth and tracing headers), one with attacks, and the
//! leaves of a realistic JSON document (names, emails, uuids, dates, prices, sentences,
//! base64 blobs) as the inner tier feeds them in.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group};
use rampart_detect::{
    Budget, ClientMemo, Engine, Field, FieldKind, Location, Policy, SharedMemo, extract,
};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";

const BROWSER_HEADERS: &[(&str, &str)] = &[
    ("host", "shop.example.com"),
    ("user-agent", CHROME),
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ),
    ("accept-language", "en-US,en;q=0.9,de;q=0.8"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    (
        "referer",
        "https://shop.example.com/catalog/items/8812?tab=reviews&page=1",
    ),
    (
        "cookie",
        "sid=9f86d081884c7d659a2feaa0c55ad015; theme=dark; _ga=GA1.2.1843920571.1714557600; _gid=GA1.2.20931766.1714557600; consent=analytics%3Dno%26ads%3Dno; cart=3; last_seen=2024-05-01T10%3A00%3A00Z; csrftoken=Xk2pQ9vLmN4rT7wY1zB6cD8eF0gH3jK5",
    ),
    (
        "sec-ch-ua",
        "\"Chromium\";v=\"122\", \"Not(A:Brand\";v=\"24\", \"Google Chrome\";v=\"122\"",
    ),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-site", "same-origin"),
    ("sec-fetch-user", "?1"),
    ("upgrade-insecure-requests", "1"),
    ("cache-control", "max-age=0"),
    ("if-none-match", "W/\"5e-1a2b3c\""),
    ("priority", "u=0, i"),
    ("x-request-id", "0b8e7f3c-2a1d-4e5f-9a8b-7c6d5e4f3a2b"),
];

const API_HEADERS: &[(&str, &str)] = &[
    ("host", "api.example.com"),
    ("user-agent", "python-requests/2.31.0"),
    ("accept", "application/json"),
    ("accept-encoding", "gzip, deflate"),
    ("content-type", "application/json; charset=utf-8"),
    (
        "authorization",
        "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIiwiaWF0IjoxNzE0NTU3NjAwfQ.c2lnbmF0dXJlLWJ5dGVzLWdvLWhlcmU",
    ),
    ("x-api-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("x-request-id", "8f14e45f-ceea-467f-a0e6-3d2c1b0a9f8e"),
    (
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ),
    ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
    ("idempotency-key", "5d41402a-bc4b-2a76-b971-9d911017c592"),
    ("x-client-version", "billing-sync/4.18.2 (build 20240501.3)"),
    ("x-forwarded-for", "203.0.113.7, 10.1.2.3"),
    ("content-length", "348"),
];

const BROWSER_TARGET: &str = "/catalog/search?q=wireless+headphones+with+noise+cancelling&category=audio&page=2&per_page=24&sort=-created_at&min_price=20&max_price=150.50&brand=acme&color=black&in_stock=true&utm_source=newsletter&utm_campaign=spring_sale_2024&fbclid=IwAR2xQ7vK9pL3mN8rT1yZ5bC6dE0fG4hJ";
const API_TARGET: &str = "/v1/customers/8f14e45f-ceea-467f-a0e6-1234567890ab/orders?since=2024-05-01T10%3A00%3A00Z&until=2024-05-31&email=jane.doe%40example.com&status=shipped,delivered&limit=100&cursor=eyJpZCI6MTIzNDUsInRzIjoxNzE0NTU3NjAwfQ&fields=id,total,currency,created_at&expand[]=items";
const ATTACK_TARGET: &str = "/catalog/search?q=1%27%20union%20select%20password%20from%20users--&category=audio&page=2&per_page=24&sort=-created_at&min_price=20&max_price=150.50&brand=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&color=black&in_stock=true&utm_source=newsletter&utm_campaign=spring_sale_2024&fbclid=IwAR2xQ7vK9pL3mN8rT1yZ5bC6dE0fG4hJ";

fn head(target: &str, headers: &[(&'static str, &str)]) -> (http::Uri, http::HeaderMap) {
    let uri: http::Uri = target.parse().unwrap();
    let mut h = http::HeaderMap::new();
    for (k, v) in headers {
        h.append(*k, v.parse().unwrap());
    }
    (uri, h)
}

/// The request-target plus every header name and value: what the edge screens per request.
fn head_bytes(uri: &http::Uri, h: &http::HeaderMap) -> u64 {
    let mut n = uri.to_string().len();
    for (k, v) in h {
        n += k.as_str().len() + v.len();
    }
    n as u64
}

fn bench_heads(c: &mut Criterion) {
    let engine = Engine::builtin();
    let policy = Policy::default();
    let mut g = c.benchmark_group("head");
    for (name, target, headers) in [
        ("browser", BROWSER_TARGET, BROWSER_HEADERS),
        ("api", API_TARGET, API_HEADERS),
        ("attack", ATTACK_TARGET, BROWSER_HEADERS),
    ] {
        let (uri, h) = head(target, headers);
        let findings = engine.inspect(
            extract::head_fields(&uri, &h).fields,
            &policy,
            &mut Budget::default(),
        );
        // A bench of the wrong outcome measures the wrong path.
        assert_eq!(
            findings.blocks(policy.threshold()),
            name == "attack",
            "{name}: {findings:?}"
        );
        g.throughput(Throughput::Bytes(head_bytes(&uri, &h)));
        g.bench_function(name, |b| {
            b.iter(|| {
                let fields = extract::head_fields(&uri, &h).fields;
                let mut budget = Budget::default();
                engine.inspect(fields, &policy, &mut budget)
            });
        });
        // As the edge screens a client's next request on its connection: its capability
        // headers and cookies were seen clean before.
        let (memo, client) = (SharedMemo::new(), ClientMemo::new());
        g.bench_function(format!("{name}-seen-client"), |b| {
            b.iter(|| screen_sharing(&engine, &policy, (&memo, &client), &uri, &h));
        });
        // As the edge screens a new connection's first request: other clients sent the
        // same capability headers before, this client's cookies and headers are new.
        g.bench_function(format!("{name}-new-client"), |b| {
            b.iter(|| screen_sharing(&engine, &policy, (&memo, &ClientMemo::new()), &uri, &h));
        });
    }
    g.finish();
}

/// One head screened with the clean header values and cookies `memos` remember.
fn screen_sharing(
    engine: &Engine,
    policy: &Policy,
    (memo, client): (&SharedMemo, &ClientMemo),
    uri: &http::Uri,
    h: &http::HeaderMap,
) -> usize {
    let fields = extract::head_fields(uri, h).fields;
    engine
        .inspect_for_client(fields, policy, &mut Budget::default(), memo, client)
        .hits
        .len()
}

/// One order document's leaves as (JSON Pointer, kind, value): keys and values alike.
fn order_leaves(i: usize) -> Vec<(String, FieldKind, String)> {
    let values: [(&str, String); 22] = [
        ("id", format!("3fa85f64-5717-4562-b3fc-2c963f66a{i:03}")),
        ("customer/name", "Jane O'Neil-Åström".to_owned()),
        ("customer/email", format!("jane.doe+orders{i}@example.com")),
        ("customer/phone", "+1 (555) 123-4567".to_owned()),
        ("customer/since", "2019-03-14".to_owned()),
        ("created_at", format!("2024-05-{:02}T10:{i:02}:00.000Z", i % 28 + 1)),
        ("status", "shipped".to_owned()),
        ("currency", "EUR".to_owned()),
        ("total", format!("{}.99", 100 + i)),
        ("items/0/sku", format!("BKP-{i:04}-BLK")),
        ("items/0/title", "Trail backpack, 28 L".to_owned()),
        ("items/0/price", "89.50".to_owned()),
        (
            "items/0/description",
            format!(
                "A sturdy, water-resistant backpack with 2 pockets, rated 4.{} by 1,20{} buyers. Ships in 3-5 days.",
                i % 10,
                i % 10
            ),
        ),
        (
            "shipping/address",
            "Kurfürstendamm 21, 10719 Berlin, Germany".to_owned(),
        ),
        (
            "shipping/notes",
            "Please leave the parcel with the neighbour at no. 23 if nobody answers; thanks!".to_owned(),
        ),
        (
            "review",
            "Great fit & finish. The zip feels solid (better than my old one) and it's 100% waterproof so far.".to_owned(),
        ),
        ("tracking_url", format!("https://track.example.com/p/{i}?lang=en")),
        (
            "avatar",
            "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAGXRFWHRTb2Z0d2FyZQBBZG9iZSBJbWFnZVJlYWR5ccllPAAAAk9JREFUeNqkU0toU0EUvfNekmqTmKaNqbUWxKIUi1ZcKCgoVLtzI4Ig+AFx48KVG3HjQheCblwI4k8QBV3oQhAUXIgfEBVRUbG2tWq1tTEmtWlqzPu8N+OZ".to_owned(),
        ),
        ("coupon", "SPRING-SALE_2024".to_owned()),
        ("gift", "false".to_owned()),
        ("weight_kg", "1.25".to_owned()),
        ("locale", "de-DE".to_owned()),
    ];
    let mut out = Vec::new();
    for (path, value) in values {
        let key = path.rsplit('/').next().unwrap_or(path).to_owned();
        out.push((format!("/{path}"), FieldKind::BodyKey, key));
        out.push((format!("/{path}"), FieldKind::BodyValue, value));
    }
    out
}

fn bench_json_leaves(c: &mut Criterion) {
    let engine = Engine::builtin();
    let policy = Policy::default();
    let leaves: Vec<(String, FieldKind, String)> = (0..8).flat_map(order_leaves).collect();
    let fields = || {
        leaves
            .iter()
            .map(|(p, k, v)| Field::new(Location::new("json", p.as_str()), *k, v.as_bytes()))
    };
    let findings = engine.inspect(fields(), &policy, &mut Budget::default());
    assert!(findings.is_clean(), "{findings:?}");
    let bytes: usize = leaves.iter().map(|(_, _, v)| v.len()).sum();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("clean-leaves", |b| {
        b.iter(|| engine.inspect(fields(), &policy, &mut Budget::default()));
    });
    g.finish();
}

criterion_group!(benches, bench_heads, bench_json_leaves);

/// `SCREEN_COUNT=<input> <n>`: runs one input `n` times outside criterion (printing its
/// bytes per run, for instructions per byte), for instruction counts under `valgrind --tool=callgrind --toggle-collect='*count_runs*'` (stable on a
/// loaded machine, unlike wall time).
fn main() {
    if let Ok(spec) = std::env::var("SCREEN_COUNT") {
        let (name, n) = spec.split_once(' ').unwrap_or((spec.as_str(), "1000"));
        // Compiled here so that the counted function holds only the scans.
        let engine = Engine::builtin();
        count_runs(&engine, name, n.parse().unwrap());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

#[inline(never)]
fn count_runs(engine: &Engine, name: &str, n: usize) {
    let policy = Policy::default();
    let mut hits = 0;
    if name == "json" {
        let leaves: Vec<(String, FieldKind, String)> = (0..8).flat_map(order_leaves).collect();
        let bytes: usize = leaves.iter().map(|(_, _, v)| v.len()).sum();
        eprintln!("{name}: {bytes} bytes per run");
        for _ in 0..n {
            let fields = leaves
                .iter()
                .map(|(p, k, v)| Field::new(Location::new("json", p.as_str()), *k, v.as_bytes()));
            hits += engine
                .inspect(fields, &policy, &mut Budget::default())
                .hits
                .len();
        }
    } else {
        let (kind, seen, new) = match (
            name.strip_suffix("-seen-client"),
            name.strip_suffix("-new-client"),
        ) {
            (Some(kind), _) => (kind, true, false),
            (_, Some(kind)) => (kind, false, true),
            _ => (name, false, false),
        };
        let (target, headers) = match kind {
            "api" => (API_TARGET, API_HEADERS),
            "attack" => (ATTACK_TARGET, BROWSER_HEADERS),
            _ => (BROWSER_TARGET, BROWSER_HEADERS),
        };
        let (uri, h) = head(target, headers);
        eprintln!("{name}: {} bytes per run", head_bytes(&uri, &h));
        if seen || new {
            let (memo, client) = (SharedMemo::new(), ClientMemo::new());
            for _ in 0..n {
                let fresh = ClientMemo::new();
                let client = if new { &fresh } else { &client };
                hits += screen_sharing(engine, &policy, (&memo, client), &uri, &h);
            }
            std::hint::black_box(hits);
            return;
        }
        for _ in 0..n {
            let fields = extract::head_fields(&uri, &h).fields;
            hits += engine
                .inspect(fields, &policy, &mut Budget::default())
                .hits
                .len();
        }
    }
    std::hint::black_box(hits);
}
