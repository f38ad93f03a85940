//! Rules as data: a TOML file of rules, each either naming a built-in detector or
//! carrying a regex with the literals that gate it. Parsed raw (`deny_unknown_fields`),
//! validated with every problem reported by rule id and key, then compiled once each
//! behind an Aho-Corasick prefilter over their literals.

mod compile;
mod gate;
mod literals;

use serde::Deserialize;

use crate::detect::Detector;
use crate::field::FieldKind;

pub(crate) use compile::{CompiledRules, Transform};

/// The built-in rule set.
pub const BUILTIN_RULES: &str = include_str!("builtin.toml");

/// A rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRules {
    #[serde(default)]
    rule: Vec<RawRule>,
}

/// One rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    description: String,
    class: String,
    targets: Vec<String>,
    paranoia: u8,
    score: u32,
    detector: Option<String>,
    pattern: Option<String>,
    #[serde(default)]
    literals: Vec<String>,
    transform: Option<String>,
    #[serde(default)]
    exclude_locations: Vec<String>,
    #[serde(default)]
    name_suffixes: Vec<String>,
    #[serde(default)]
    cross_site: bool,
    #[serde(default)]
    top_level_names: bool,
}

/// How a rule matches.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Detector(Detector),
    Pattern {
        regex: regex::bytes::Regex,
        literals: Vec<String>,
        transform: Transform,
    },
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) class: String,
    pub(crate) targets: Vec<FieldKind>,
    pub(crate) paranoia: u8,
    pub(crate) score: u32,
    pub(crate) matcher: Matcher,
    pub(crate) exclude_locations: Vec<String>,
    /// When not empty, the rule runs only where the location's name ends with one of
    /// these (lowercased; compared ASCII case-insensitively): an XML attribute by name.
    pub(crate) name_suffixes: Vec<String>,
    /// When set, a hit counts only if the request did not come from its own site: a
    /// `Referer` whose host is the request's `Host` clears it (session fixation is a link
    /// planted elsewhere; an application rewriting its own URLs links from itself).
    pub(crate) cross_site: bool,
    /// When set, names found inside a value (the keys of form data or JSON carried in a
    /// string) are not inspected: the rule is about the parameters the request names.
    pub(crate) top_level_names: bool,
}

impl Rule {
    /// The rule id, e.g. `sqli-001`.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// What the rule detects.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The attack class, e.g. `sqli`.
    pub fn class(&self) -> &str {
        &self.class
    }
    /// The field kinds it inspects.
    pub fn targets(&self) -> &[FieldKind] {
        &self.targets
    }
    /// Lowest paranoia level at which it runs (1..=4).
    pub fn paranoia(&self) -> u8 {
        self.paranoia
    }
    /// Anomaly score of a hit.
    pub fn score(&self) -> u32 {
        self.score
    }
}

/// One problem in a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The rule id (or `rule[N]` when the id itself is missing or bad).
    pub rule: String,
    /// The key, e.g. `pattern`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// Not valid TOML, or unknown/missing keys.
    #[error("rules are not valid TOML: {0}")]
    Parse(String),
    /// Parsed, but some rules are invalid; every problem is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<RuleProblem>),
}

fn render(problems: &[RuleProblem]) -> String {
    let mut out = format!("{} problem(s) in rules", problems.len());
    for p in problems {
        out.push_str(&format!("\n  rule {}: {}: {}", p.rule, p.key, p.message));
    }
    out
}

