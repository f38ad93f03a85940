//! Throughput of the inner's whole request-body inspection on clean JSON (reported, not
//! asserted): strict parse with limits, canonical copy, contract check and schema-aware
//! skipping when a spec is configured, then every key and leaf through the decoders and
//! detectors. The antivirus scan (remote) is not part of it. Times are CPU time of the
//! benchmark thread, so a loaded machine does not inflate them.
//!
//! `RAMPART_BENCH_SIZES=1,16` limits the sizes (KiB) measured.
#![allow(missing_docs, clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group};
use rampart_inner::inspect::bench::BenchRoute;

// One CPU-time measurement for the workspace's parse and inspection benches.
#[path = "../../rampart-parse/benches/common/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;

/// An import API: a batch of orders, user profiles and audit records, with free text.
const SPEC: &str = r##"
openapi: 3.1.0
info: {title: import, version: "1"}
paths:
  /v1/import:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Batch"}
components:
  schemas:
    Batch:
      type: object
      additionalProperties: false
      required: [batch, records]
      properties:
        batch: {type: string, format: uuid}
        source: {type: string, maxLength: 64}
        records:
          type: array
          maxItems: 100000
          items:
            oneOf:
              - {$ref: "#/components/schemas/Order"}
              - {$ref: "#/components/schemas/Profile"}
              - {$ref: "#/components/schemas/Event"}
    Address:
      type: object
      additionalProperties: false
      properties:
        name: {type: string, maxLength: 128}
        street: {type: string, maxLength: 256}
        city: {type: string, maxLength: 128}
        postcode: {type: string, maxLength: 16}
        country: {type: string, enum: [GB, FR, DE, NL, US]}
    Order:
      type: object
      additionalProperties: false
      required: [type, id, customer, items]
      properties:
        type: {const: order}
        id: {type: integer, minimum: 1}
        customer: {type: string, format: uuid}
        email: {type: string, format: email}
        created: {type: string, format: date-time}
        status: {type: string, enum: [open, paid, shipped, cancelled]}
        note: {type: string, maxLength: 1024}
        shipping: {$ref: "#/components/schemas/Address"}
        items:
          type: array
          maxItems: 50
          items:
            type: object
            additionalProperties: false
            required: [sku, quantity]
            properties:
              sku: {type: string, pattern: "^[A-Z]{2}-[0-9]{4}$"}
              quantity: {type: integer, minimum: 1, maximum: 100}
              price: {type: number}
              gift: {type: boolean}
    Profile:
      type: object
      additionalProperties: false
      required: [type, id, username]
      properties:
        type: {const: profile}
        id: {type: integer, minimum: 1}
        username: {type: string, pattern: "^[a-z0-9_]{3,32}$"}
        display_name: {type: string, maxLength: 128}
        email: {type: string, format: email}
        bio: {type: string, maxLength: 2048}
        website: {type: string, format: uri}
        verified: {type: boolean}
        followers: {type: integer, minimum: 0}
        tags: {type: array, maxItems: 20, items: {type: string, maxLength: 32}}
        address: {$ref: "#/components/schemas/Address"}
    Event:
      type: object
      additionalProperties: false
      required: [type, id, at, action]
      properties:
        type: {const: event}
        id: {type: integer, minimum: 1}
        at: {type: string, format: date-time}
        action: {type: string, enum: [login, logout, update, export]}
        actor: {type: string, format: uuid}
        ip: {type: string, format: ipv4}
        latency_ms: {type: number, minimum: 0}
        ok: {type: boolean}
        detail: {type: [string, "null"], maxLength: 512}
"##;

const NOTES: [&str; 4] = [
    "Please leave the parcel with the neighbour at number 12 if nobody answers.",
    "Gift wrap the blue one, and no invoice in the box please. Thanks!",
    "Delivery between 9 and 5 on weekdays; the side gate is usually open.",
    "",
];
const BIOS: [&str; 3] = [
    "Backend engineer in Lyon. I like distributed systems, good coffee and long walks in the Alps.",
    "Product designer, previously at a small studio in Utrecht. Writing about accessibility and type.",
    "Runner, reader, occasional photographer.\nOpinions are my own.",
];
const CITIES: [(&str, &str); 4] = [
    ("Lyon", "FR"),
    ("Utrecht", "NL"),
    ("Leeds", "GB"),
    ("Hamburg", "DE"),
];

fn uuid(i: usize) -> String {
    format!(
        "4f1c2a9e-8a1b-4c2d-9e3f-{:012x}",
        0x0a1b_2c3d_4e5f_usize + i
    )
}

fn address(s: &mut String, i: usize) {
    let (city, country) = CITIES[i % CITIES.len()];
    let _ = write!(
        s,
        r#"{{"name":"Alex Martin {i}","street":"{} Rue de la Republique","city":"{city}","postcode":"{:05}","country":"{country}"}}"#,
        i % 200 + 1,
        10_000 + i % 90_000,
    );
}

