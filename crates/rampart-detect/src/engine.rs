//! The engine: compiled rules, shared by every request (`Send + Sync`, cheap to clone),
//! and the per-request [`Scan`] that decodes fields, runs rules and scores hits.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use crate::decode::{self, Budget, Exhaustion};
use crate::field::{Field, FieldKind, Location};
use crate::policy::Policy;
use crate::rules::{self, CompiledRules, Matcher, Rule, RuleError, Transform};

/// Hits kept per request; more add to the score but are not listed.
const MAX_HITS: usize = 32;
/// Up to this many candidate patterns run one by one; more run as one `RegexSet` pass.
const SET_THRESHOLD: usize = 4;
/// Characters of a fragment kept in a hit.
const FRAGMENT_CHARS: usize = 64;

/// A compiled rule set. Clone it freely: clones share the compiled rules.
#[derive(Debug, Clone)]
pub struct Engine {
    rules: Arc<CompiledRules>,
}

impl Engine {
    /// The built-in rules (compiled once per process).
    pub fn builtin() -> Engine {
        static BUILTIN: OnceLock<Engine> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                #[allow(
                    clippy::expect_used,
                    reason = "embedded data; `builtin_rules_compile` tests it"
                )]
                Engine::from_rules(rules::BUILTIN_RULES).expect("built-in rules compile")
            })
            .clone()
    }

    /// The built-in rules plus the rules in `toml_text` (ids must not collide).
    pub fn with_extra_rules(toml_text: &str) -> Result<Engine, RuleError> {
        let mut all = rules::parse(rules::BUILTIN_RULES)?;
        all.extend(rules::parse(toml_text)?);
        Self::compile(all)
    }

    /// Only the rules in `toml_text`.
    pub fn from_rules(toml_text: &str) -> Result<Engine, RuleError> {
        Self::compile(rules::parse(toml_text)?)
    }

    fn compile(all: Vec<Rule>) -> Result<Engine, RuleError> {
        rules::check_unique(&all)?;
        Ok(Engine {
            rules: Arc::new(CompiledRules::new(all)?),
        })
    }

    /// Every rule.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.rules.iter()
    }

    /// Starts scanning one request.
    pub fn scan<'e>(&'e self, policy: &'e Policy, budget: &'e mut Budget) -> Scan<'e> {
        Scan {
            rules: &self.rules,
            policy,
            budget,
            findings: Findings::default(),
            scored: HashSet::new(),
            candidates: Vec::new(),
        }
    }

    /// Scans `fields` of one request.
    pub fn inspect<'f>(
        &self,
        fields: impl IntoIterator<Item = Field<'f>>,
        policy: &Policy,
        budget: &mut Budget,
    ) -> Findings {
        let mut scan = self.scan(policy, budget);
        for f in fields {
            scan.field(&f);
        }
        scan.finish()
    }
}

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule id.
    pub rule_id: String,
    /// The rule's class, e.g. `sqli`.
    pub class: String,
    /// Where, e.g. `query:id`.
    pub location: String,
    /// The decoded fragment that matched, at most 64 characters, escaped for logs.
    pub fragment: String,
    /// The rule's score.
    pub score: u32,
    /// Whether the hit is report-only under the policy.
    pub detect_only: bool,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Sum of the scores of distinct blocking rules that matched.
    pub score: u32,
    /// Hits, one per rule and location, at most 32.
    pub hits: Vec<Hit>,
    /// Set when decoding ran out of budget: some variants were not inspected.
    pub undecided: Option<Exhaustion>,
}

impl Findings {
    /// Whether the blocking hits reach `threshold` (detect-only hits never block).
    pub fn blocks(&self, threshold: u32) -> bool {
        self.score >= threshold
    }

    /// Whether nothing matched and nothing was left undecided.
    pub fn is_clean(&self) -> bool {
        self.hits.is_empty() && self.undecided.is_none()
    }
}

/// A scan in progress: feed it fields (streaming is fine), then [`Scan::finish`].
#[derive(Debug)]
pub struct Scan<'e> {
    rules: &'e CompiledRules,
    policy: &'e Policy,
    budget: &'e mut Budget,
    findings: Findings,
    scored: HashSet<usize>,
    candidates: Vec<bool>,
}

