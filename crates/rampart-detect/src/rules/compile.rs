//! Compiled form of a rule list: per field kind, the detector rules and the pattern rules
//! (one list per transform), gated by an Aho-Corasick automaton over every rule's literals
//! so a clean value usually costs one automaton pass and no regex at all.
//!
//! Each pattern is compiled exactly once, as an ASCII byte regex with bounded program and
//! lazy-DFA cache sizes: per-kind `RegexSet`s of Unicode-aware patterns cost the inner
//! tier ~80 MiB of resident memory for no measurable gain once the literals gate them.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::{Matcher, Rule, RuleError, RuleProblem};
use crate::field::FieldKind;

/// Compiled program size limit of one rule's regex: every built-in pattern fits (the
/// `builtin_rules_compile` test fails when one grows past it), extra rules must too.
const REGEX_SIZE_LIMIT: usize = 1 << 18;
/// Lazy DFA cache capacity of one rule's regex, per thread that uses it.
const REGEX_DFA_LIMIT: usize = 1 << 17;

/// Normalisation applied before a pattern rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    /// The decoded variant as is.
    None,
    /// Lowercased, SQL/HTML comments removed, whitespace collapsed ([`crate::decode::compact`]).
    Compact,
}

/// Compiles one rule pattern: ASCII classes (`\w`, `\s`, `\b`, `(?i)`), bytes in, bounded.
pub(crate) fn build_regex(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
}

#[derive(Debug, Default)]
pub(crate) struct KindRules {
    /// Detector rules targeting this kind (pattern rules are found through the prefilter).
    pub(crate) detectors: Vec<usize>,
}

/// Rules ready to run.
#[derive(Debug)]
pub(crate) struct CompiledRules {
    pub(crate) rules: Vec<Rule>,
    pub(crate) kinds: Vec<KindRules>,
    prefilter: Option<AhoCorasick>,
    /// Rule indices gated by each literal of the prefilter.
    literal_rules: Vec<Vec<usize>>,
    /// Pattern rules without literals: always candidates.
    ungated: Vec<usize>,
    /// Per rule: bit `kind.index()` set when the rule targets that kind.
    kind_bits: Vec<u16>,
}

impl CompiledRules {
    pub(crate) fn new(rules: Vec<Rule>) -> Result<Self, RuleError> {
        let mut literals: Vec<String> = Vec::new();
        let mut literal_rules: Vec<Vec<usize>> = Vec::new();
        for (ri, rule) in rules.iter().enumerate() {
            if let Matcher::Pattern { literals: lits, .. } = &rule.matcher {
                for l in lits {
                    match literals.iter().position(|x| x == l) {
                        Some(p) => literal_rules[p].push(ri),
                        None => {
                            literals.push(l.clone());
                            literal_rules.push(vec![ri]);
                        }
                    }
                }
            }
        }
        let kinds = FieldKind::ALL
            .iter()
            .map(|kind| {
                let mut k = KindRules::default();
                for (ri, rule) in rules.iter().enumerate() {
                    if rule.targets.contains(kind) && matches!(rule.matcher, Matcher::Detector(_)) {
                        k.detectors.push(ri);
                    }
                }
                k
            })
            .collect();
        let prefilter = if literals.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&literals)
                    .map_err(|e| {
                        RuleError::Invalid(vec![RuleProblem {
                            rule: "(set)".to_owned(),
                            key: "literals".to_owned(),
                            message: e.to_string(),
                        }])
                    })?,
            )
        };
        let ungated = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(&r.matcher, Matcher::Pattern { literals, .. } if literals.is_empty()))
            .map(|(i, _)| i)
            .collect();
        let kind_bits = rules
            .iter()
            .map(|r| r.targets.iter().fold(0u16, |b, k| b | 1 << k.index()))
            .collect();
        Ok(CompiledRules {
            ungated,
            kind_bits,
            rules,
            kinds,
            prefilter,
            literal_rules,
        })
    }

    /// Puts in `out` the pattern rules targeting `kind` whose literals occur in `text`
    /// (and those without literals), in rule order, each once.
    pub(crate) fn candidates(&self, text: &[u8], kind: FieldKind, out: &mut Vec<usize>) {
        out.clear();
        let bit = 1u16 << kind.index();
        out.extend(
            self.ungated
                .iter()
                .copied()
                .filter(|&ri| self.kind_bits[ri] & bit != 0),
        );
        if let Some(ac) = &self.prefilter {
            for m in ac.find_overlapping_iter(text) {
                for &ri in &self.literal_rules[m.pattern().as_usize()] {
                    if self.kind_bits[ri] & bit != 0 && !out.contains(&ri) {
                        out.push(ri);
                    }
                }
            }
        }
        out.sort_unstable();
    }
}
