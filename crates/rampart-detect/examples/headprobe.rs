//! Prints the fields a request target splits into and the hits of screening them, as the
//! edge screens a request head: a development aid for tuning detectors and extraction.
//!
//!     cargo run -p rampart-detect --example headprobe -- '/search?q=1%20or%201=1'
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]
use rampart_detect::{Budget, Engine, Policy, extract};
fn main() {
    let engine = Engine::builtin();
    let policy = Policy::default();
    for arg in std::env::args().skip(1) {
        let uri: http::Uri = arg.parse().unwrap();
        let headers = http::HeaderMap::new();
        let head = extract::head_fields(&uri, &headers);
        for f in &head.fields {
            println!("  {f:?}");
        }
        let mut budget = Budget::default();
        let findings = engine.inspect(head.fields.clone(), &policy, &mut budget);
        println!("{:>3} {:?}", findings.score, arg);
        for h in &findings.hits {
            println!("      {} {:?}", h.rule_id, h.fragment);
        }
    }
}
