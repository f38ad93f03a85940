//! Byte gates for pattern rules: from a pattern's syntax tree, a small set of punctuation
//! bytes one of which every match must contain (`['"`]` in `^\s*['"`]\s*or\s`). A value
//! holding none of them cannot match, so the engine skips the regex on the fast path with
//! one test of the value's byte class, where the literals let it through on a common word
//! (`or`, `document`, `_`).
//!
//! Only ASCII punctuation and control bytes gate: letters change case under `(?i)` and
//! the compact transform, and a space stands for any whitespace there. For those bytes,
//! one in a compacted text is one in the text it came from, so the gate holds for both
//! transforms.

use std::collections::BTreeSet;

use regex_syntax::ParserBuilder;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Largest set kept: a wide class gates little and costs a bit per byte.
const MAX_SET: usize = 6;

/// Most sets kept per pattern: each is one more test per candidate rule.
pub(crate) const MAX_SETS: usize = 4;

/// Sets of bytes such that every match of `pattern` (compiled as
/// [`super::compile::build_regex`] does) holds a byte of each set, rarest first; empty
/// when none is found.
pub(crate) fn required_bytes(pattern: &str) -> Vec<BTreeSet<u8>> {
    let Ok(hir) = ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
    else {
        return Vec::new();
    };
    let mut sets = required(&hir);
    sets.sort_by(|a, b| cost(a).cmp(&cost(b)).then_with(|| a.cmp(b)));
    sets.dedup();
    sets.truncate(MAX_SETS);
    sets
}

/// Whether a byte can gate (see the module documentation).
pub(crate) fn gate_byte(b: u8) -> bool {
    b.is_ascii_punctuation() || (b.is_ascii_control() && b != b'\t')
}

/// Sets every match of `hir` holds a byte of (a conjunction of disjunctions).
fn required(hir: &Hir) -> Vec<BTreeSet<u8>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Vec::new(),
        // Every byte of a literal occurs.
        HirKind::Literal(lit) => lit
            .0
            .iter()
            .filter(|b| gate_byte(**b))
            .map(|b| BTreeSet::from([*b]))
            .collect(),
        HirKind::Class(class) => class_bytes(class).into_iter().collect(),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Repetition(_) => Vec::new(),
        HirKind::Capture(cap) => required(&cap.sub),
        // A match holds a match of every part.
        HirKind::Concat(parts) => parts.iter().flat_map(required).collect(),
        // A match holds one branch: the union of one set per branch.
        HirKind::Alternation(branches) => {
            let mut set = BTreeSet::new();
            for b in branches {
                match required(b).into_iter().min_by_key(cost) {
                    Some(s) => set.extend(s),
                    None => return Vec::new(),
                }
            }
            usable(set).into_iter().collect()
        }
    }
}

/// The bytes of a small class of gate bytes.
fn class_bytes(class: &Class) -> Option<BTreeSet<u8>> {
    let mut set = BTreeSet::new();
    match class {
        Class::Bytes(c) => {
            for r in c.ranges() {
                if usize::from(r.end() - r.start()) >= MAX_SET {
                    return None;
                }
                set.extend(r.start()..=r.end());
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                let (lo, hi) = (u32::from(r.start()), u32::from(r.end()));
                if hi - lo >= MAX_SET as u32 || hi > 0x7f {
                    return None;
                }
                set.extend((lo..=hi).filter_map(|c| u8::try_from(c).ok()));
            }
        }
    }
    usable(set)
}

fn usable(set: BTreeSet<u8>) -> Option<BTreeSet<u8>> {
    (!set.is_empty() && set.len() <= MAX_SET && set.iter().all(|b| gate_byte(*b))).then_some(set)
}

/// How often a set lets a legitimate value through, roughly: dots, dashes, slashes,
/// commas, colons and underscores fill ordinary values; quotes and brackets less so.
fn cost(set: &BTreeSet<u8>) -> usize {
    set.iter()
        .map(|b| if b".-/,:_".contains(b) { 8 } else { 1 })
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::required_bytes;

    fn sets(pattern: &str) -> Vec<String> {
        required_bytes(pattern)
            .into_iter()
            .map(|s| s.into_iter().map(char::from).collect())
            .collect()
    }

    #[test]
    fn finds_the_bytes_every_match_holds() {
        // Pattern, the sets found, and a match of it: every set meets the match.
        let table: &[(&str, &[&str], &str)] = &[
            // A required quote class after optional parts.
            (
                r#"(?i)^\s*[\w@.+-]{0,64}['"`]\s*(?:or|and)\s+\w"#,
                &["\"'`"],
                "1' or 1",
            ),
            // Each branch holds one of its own bytes: their union.
            (
                r"(?i)\bdocument\s*\.\s*cookie|\bfromcharcode\s*\(",
                &["(."],
                "String.fromCharCode(88)",
            ),
            // Every required byte, rarest first.
            (
                r"(?i)^\s*https?://[^/?#\s@]*@",
                &["@", "/", ":"],
                "http://good.com@evil.com",
            ),
            (
                r"(?i)(?:^|/)\s*[a-z]\w*_\w*\s*\(\s*\)?\s*$",
                &["(", "_"],
                "phpinfo_x()",
            ),
            // Optional punctuation, letters and whitespace gate nothing.
            (r"(?i)^\s*or\s+-?\d+\s*[-+*/]?\s*$", &[], "or 1"),
            (r"(?i)\bunion\s+select\b", &[], "UNION SELECT"),
            // A branch without a gate byte leaves the whole alternation ungated.
            (r"(?i)'\s*or|\bxor\s+\d", &[], "xor 1"),
            // A wide class is no gate.
            (r"[^a-z]", &[], "1"),
        ];
        for (pattern, want, example) in table {
            assert_eq!(sets(pattern), *want, "{pattern}");
            assert!(regex::Regex::new(pattern).unwrap().is_match(example));
            for set in *want {
                assert!(example.contains(|c| set.contains(c)), "{pattern}: {set}");
            }
        }
    }

    /// A value without the gate bytes passes the regex by (the look-alike), the attack does
    /// not: the built-in quote-`or` rule on prose full of "or".
    #[test]
    fn gates_prose_that_only_shares_a_literal() {
        let engine = crate::Engine::builtin();
        let rules = engine.compiled();
        let ri = rules.rules.iter().position(|r| r.id == "sqli-047").unwrap();
        let gate = rules.gates[ri].unwrap();
        let kind = crate::FieldKind::BodyValue;
        for (text, admitted) in [("' or admin", true), ("orders for the neighbour", false)] {
            let class = rules.classes.classify(text.as_bytes(), kind);
            assert_eq!(gate.admits(class), admitted, "{text}");
        }
    }
}
