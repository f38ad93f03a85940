//! The whole engine over fuzzed fields: no panic, bounded budget, deterministic and
//! explainable findings (every hit names a field that was scanned).
//!
//! Input: a sequence of fields, each `[kind selector][len hi][len lo][value...]`.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rampart_detect::{Budget, BudgetLimits, Engine, Field, FieldKind, Findings, Location, Policy};

const NAMES: [&str; 4] = ["a", "id", "q", "data"];

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::builtin)
}

fn run(data: &[u8], policy: &Policy, limits: BudgetLimits) -> (Findings, usize) {
    let mut budget = Budget::new(limits);
    let mut scan = engine().scan(policy, &mut budget);
    let mut rest = data;
    while let [selector, hi, lo, tail @ ..] = rest {
        let kind = FieldKind::ALL[usize::from(*selector) % FieldKind::ALL.len()];
        let name = NAMES[usize::from(*selector >> 4) % NAMES.len()];
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        let (raw, next) = tail.split_at(len);
        rest = next;
        scan.field(&Field::new(Location::new("query", name), kind, raw));
    }
    let findings = scan.finish();
    (findings, budget.decoded_bytes())
}

fuzz_target!(|data: &[u8]| {
    let limits = BudgetLimits {
        max_decoded_bytes: 16 << 10,
        ..BudgetLimits::default()
    };
    let policy = Policy::default().with_paranoia(4);
    let (first, used) = run(data, &policy, limits);
    assert!(used <= limits.max_decoded_bytes);
    for hit in &first.hits {
        assert!(
            NAMES.iter().any(|n| hit.location == format!("query:{n}")),
            "hit on a field never scanned: {hit:?}"
        );
        assert!(!hit.rule_id.is_empty());
    }
    let (again, _) = run(data, &policy, limits);
    assert_eq!(first.score, again.score, "scoring is not deterministic");
    assert_eq!(first.hits.len(), again.hits.len());
    assert_eq!(first.undecided, again.undecided);
});