impl Scan<'_> {
    /// Inspects one field.
    pub fn field(&mut self, field: &Field<'_>) {
        let variants = decode::variants(&field.value, field.kind, self.budget);
        let mut hit_here: Vec<usize> = Vec::new();
        for v in &variants {
            self.variant(&v.text, v.kind, &field.location, &mut hit_here);
        }
        if let Some(e) = self.budget.exhausted() {
            self.findings.undecided.get_or_insert(e);
        }
    }

    fn variant(
        &mut self,
        text: &str,
        kind: FieldKind,
        location: &Location<'_>,
        hit_here: &mut Vec<usize>,
    ) {
        let rules = self.rules;
        let kr = &rules.kinds[kind.index()];
        for &ri in &kr.detectors {
            if hit_here.contains(&ri) || !self.applies(ri, location) {
                continue;
            }
            if let Matcher::Detector(d) = &rules.rules[ri].matcher
                && let Some(fragment) = d.detect(text, kind)
            {
                hit_here.push(ri);
                self.record(ri, location, &fragment);
            }
        }
        if kr.sets.iter().all(Option::is_none) {
            return;
        }
        let mut candidates = std::mem::take(&mut self.candidates);
        rules.candidates(text, &mut candidates);
        let mut compact: Option<String> = None;
        // Rules that can match here: literal present (or none declared), right kind, and
        // allowed by the policy. Few candidates run alone; many run as the kind's RegexSet.
        let mut selected: Vec<(usize, usize)> = Vec::new();
        for (t, set) in kr.sets.iter().enumerate() {
            let Some(set) = set else { continue };
            for (pi, &ri) in set.rules.iter().enumerate() {
                let gated = matches!(&rules.rules[ri].matcher, Matcher::Pattern { literals, .. } if !literals.is_empty());
                if (candidates[ri] || !gated)
                    && !hit_here.contains(&ri)
                    && self.applies(ri, location)
                {
                    selected.push((t, pi));
                }
            }
        }
        for t in 0..2 {
            let Some(set) = &kr.sets[t] else { continue };
            let mine: Vec<usize> = selected
                .iter()
                .filter(|(st, _)| *st == t)
                .map(|(_, pi)| *pi)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let subject: &str = if t == 0 {
                text
            } else {
                compact.get_or_insert_with(|| decode::compact(text))
            };
            let matched: Vec<usize> = if mine.len() <= SET_THRESHOLD {
                mine
            } else {
                set.set
                    .matches(subject)
                    .iter()
                    .filter(|pi| mine.contains(pi))
                    .collect()
            };
            for pi in matched {
                let ri = set.rules[pi];
                if let Matcher::Pattern {
                    regex, transform, ..
                } = &rules.rules[ri].matcher
                {
                    debug_assert_eq!(usize::from(*transform == Transform::Compact), t);
                    if let Some(m) = regex.find(subject) {
                        hit_here.push(ri);
                        self.record(ri, location, m.as_str());
                    }
                }
            }
        }
        self.candidates = candidates;
    }

    fn applies(&self, ri: usize, location: &Location<'_>) -> bool {
        let rule = &self.rules.rules[ri];
        self.policy.runs(&rule.id, rule.paranoia)
            && !rule.exclude_locations.iter().any(|p| location.matches(p))
            && !self.policy.excludes(&rule.id, &rule.class, location)
    }

    fn record(&mut self, ri: usize, location: &Location<'_>, fragment: &str) {
        let rule = &self.rules.rules[ri];
        let detect_only = self.policy.detect_only(&rule.id, &rule.class);
        if !detect_only && self.scored.insert(ri) {
            self.findings.score = self.findings.score.saturating_add(rule.score);
        }
        if self.findings.hits.len() < MAX_HITS {
            self.findings.hits.push(Hit {
                rule_id: rule.id.clone(),
                class: rule.class.clone(),
                location: location.to_string(),
                fragment: escape_fragment(fragment),
                score: rule.score,
                detect_only,
            });
        }
    }

    /// Ends the scan.
    pub fn finish(self) -> Findings {
        self.findings
    }
}

/// At most 64 characters, with control characters, quotes and backslashes escaped so a
/// fragment cannot forge log lines.
fn escape_fragment(s: &str) -> String {
    s.chars()
        .take(FRAGMENT_CHARS)
        .flat_map(char::escape_default)
        .collect()
}
