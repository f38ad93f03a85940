//! CPU time (not wall time) of validating the bench's 1 KiB order: on a shared,
//! loaded machine wall-clock benches overstate the cost. Linux only (reads
//! `/proc/thread-self/stat`). Run: `cargo run --release -p rampart-openapi --example cputime`.
#![allow(
    missing_docs,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout
)]

use std::hint::black_box;

use rampart_openapi::{Body, Contract, LoadLimits, Request};

/// User + system CPU seconds of this thread.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[path = "../benches/common/order.rs"]
mod fixture;
use fixture::{SPEC, order};

fn main() {
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
    let n = 200_000u32;
    let t = cpu_seconds();
    for _ in 0..n {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(body.as_bytes())).unwrap());
    }
    let parse = (cpu_seconds() - t) / f64::from(n);
    let t = cpu_seconds();
    for _ in 0..n {
        black_box(contract.check(black_box(&request)));
    }
    let check = (cpu_seconds() - t) / f64::from(n);
    let mbps = |s: f64| body.len() as f64 / s / 1e6;
    println!("body {} bytes", body.len());
    println!(
        "serde_json re-read alone: {:.0} ns/op ({:.0} MB/s)",
        parse * 1e9,
        mbps(parse)
    );
    println!(
        "full check (re-read + validate): {:.0} ns/op ({:.0} MB/s)",
        check * 1e9,
        mbps(check)
    );
}
