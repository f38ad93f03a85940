//! Counts, per rule, the legitimate values it fires on: a false-positive check set of
//! prose and code (`tools/prose_values.py` collects one from the machine).
//!
//!     python3 tools/prose_values.py > /tmp/prose.jsonl
//!     cargo run --release -p rampart-detect --example prose -- /tmp/prose.jsonl [paranoia] [show-rule]
//!
//! Each line is a JSON string, screened as one field of the kind named by `KIND`
//! (`body-value` unless told). `show-rule` prints the values a rule whose id starts with it
//! fires on.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::collections::BTreeMap;
use std::io::BufRead;

use rampart_detect::{Budget, Engine, Field, FieldKind, Location, Policy};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/tmp/prose.jsonl".to_owned());
    let paranoia: u8 = args.next().and_then(|p| p.parse().ok()).unwrap_or(1);
    let show = args.next();
    let kind_name = std::env::var("KIND").unwrap_or_else(|_| "body-value".to_owned());
    let kind = FieldKind::ALL
        .into_iter()
        .find(|k| k.name() == kind_name)
        .unwrap_or(FieldKind::BodyValue);
    let engine = Engine::builtin();
    let policy = Policy::default().with_paranoia(paranoia);
    let file = std::fs::File::open(&path).expect("prose file");
    let (mut total, mut blocked) = (0u32, 0u32);
    let mut per_rule: BTreeMap<String, u32> = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap();
        let Ok(serde_json::Value::String(value)) = serde_json::from_str(&line) else {
            continue;
        };
        total += 1;
        let mut budget = Budget::default();
        let field = Field::new(Location::new("prose", "v"), kind, value.as_bytes());
        let findings = engine.inspect([field], &policy, &mut budget);
        if findings.blocks(policy.threshold()) {
            blocked += 1;
        }
        for h in &findings.hits {
            *per_rule.entry(h.rule_id.clone()).or_default() += 1;
            if show.as_deref().is_some_and(|s| h.rule_id.starts_with(s)) {
                let shown: String = value.chars().take(200).collect();
                println!("{} {:?} in {:?}", h.rule_id, h.fragment, shown);
            }
        }
    }
    println!("values {total}, blocked {blocked}");
    for (rule, n) in &per_rule {
        println!("{rule:<12} {n:>6}");
    }
}
