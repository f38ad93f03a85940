//! Prints the hits of each argument screened as a query value (or the kind named by
//! `KIND=body-value` etc.): a development aid for tuning detectors.
//!
//!     cargo run -p rampart-detect --example probe -- "1 or 1=1" "O'Reilly"
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use rampart_detect::{Budget, Engine, Field, FieldKind, Location, Policy};

fn main() {
    let kind_name = std::env::var("KIND").unwrap_or_else(|_| "query-value".to_owned());
    let kind = FieldKind::ALL
        .into_iter()
        .find(|k| k.name() == kind_name)
        .unwrap_or(FieldKind::QueryValue);
    // `SCOPE=claims` screens as a JWT's claims segment is, `SCOPE=header` as a header.
    let scope: &'static str =
        String::leak(std::env::var("SCOPE").unwrap_or_else(|_| "probe".to_owned()));
    let engine = Engine::builtin();
    let policy = Policy::default();
    for arg in std::env::args().skip(1) {
        let mut budget = Budget::default();
        let field = Field::new(Location::new(scope, "v"), kind, arg.as_bytes());
        let findings = engine.inspect([field], &policy, &mut budget);
        println!("{:>3} {:?}", findings.score, arg);
        for h in &findings.hits {
            println!("      {} {:?}", h.rule_id, h.fragment);
        }
        if let Some(limit) = findings.undecided {
            println!("      undecided: {limit}");
        }
    }
}
