//! Validating a 1 KiB JSON order against a compiled contract (reported, not asserted).
#![allow(missing_docs, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_openapi::{Body, Contract, LoadLimits, Request};

#[path = "common/order.rs"]
mod fixture;
use fixture::{SPEC, order};

fn validate(c: &mut Criterion) {
    let contract = Contract::from_bytes(SPEC.as_bytes(), &LoadLimits::default()).expect("spec");
    let body = order();
    let headers = http::HeaderMap::new();
    let request = Request {
        method: "POST",
        path: "/orders",
        query: None,
        headers: &headers,
        content_type: Some("application/json"),
        body: Body::Json(body.as_bytes()),
    };
    assert!(contract.check(&request).conforms());
    let mut group = c.benchmark_group("openapi");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("validate_1k_order", |b| {
        b.iter(|| black_box(contract.check(black_box(&request))));
    });
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
