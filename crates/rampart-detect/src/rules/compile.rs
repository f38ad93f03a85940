//! Compiled form of a rule list: per field kind, the detector rules; for the pattern rules,
//! their literals as a prefilter so a clean value usually costs one pass and no regex at
//! all. Single-byte literals become fast-path bits of the byte classes ([`ByteClasses`]),
//! longer ones and the detectors' declared atoms share one Aho-Corasick automaton.
//!
//! Each pattern is compiled exactly once, as an ASCII byte regex with bounded program and
//! lazy-DFA cache sizes: per-kind `RegexSet`s of Unicode-aware patterns cost the inner
//! tier ~80 MiB of resident memory for no measurable gain once the literals gate them.

use super::literals::Literals;
use super::{Matcher, Rule, RuleError, RuleProblem};
use crate::detect::Detector;
use crate::fastpath::{self, ByteClasses};
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

/// What a prefilter pattern stands for.
#[derive(Debug, Clone)]
enum Atom {
    /// A rule literal: the rules it gates.
    Literal(Vec<usize>),
    /// A detector atom: the detectors' fast-path bits.
    Detector(u64),
}

/// Rules ready to run.
#[derive(Debug)]
pub(crate) struct CompiledRules {
    pub(crate) rules: Vec<Rule>,
    pub(crate) kinds: Vec<KindRules>,
    /// Per kind, the fast-path bits of each byte.
    pub(crate) classes: ByteClasses,
    /// Multi-byte literals and detector atoms, ASCII case-insensitive.
    prefilter: Option<Literals>,
    /// What each prefilter pattern stands for.
    atoms: Vec<Atom>,
    /// Single-byte literals: their fast-path bit and the rules they gate.
    single: Vec<(u64, Vec<usize>)>,
    /// The bits of `single`, ORed.
    single_mask: u64,
    /// Pattern rules without literals: always candidates.
    ungated: Vec<usize>,
    /// Per rule: bit `kind.index()` set when the rule targets that kind.
    kind_bits: Vec<u16>,
}

impl CompiledRules {
    pub(crate) fn new(rules: Vec<Rule>) -> Result<Self, RuleError> {
        // Every literal (lowercased) with the rules it gates, in first-seen order.
        let mut literals: Vec<(String, Vec<usize>)> = Vec::new();
        for (ri, rule) in rules.iter().enumerate() {
            if let Matcher::Pattern { literals: lits, .. } = &rule.matcher {
                for l in lits {
                    match literals.iter_mut().find(|(x, _)| x == l) {
                        Some((_, rs)) => rs.push(ri),
                        None => literals.push((l.clone(), vec![ri])),
                    }
                }
            }
        }
        // Single bytes become fast-path bits while bits last; the rest go to the automaton.
        let mut single = Vec::new();
        let mut literal_bits = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut atoms = Vec::new();
        let mut next_bit = fastpath::DETECTOR_BITS;
        for (l, rs) in literals {
            if let [b] = l.as_bytes()
                && next_bit < fastpath::LITERAL_END
            {
                let bit = 1u64 << next_bit;
                next_bit += 1;
                literal_bits.push((*b, bit));
                single.push((bit, rs));
            } else {
                patterns.push(l);
                atoms.push(Atom::Literal(rs));
            }
        }
        let mut detectors: Vec<Detector> = Vec::new();
        for rule in &rules {
            if let Matcher::Detector(d) = rule.matcher
                && !detectors.contains(&d)
            {
                detectors.push(d);
            }
        }
        for &d in &detectors {
            for a in d.needs().atoms {
                patterns.push(a.to_ascii_lowercase());
                atoms.push(Atom::Detector(fastpath::detector_bit(d)));
            }
        }
        let atom_starts: Vec<u8> = patterns.iter().filter_map(|p| p.bytes().next()).collect();
        let classes = ByteClasses::new(&detectors, &literal_bits, &atom_starts);
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
        let prefilter = if patterns.is_empty() {
            None
        } else {
            Some(Literals::new(&patterns).map_err(|message| {
                RuleError::Invalid(vec![RuleProblem {
                    rule: "(set)".to_owned(),
                    key: "literals".to_owned(),
                    message,
                }])
            })?)
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
        let single_mask = single.iter().fold(0, |m, (b, _)| m | b);
        Ok(CompiledRules {
            single_mask,
            ungated,
            kind_bits,
            rules,
            kinds,
            classes,
            prefilter,
            atoms,
            single,
        })
    }

    /// Puts in `out` the pattern rules targeting `kind` whose literals occur in `text`
    /// (and those without literals), in rule order, each once; `class` is the fast-path
    /// class of `text`. Returns the bits of the detectors whose atoms occur.
    pub(crate) fn candidates(
        &self,
        text: &[u8],
        kind: FieldKind,
        class: u64,
        out: &mut Vec<usize>,
    ) -> u64 {
        out.clear();
        let bit = 1u16 << kind.index();
        let targets = |ri: &usize| self.kind_bits[*ri] & bit != 0;
        out.extend(self.ungated.iter().filter(|ri| targets(ri)));
        // Only the single-byte literals that occur: their bits are consecutive from
        // `DETECTOR_BITS`, in `single` order.
        let mut bits = class & self.single_mask;
        while bits != 0 {
            let i = (bits.trailing_zeros() - fastpath::DETECTOR_BITS) as usize;
            bits &= bits - 1;
            if let Some((_, rs)) = self.single.get(i) {
                out.extend(rs.iter().filter(|ri| targets(ri)));
            }
        }
        let mut detectors = 0;
        if class & fastpath::ATOM_START != 0
            && let Some(ac) = &self.prefilter
        {
            ac.scan(text, |p| match &self.atoms[p] {
                Atom::Literal(rs) => out.extend(rs.iter().filter(|ri| targets(ri))),
                Atom::Detector(b) => detectors |= b,
            });
        }
        out.sort_unstable();
        out.dedup();
        detectors
    }
}
