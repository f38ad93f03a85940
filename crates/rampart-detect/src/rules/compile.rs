//! Compiled form of a rule list: per field kind, the detector rules; for the pattern rules,
//! their literals as a prefilter so a clean value usually costs one pass and no regex at
//! all. Single-byte literals become fast-path bits of the byte classes ([`ByteClasses`]),
//! longer ones and the detectors' declared atoms share one Aho-Corasick automaton.
//!
//! Each pattern is compiled exactly once, as an ASCII byte regex with bounded program and
//! lazy-DFA cache sizes: per-kind `RegexSet`s of Unicode-aware patterns cost the inner
//! tier ~80 MiB of resident memory for no measurable gain once the literals gate them.

use super::gate;
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

/// The rules of one field kind, filtered once so a value pays nothing for rules that do
/// not target its kind.
#[derive(Debug, Default)]
pub(crate) struct KindRules {
    /// Detector rules targeting this kind (pattern rules are found through the prefilter).
    detectors: Vec<DetectorRule>,
    /// Per detector bit, the positions in `detectors` of the rules it gates, and the
    /// positions of those never skipped: the rules a value can trigger are then found
    /// without visiting the others. `None` past 64 detector rules.
    positions: Option<([u64; fastpath::DETECTOR_BITS as usize], u64)>,
    /// Pattern rules without literals: always candidates.
    ungated: Vec<usize>,
    /// Per single-byte literal (in the order of their fast-path bits), the rules it gates.
    single: Vec<Vec<usize>>,
    /// Per prefilter pattern, the rules it gates (empty for a detector atom).
    atoms: Vec<Vec<usize>>,
}

/// A detector rule with its fast-path bit (0: never skipped).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DetectorRule {
    pub(crate) rule: usize,
    pub(crate) detector: Detector,
    pub(crate) bit: u64,
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
    /// The detector bits of each prefilter pattern (0 for a rule literal).
    atom_detectors: Vec<u64>,
    /// The bits of the single-byte literals, ORed; bit `DETECTOR_BITS + i` stands for
    /// the `i`th (`KindRules::single`).
    single_mask: u64,
    /// Per rule, its byte gate ([`gate`]): a pattern rule runs only on a value whose class
    /// the gate admits.
    pub(crate) gates: Vec<Option<Gate>>,
}

/// Per rule, the masks of its byte gate, and the (byte, bit) pairs of the gate bytes that
/// are not single-byte literals (which have a bit already), on the bits from `next_bit`
/// to [`fastpath::LITERAL_END`]. A set with a byte left without a bit is dropped: fewer
/// sets only gate less.
fn byte_gates(
    rules: &[Rule],
    literal_bits: &[(u8, u64)],
    mut next_bit: u32,
) -> (Vec<Option<Gate>>, Vec<(u8, u64)>) {
    let mut bits: Vec<(u8, u64)> = literal_bits.to_vec();
    let mut added = Vec::new();
    let mut bit_of = |b: u8| {
        if let Some((_, bit)) = bits.iter().find(|(x, _)| *x == b) {
            return Some(*bit);
        }
        (next_bit < fastpath::LITERAL_END).then(|| {
            let bit = 1u64 << next_bit;
            next_bit += 1;
            bits.push((b, bit));
            added.push((b, bit));
            bit
        })
    };
    let gates = rules
        .iter()
        .map(|rule| {
            let Matcher::Pattern { regex, .. } = &rule.matcher else {
                return None;
            };
            let masks: Vec<u64> = gate::required_bytes(regex.as_str())
                .into_iter()
                .filter_map(|set| set.into_iter().try_fold(0, |m, b| Some(m | bit_of(b)?)))
                .collect();
            let first = *masks.first()?;
            // Unused slots repeat the first mask, so the test has no branch.
            let mut gate = Gate([first; gate::MAX_SETS]);
            for (slot, mask) in gate.0.iter_mut().zip(masks) {
                *slot = mask;
            }
            Some(gate)
        })
        .collect();
    (gates, added)
}

/// Fast-path masks of a pattern rule's byte gate: a value can match only if its class
/// meets every mask.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate([u64; gate::MAX_SETS]);

