//! Compiled form of a rule list: per field kind, the detector rules and one `RegexSet`
//! per transform, gated by an Aho-Corasick automaton over every rule's literals so a
//! clean value usually costs one automaton pass.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::RegexSet;

use super::{Matcher, Rule, RuleError, RuleProblem};
use crate::field::FieldKind;

/// Normalisation applied before a pattern rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transform {
    /// The decoded variant as is.
    None,
    /// Lowercased, SQL/HTML comments removed, whitespace collapsed ([`crate::decode::compact`]).
    Compact,
}

#[derive(Debug)]
pub(crate) struct PatternSet {
    pub(crate) set: RegexSet,
    /// Rule index of each pattern in `set`.
    pub(crate) rules: Vec<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct KindRules {
    pub(crate) detectors: Vec<usize>,
    /// Index 0: [`Transform::None`], 1: [`Transform::Compact`].
    pub(crate) sets: [Option<PatternSet>; 2],
}

/// Rules ready to run.
#[derive(Debug)]
pub(crate) struct CompiledRules {
    pub(crate) rules: Vec<Rule>,
    pub(crate) kinds: Vec<KindRules>,
    prefilter: Option<AhoCorasick>,
    /// Rule indices gated by each literal of the prefilter.
    literal_rules: Vec<Vec<usize>>,
}

impl CompiledRules {
    pub(crate) fn new(rules: Vec<Rule>) -> Result<Self, RuleError> {
        let mut literals: Vec<String> = Vec::new();
        let mut literal_rules: Vec<Vec<usize>> = Vec::new();
        let mut kinds: Vec<KindRules> = FieldKind::ALL
            .iter()
            .map(|_| KindRules::default())
            .collect();
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
        for kind in FieldKind::ALL {
            let k = &mut kinds[kind.index()];
            for (t, transform) in [Transform::None, Transform::Compact]
                .into_iter()
                .enumerate()
            {
                let mut patterns = Vec::new();
                let mut idx = Vec::new();
                for (ri, rule) in rules.iter().enumerate() {
                    if !rule.targets.contains(&kind) {
                        continue;
                    }
                    if let Matcher::Pattern {
                        regex,
                        transform: rt,
                        ..
                    } = &rule.matcher
                        && *rt == transform
                    {
                        patterns.push(regex.as_str().to_owned());
                        idx.push(ri);
                    }
                }
                if !patterns.is_empty() {
                    let set = regex::RegexSetBuilder::new(&patterns)
                        .size_limit(1 << 26)
                        .dfa_size_limit(1 << 24)
                        .build()
                        .map_err(|e| {
                            RuleError::Invalid(vec![RuleProblem {
                                rule: "(set)".to_owned(),
                                key: "pattern".to_owned(),
                                message: format!("rules for {kind} do not compile together: {e}"),
                            }])
                        })?;
                    k.sets[t] = Some(PatternSet { set, rules: idx });
                }
            }
            k.detectors = rules
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.targets.contains(&kind) && matches!(r.matcher, Matcher::Detector(_))
                })
                .map(|(i, _)| i)
                .collect();
        }
        let prefilter = if literals.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
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
        Ok(CompiledRules {
            rules,
            kinds,
            prefilter,
            literal_rules,
        })
    }

    /// Marks in `out` (one flag per rule) the pattern rules whose literals occur in `text`.
    pub(crate) fn candidates(&self, text: &str, out: &mut Vec<bool>) {
        out.clear();
        out.resize(self.rules.len(), false);
        if let Some(ac) = &self.prefilter {
            for m in ac.find_overlapping_iter(text) {
                for &ri in &self.literal_rules[m.pattern().as_usize()] {
                    out[ri] = true;
                }
            }
        }
    }
}