/// Parses and validates a rules file.
pub(crate) fn parse(toml_text: &str) -> Result<Vec<Rule>, RuleError> {
    let raw: RawRules = toml::from_str(toml_text).map_err(|e| RuleError::Parse(e.to_string()))?;
    let mut problems = Vec::new();
    let mut rules = Vec::new();
    for (i, r) in raw.rule.into_iter().enumerate() {
        let mut bad = |key: &str, message: String, id: &str| {
            problems.push(RuleProblem {
                rule: if id.is_empty() {
                    format!("rule[{i}]")
                } else {
                    id.to_owned()
                },
                key: key.to_owned(),
                message,
            });
        };
        let id_ok = !r.id.is_empty()
            && r.id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let id = if id_ok { r.id.as_str() } else { "" };
        if !id_ok {
            bad(
                "id",
                format!("{:?} is not a rule id (letters, digits, '-', '_')", r.id),
                id,
            );
        }
        if r.class.is_empty()
            || !r
                .class
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bad(
                "class",
                format!("{:?} must be lowercase letters, digits and '-'", r.class),
                id,
            );
        }
        if !(1..=4).contains(&r.paranoia) {
            bad("paranoia", format!("{} is not in 1..=4", r.paranoia), id);
        }
        if r.score == 0 || r.score > 100 {
            bad("score", format!("{} is not in 1..=100", r.score), id);
        }
        let mut targets = Vec::new();
        for t in &r.targets {
            match FieldKind::parse_group(t) {
                Some(kinds) => {
                    for k in kinds {
                        if !targets.contains(k) {
                            targets.push(*k);
                        }
                    }
                }
                None => bad("targets", format!("unknown target {t:?}"), id),
            }
        }
        if r.targets.is_empty() {
            bad("targets", "at least one target is required".to_owned(), id);
        }
        if r.name_suffixes.iter().any(String::is_empty) {
            bad("name_suffixes", "a suffix must not be empty".to_owned(), id);
        }
        for l in &r.exclude_locations {
            if let Err(m) = crate::policy::check_location_pattern(l) {
                bad("exclude_locations", m, id);
            }
        }
        let transform = match r.transform.as_deref() {
            None | Some("none") => Some(Transform::None),
            Some("compact") => Some(Transform::Compact),
            Some(other) => {
                bad(
                    "transform",
                    format!("unknown transform {other:?} (none, compact)"),
                    id,
                );
                None
            }
        };
        let matcher = match (&r.detector, &r.pattern) {
            (Some(d), None) => match Detector::from_name(d) {
                Some(d) => Some(Matcher::Detector(d)),
                None => {
                    bad("detector", format!("unknown detector {d:?}"), id);
                    None
                }
            },
            (None, Some(p)) => {
                if r.literals.iter().any(|l| l.is_empty()) {
                    bad("literals", "empty literal".to_owned(), id);
                }
                match compile::build_regex(p) {
                    Ok(regex) => Some(Matcher::Pattern {
                        regex,
                        literals: r.literals.iter().map(|l| l.to_ascii_lowercase()).collect(),
                        transform: transform.unwrap_or(Transform::None),
                    }),
                    Err(e) => {
                        bad("pattern", format!("invalid regex: {e}"), id);
                        None
                    }
                }
            }
            _ => {
                bad(
                    "detector",
                    "exactly one of `detector` and `pattern` is required".to_owned(),
                    id,
                );
                None
            }
        };
        if let (Some(matcher), true) = (matcher, id_ok) {
            rules.push(Rule {
                id: r.id,
                description: r.description,
                class: r.class,
                targets,
                paranoia: r.paranoia,
                score: r.score,
                matcher,
                exclude_locations: r.exclude_locations,
                name_suffixes: r
                    .name_suffixes
                    .iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect(),
                cross_site: r.cross_site,
                top_level_names: r.top_level_names,
            });
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(RuleError::Invalid(problems))
    }
}

/// Rejects duplicate ids across `rules`.
pub(crate) fn check_unique(rules: &[Rule]) -> Result<(), RuleError> {
    let mut seen = std::collections::HashSet::new();
    let problems: Vec<RuleProblem> = rules
        .iter()
        .filter(|r| !seen.insert(r.id.as_str()))
        .map(|r| RuleProblem {
            rule: r.id.clone(),
            key: "id".to_owned(),
            message: "duplicate rule id".to_owned(),
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RuleError::Invalid(problems))
    }
}