fn record(s: &mut String, i: usize) {
    match i % 3 {
        0 => {
            let _ = write!(
                s,
                r#"{{"type":"order","id":{},"customer":"{}","email":"buyer{i}@example.com","created":"2026-11-28T12:{:02}:00Z","status":"paid","note":"{}","shipping":"#,
                i + 1,
                uuid(i),
                i % 60,
                NOTES[i % NOTES.len()],
            );
            address(s, i);
            s.push_str(r#","items":["#);
            for j in 0..(1 + i % 4) {
                if j > 0 {
                    s.push(',');
                }
                let _ = write!(
                    s,
                    r#"{{"sku":"AB-{:04}","quantity":{},"price":{}.99,"gift":{}}}"#,
                    1000 + (i + j) % 9000,
                    1 + j,
                    3 + (i * 7 + j) % 90,
                    j == 1,
                );
            }
            s.push_str("]}");
        }
        1 => {
            let _ = write!(
                s,
                r#"{{"type":"profile","id":{},"username":"user_{i}","display_name":"Sam Taylor {i}","email":"sam.taylor{i}@example.org","bio":"{}","website":"https://example.org/~sam{i}","verified":{},"followers":{},"tags":["rust","design","running"],"address":"#,
                i + 1,
                BIOS[i % BIOS.len()].replace('\n', "\\n"),
                i.is_multiple_of(2),
                i * 13 % 5000,
            );
            address(s, i);
            s.push('}');
        }
        _ => {
            let detail = if i.is_multiple_of(2) {
                r#""exported 42 rows to the weekly report""#
            } else {
                "null"
            };
            let _ = write!(
                s,
                r#"{{"type":"event","id":{},"at":"2026-11-28T08:{:02}:{:02}.120Z","action":"export","actor":"{}","ip":"10.0.{}.{}","latency_ms":{}.5,"ok":true,"detail":{detail}}}"#,
                i + 1,
                i % 60,
                (i * 7) % 60,
                uuid(i),
                i % 250,
                (i * 3) % 250 + 1,
                i % 900,
            );
        }
    }
}

/// A clean import batch of at least `size` bytes (compact, as API clients send).
fn batch_of(size: usize) -> Bytes {
    let mut s = format!(
        r#"{{"batch":"{}","source":"nightly-sync","records":["#,
        uuid(0)
    );
    let mut i = 0;
    while s.len() + 2 < size {
        if i > 0 {
            s.push(',');
        }
        record(&mut s, i);
        i += 1;
    }
    s.push_str("]}");
    Bytes::from(s)
}

fn sizes() -> Vec<usize> {
    match std::env::var("RAMPART_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|k| k.trim().parse::<usize>().ok())
            .map(|k| k << 10)
            .collect(),
        Err(_) => vec![1 << 10, 16 << 10, 1 << 20],
    }
}

fn bench(c: &mut Criterion<CpuTime>) {
    let mut limits = rampart_parse::Limits::default();
    // A 1 MiB batch holds ~40k keys; the defaults (10k) are sized for single requests.
    limits.json.max_keys = 1 << 20;
    limits.json.max_array_len = 1 << 20;
    let routes = [("no-spec", None), ("openapi", Some(SPEC.as_bytes()))];
    let mut group = c.benchmark_group("inspect-json");
    for size in sizes() {
        let body = batch_of(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        if size >= 1 << 20 {
            group.sample_size(20);
        }
        for (label, spec) in routes {
            let route = BenchRoute::new(
                spec,
                limits.clone(),
                "POST",
                "/v1/import",
                "application/json",
            )
            .expect("bench route");
            // A bench of a refused body would measure the wrong path.
            let forwarded = route.screen(&body).expect("clean body passes");
            assert!(forwarded > 0 && forwarded <= body.len());
            let name = format!("{}KiB/{label}", size >> 10);
            group.bench_function(name, |b| {
                b.iter(|| black_box(route.screen(black_box(&body))));
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime::new());
    targets = bench
}

/// `INSPECT_COUNT=<KiB or body file> <n> [openapi]`: inspects one body `n` times outside
/// criterion, for instruction counts under
/// `valgrind --tool=callgrind --toggle-collect='*count_runs*'` (stable on a loaded machine).
fn main() {
    if let Ok(spec) = std::env::var("INSPECT_COUNT") {
        let mut words = spec.split_whitespace();
        let input = words.next().unwrap_or("64");
        let n = words.next().and_then(|n| n.parse().ok()).unwrap_or(100);
        let body = match input.parse::<usize>() {
            Ok(kib) => batch_of(kib << 10),
            Err(_) => Bytes::from(std::fs::read(input).expect("body file")),
        };
        let mut limits = rampart_parse::Limits::default();
        limits.json.max_keys = 1 << 20;
        limits.json.max_array_len = 1 << 20;
        let spec = (words.next() == Some("openapi")).then_some(SPEC.as_bytes());
        let route = BenchRoute::new(spec, limits, "POST", "/v1/import", "application/json")
            .expect("bench route");
        route.screen(&body).expect("clean body passes");
        eprintln!("{} bytes per run", body.len());
        count_runs(&route, &body, n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

#[inline(never)]
fn count_runs(route: &BenchRoute, body: &Bytes, n: usize) {
    for _ in 0..n {
        let _ = black_box(route.screen(black_box(body)));
    }
}
