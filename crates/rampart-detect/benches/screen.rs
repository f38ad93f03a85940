//! Screening throughput: request heads (path, 10 query parameters, cookies, 12 headers),
//! clean and with an attack, and clean JSON leaves, with the full built-in rule set.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_detect::{Budget, Engine, Field, FieldKind, Location, Policy, extract};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";

fn head(query: &str) -> (http::Uri, http::HeaderMap) {
    let uri: http::Uri = format!("/api/v2/catalog/items/8812/reviews?{query}")
        .parse()
        .unwrap();
    let mut h = http::HeaderMap::new();
    for (k, v) in [
        ("host", "shop.example.com"),
        ("user-agent", UA),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.9,de;q=0.8"),
        ("accept-encoding", "gzip, deflate, br"),
        (
            "referer",
            "https://shop.example.com/catalog/items/8812?tab=reviews",
        ),
        (
            "cookie",
            "sid=9f86d081884c7d659a2feaa0c55ad015; theme=dark; consent=analytics%3Dno%26ads%3Dno; cart=3",
        ),
        ("x-request-id", "0b8e7f3c2a1d4e5f9a8b7c6d5e4f3a2b"),
        ("x-client-version", "web/4.18.2"),
        ("sec-fetch-mode", "navigate"),
        (
            "sec-ch-ua",
            "\"Chromium\";v=\"122\", \"Not(A:Brand\";v=\"24\"",
        ),
        ("cache-control", "max-age=0"),
        ("if-none-match", "W/\"5e-1a2b3c\""),
    ] {
        h.insert(k, v.parse().unwrap());
    }
    (uri, h)
}

const CLEAN_QUERY: &str = "page=2&per_page=25&sort=-created_at&lang=en&q=wireless+headphones+with+noise+cancelling&min_price=20&max_price=150.50&brand=acme&in_stock=true&utm_source=newsletter";
const ATTACK_QUERY: &str = "page=2&per_page=25&sort=-created_at&lang=en&q=1%27%20union%20select%20password%20from%20users--&min_price=20&max_price=150.50&brand=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&in_stock=true&utm_source=newsletter";

fn head_bytes(uri: &http::Uri, h: &http::HeaderMap) -> u64 {
    let mut n = uri.to_string().len() + 16;
    for (k, v) in h {
        n += k.as_str().len() + v.len() + 4;
    }
    n as u64
}

fn bench_heads(c: &mut Criterion) {
    let engine = Engine::builtin();
    let policy = Policy::default();
    let mut g = c.benchmark_group("head");
    for (name, query) in [("clean", CLEAN_QUERY), ("attack", ATTACK_QUERY)] {
        let (uri, h) = head(query);
        g.throughput(Throughput::Bytes(head_bytes(&uri, &h)));
        g.bench_function(name, |b| {
            b.iter(|| {
                let fields = extract::head_fields(&uri, &h).fields;
                let mut budget = Budget::default();
                engine.inspect(fields, &policy, &mut budget)
            });
        });
    }
    g.finish();
}

fn bench_json_leaves(c: &mut Criterion) {
    let engine = Engine::builtin();
    let policy = Policy::default();
    let leaves: Vec<(String, String)> = (0..40)
        .map(|i| {
            (
                format!("/items/{i}/description"),
                format!("Item {i}: a sturdy, water-resistant backpack with 2 pockets, rated 4.{i} by 1,20{i} buyers. Ships in 3-5 days."),
            )
        })
        .collect();
    let bytes: usize = leaves.iter().map(|(_, v)| v.len()).sum();
    let mut g = c.benchmark_group("json");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("clean-leaves", |b| {
        b.iter(|| {
            let fields = leaves.iter().map(|(p, v)| {
                Field::new(
                    Location::new("json", p.as_str()),
                    FieldKind::BodyValue,
                    v.as_bytes(),
                )
            });
            engine.inspect(fields, &policy, &mut Budget::default())
        });
    });
    g.finish();
}

criterion_group!(benches, bench_heads, bench_json_leaves);
criterion_main!(benches);