impl Gate {
    /// Whether a value of fast-path class `class` may match.
    #[inline]
    pub(crate) fn admits(&self, class: u64) -> bool {
        self.0.iter().fold(true, |ok, &m| ok & (class & m != 0))
    }
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
        let (gates, gate_bits) = byte_gates(&rules, &literal_bits, next_bit);
        let byte_bits = [literal_bits.as_slice(), &gate_bits].concat();
        let classes = ByteClasses::new(&detectors, &byte_bits, &atom_starts);
        let kinds = FieldKind::ALL
            .iter()
            .map(|&kind| KindRules::new(&rules, kind, &single, &atoms))
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
        let single_mask = single.iter().fold(0, |m, (b, _)| m | b);
        let atom_detectors = atoms
            .iter()
            .map(|a| match a {
                Atom::Literal(_) => 0,
                Atom::Detector(b) => *b,
            })
            .collect();
        Ok(CompiledRules {
            gates,
            single_mask,
            rules,
            kinds,
            classes,
            prefilter,
            atom_detectors,
        })
    }

    /// Puts in `out` the pattern rules targeting `kind` whose literals occur in `text`
    /// (and those without literals), in rule order, each once; `class` is the fast-path
    /// class of `text`. Returns the bits of the detectors whose atoms occur.
    #[inline]
    pub(crate) fn candidates(
        &self,
        text: &[u8],
        kind: FieldKind,
        class: u64,
        out: &mut Vec<usize>,
    ) -> u64 {
        out.clear();
        let k = &self.kinds[kind.index()];
        out.extend_from_slice(&k.ungated);
        // Only the single-byte literals that occur: their bits are consecutive from
        // `DETECTOR_BITS`, in `single` order.
        let mut bits = class & self.single_mask;
        while bits != 0 {
            let i = (bits.trailing_zeros() - fastpath::DETECTOR_BITS) as usize;
            bits &= bits - 1;
            if let Some(rs) = k.single.get(i) {
                out.extend_from_slice(rs);
            }
        }
        let mut detectors = 0;
        if class & fastpath::ATOM_START != 0
            && let Some(ac) = &self.prefilter
        {
            ac.scan(text, |p| {
                if let Some(rs) = k.atoms.get(p) {
                    out.extend_from_slice(rs);
                }
                detectors |= self.atom_detectors.get(p).copied().unwrap_or(0);
            });
        }
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        detectors
    }
}

impl KindRules {
    /// The detector rules whose fast-path bit is in `live` (or that have none), in rule
    /// order.
    pub(crate) fn live_detectors(&self, live: u64) -> LiveDetectors<'_> {
        let mask = self.positions.as_ref().map(|(by_bit, always)| {
            let mut mask = *always;
            let mut bits = live;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                match by_bit.get(i) {
                    Some(m) => mask |= m,
                    None => break,
                }
            }
            mask
        });
        LiveDetectors {
            rules: &self.detectors,
            live,
            mask,
            next: 0,
        }
    }

    fn new(rules: &[Rule], kind: FieldKind, single: &[(u64, Vec<usize>)], atoms: &[Atom]) -> Self {
        let targets = |ri: &usize| rules.get(*ri).is_some_and(|r| r.targets.contains(&kind));
        let only = |rs: &[usize]| rs.iter().copied().filter(targets).collect::<Vec<_>>();
        let detectors = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.targets.contains(&kind))
            .filter_map(|(rule, r)| match r.matcher {
                Matcher::Detector(detector) => Some(DetectorRule {
                    rule,
                    detector,
                    bit: fastpath::detector_bit(detector),
                }),
                Matcher::Pattern { .. } => None,
            })
            .collect::<Vec<DetectorRule>>();
        let ungated = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.targets.contains(&kind))
            .filter(|(_, r)| matches!(&r.matcher, Matcher::Pattern { literals, .. } if literals.is_empty()))
            .map(|(i, _)| i)
            .collect();
        let positions = (detectors.len() <= 64).then(|| {
            let mut by_bit = [0u64; fastpath::DETECTOR_BITS as usize];
            let mut always = 0;
            for (i, d) in detectors.iter().enumerate() {
                match by_bit.get_mut(d.bit.trailing_zeros() as usize) {
                    Some(m) if d.bit != 0 => *m |= 1 << i,
                    _ => always |= 1 << i,
                }
            }
            (by_bit, always)
        });
        KindRules {
            detectors,
            positions,
            ungated,
            single: single.iter().map(|(_, rs)| only(rs)).collect(),
            atoms: atoms
                .iter()
                .map(|a| match a {
                    Atom::Literal(rs) => only(rs),
                    Atom::Detector(_) => Vec::new(),
                })
                .collect(),
        }
    }
}

/// Iterator of [`KindRules::live_detectors`].
#[derive(Debug)]
pub(crate) struct LiveDetectors<'k> {
    rules: &'k [DetectorRule],
    live: u64,
    /// Positions left to visit; `None`: visit every rule and test its bit.
    mask: Option<u64>,
    next: usize,
}

impl<'k> Iterator for LiveDetectors<'k> {
    type Item = &'k DetectorRule;

    fn next(&mut self) -> Option<&'k DetectorRule> {
        match &mut self.mask {
            Some(mask) => {
                if *mask == 0 {
                    return None;
                }
                let i = mask.trailing_zeros() as usize;
                *mask &= *mask - 1;
                self.rules.get(i)
            }
            None => {
                let live = self.live;
                let rest = self.rules.get(self.next..)?;
                let k = rest.iter().position(|d| d.bit == 0 || live & d.bit != 0)?;
                self.next += k + 1;
                rest.get(k)
            }
        }
    }
}
