//! Injection detection shared by both Rampart tiers.
//!
//! What it does: turns request parts into [`Field`]s ([`extract`]), decodes each field into
//! the variants a browser or server could see under a per-request [`Budget`] ([`decode`]),
//! runs grammar-aware [`Detector`]s (SQL tokenizer, XSS, shell, traversal, SSRF, log4j...)
//! and regex rules loaded from TOML (a built-in set plus extra rules) over them, and scores
//! the hits against a [`Policy`] (paranoia, threshold, detect-only, exclusions) into
//! [`Findings`]. One pass over each value's bytes decides what can apply to it: decoders,
//! detectors and rule literals each declare the bytes (or atoms) they need, so a value
//! without them skips decoding and those detectors, derived from the rules loaded rather
//! than from a list of known-safe shapes.
//!
//! What it does NOT do: no I/O, no sockets, no async, no body parsing beyond what is found
//! inside a string (the inner tier parses JSON/XML/multipart bodies and feeds the leaves in),
//! no decision on the response: the caller turns [`Findings`] (and a budget running out,
//! `Findings::undecided`) into a verdict.
//!
//! ```
//! use rampart_detect::{Budget, Engine, Field, FieldKind, Location, Policy};
//!
//! let engine = Engine::builtin();
//! let policy = Policy::default();
//! let mut budget = Budget::default();
//! let mut scan = engine.scan(&policy, &mut budget);
//! scan.field(&Field::new(Location::new("query", "id"), FieldKind::QueryValue, b"1%27%20or%20%271%27%3D%271"));
//! scan.field(&Field::new(Location::new("query", "q"), FieldKind::QueryValue, b"select+your+plan"));
//! let findings = scan.finish();
//! assert!(findings.blocks(policy.threshold()));
//! assert_eq!(findings.hits[0].location, "query:id");
//! ```

pub mod decode;
mod detect;
mod engine;
pub mod extract;
mod fastpath;
mod field;
mod policy;
mod rules;

pub use decode::{Budget, BudgetLimits, Exhaustion};
pub use detect::Detector;
pub use engine::{ClientMemo, Engine, Findings, Hit, Scan, SharedMemo};
pub use field::{Field, FieldKind, LazyName, Location};
pub use policy::{ExclusionConfig, Policy, PolicyConfig, PolicyError, PolicyProblem};
pub use rules::{BUILTIN_RULES, Rule, RuleError, RuleProblem};

#[cfg(test)]
mod testing {
    /// One rule matching `evil-marker`, so that which values hit is obvious.
    pub(crate) const MARKER_RULE: &str = r#"
[[rule]]
id = "test-001"
description = "marker"
class = "test"
targets = ["all"]
paranoia = 1
score = 5
pattern = 'evil-marker'
literals = ["evil-marker"]
"#;

    /// One xorshift64 step: the deterministic pseudo-random inputs of the crate's
    /// comparison tests.
    pub(crate) fn xorshift(mut seed: u64) -> u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
