//! Policy: paranoia level, blocking threshold, detect-only rules and classes, disabled
//! rules and exclusions by location. Written as TOML (`deny_unknown_fields`), validated
//! against an engine's rules so an unknown rule id or class is reported, not ignored.
//!
//! ```toml
//! paranoia = 1          # 1..=4: higher runs more (and noisier) rules
//! threshold = 5         # block when the anomaly score reaches this
//! detect_only_rules = ["ssrf-001"]
//! detect_only_classes = ["scanner"]
//! disabled_rules = []
//!
//! [[exclusions]]        # these rules or classes do not look at these locations
//! classes = ["sqli"]    # or rules = ["sqli-001"]; neither = every rule
//! locations = ["json:/comment", "header:x-debug-*"]
//! ```

use serde::Deserialize;

use crate::engine::Engine;
use crate::field::Location;

/// Policy as written in configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Paranoia level 1..=4 (default 1).
    pub paranoia: Option<u8>,
    /// Anomaly score at which a request is blocked (default 5).
    pub threshold: Option<u32>,
    /// Rules that report but never count towards blocking.
    #[serde(default)]
    pub detect_only_rules: Vec<String>,
    /// Classes that report but never count towards blocking.
    #[serde(default)]
    pub detect_only_classes: Vec<String>,
    /// Rules that do not run.
    #[serde(default)]
    pub disabled_rules: Vec<String>,
    /// Location exclusions.
    #[serde(default)]
    pub exclusions: Vec<ExclusionConfig>,
}

/// One exclusion as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionConfig {
    /// Rule ids excluded (with `classes` empty too: every rule).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Classes excluded.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Location patterns: `scope:name` exactly, or a prefix ending in `*`.
    pub locations: Vec<String>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    paranoia: u8,
    threshold: u32,
    detect_only_rules: Vec<String>,
    detect_only_classes: Vec<String>,
    disabled_rules: Vec<String>,
    exclusions: Vec<Exclusion>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Exclusion {
    rules: Vec<String>,
    classes: Vec<String>,
    locations: Vec<String>,
}

/// One problem in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Key path, e.g. `exclusions[0].rules`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// A policy that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not valid TOML, or unknown/missing keys.
    #[error("policy is not valid TOML: {0}")]
    Parse(String),
    /// Parsed, but with problems; every one is listed.
    #[error("{}", render(.0))]
    Invalid(Vec<PolicyProblem>),
}

fn render(problems: &[PolicyProblem]) -> String {
    let mut out = format!("{} problem(s) in policy", problems.len());
    for p in problems {
        out.push_str(&format!("\n  {}: {}", p.key, p.message));
    }
    out
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            paranoia: 1,
            threshold: 5,
            detect_only_rules: Vec::new(),
            detect_only_classes: Vec::new(),
            disabled_rules: Vec::new(),
            exclusions: Vec::new(),
        }
    }
}

impl Policy {
    /// Parses and validates a policy against `engine`'s rules.
    pub fn from_toml(text: &str, engine: &Engine) -> Result<Policy, PolicyError> {
        let raw: PolicyConfig =
            toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        Policy::from_config(&raw, engine)
    }

    /// Validates a policy read as part of a larger configuration.
    pub fn from_config(raw: &PolicyConfig, engine: &Engine) -> Result<Policy, PolicyError> {
        let mut problems = Vec::new();
        let mut bad = |key: String, message: String| problems.push(PolicyProblem { key, message });
        let paranoia = raw.paranoia.unwrap_or(1);
        if !(1..=4).contains(&paranoia) {
            bad("paranoia".into(), format!("{paranoia} is not in 1..=4"));
        }
        let threshold = raw.threshold.unwrap_or(5);
        if threshold == 0 {
            bad(
                "threshold".into(),
                "must be at least 1 (0 would block every request)".into(),
            );
        }
        let known_rule = |id: &str| engine.rules().any(|r| r.id() == id);
        let known_class = |c: &str| engine.rules().any(|r| r.class() == c);
        let check_rules = |key: &str, ids: &[String], bad: &mut dyn FnMut(String, String)| {
            for id in ids.iter().filter(|id| !known_rule(id)) {
                bad(key.to_owned(), format!("unknown rule id {id:?}"));
            }
        };
        check_rules("detect_only_rules", &raw.detect_only_rules, &mut bad);
        check_rules("disabled_rules", &raw.disabled_rules, &mut bad);
        for c in raw.detect_only_classes.iter().filter(|c| !known_class(c)) {
            bad("detect_only_classes".into(), format!("unknown class {c:?}"));
        }
        for (i, e) in raw.exclusions.iter().enumerate() {
            check_rules(&format!("exclusions[{i}].rules"), &e.rules, &mut bad);
            for c in e.classes.iter().filter(|c| !known_class(c)) {
                bad(
                    format!("exclusions[{i}].classes"),
                    format!("unknown class {c:?}"),
                );
            }
            if e.locations.is_empty() {
                bad(
                    format!("exclusions[{i}].locations"),
                    "at least one location is required".into(),
                );
            }
            for l in &e.locations {
                if let Err(m) = check_location_pattern(l) {
                    bad(format!("exclusions[{i}].locations"), m);
                }
            }
        }
        if !problems.is_empty() {
            return Err(PolicyError::Invalid(problems));
        }
        Ok(Policy {
            paranoia,
            threshold,
            detect_only_rules: raw.detect_only_rules.clone(),
            detect_only_classes: raw.detect_only_classes.clone(),
            disabled_rules: raw.disabled_rules.clone(),
            exclusions: raw
                .exclusions
                .iter()
                .map(|e| Exclusion {
                    rules: e.rules.clone(),
                    classes: e.classes.clone(),
                    locations: e.locations.clone(),
                })
                .collect(),
        })
    }

    /// The paranoia level.
    pub fn paranoia(&self) -> u8 {
        self.paranoia
    }

    /// The blocking threshold.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// A copy at another paranoia level (1..=4, clamped).
    pub fn with_paranoia(mut self, level: u8) -> Self {
        self.paranoia = level.clamp(1, 4);
        self
    }

    /// Whether a rule runs at all under this policy (paranoia, disabled).
    #[inline]
    pub(crate) fn runs(&self, id: &str, paranoia: u8) -> bool {
        paranoia <= self.paranoia && !self.disabled_rules.iter().any(|r| r == id)
    }

    /// Whether a hit of this rule is report-only.
    pub(crate) fn detect_only(&self, id: &str, class: &str) -> bool {
        self.detect_only_rules.iter().any(|r| r == id)
            || self.detect_only_classes.iter().any(|c| c == class)
    }

    /// Whether `location` is excluded for this rule.
    pub(crate) fn excludes(&self, id: &str, class: &str, location: &Location<'_>) -> bool {
        self.exclusions.iter().any(|e| {
            Self::concerns(e, id, class) && e.locations.iter().any(|p| location.matches(p))
        })
    }

    /// Whether some location may be excluded for this rule.
    pub(crate) fn may_exclude(&self, id: &str, class: &str) -> bool {
        self.exclusions
            .iter()
            .any(|e| Self::concerns(e, id, class) && !e.locations.is_empty())
    }

    fn concerns(e: &Exclusion, id: &str, class: &str) -> bool {
        (e.rules.is_empty() && e.classes.is_empty())
            || e.rules.iter().any(|r| r == id)
            || e.classes.iter().any(|c| c == class)
    }
}

/// Validates a location pattern: `scope`, `scope:name` or either with a trailing `*`.
pub(crate) fn check_location_pattern(p: &str) -> Result<(), String> {
    let body = p.strip_suffix('*').unwrap_or(p);
    let scope = body.split(':').next().unwrap_or("");
    if p.is_empty() || (scope.is_empty() && !p.ends_with('*')) {
        return Err(format!(
            "{p:?} is not a location pattern (e.g. \"query:q\", \"header:x-*\")"
        ));
    }
    if !scope.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        || body[scope.len()..].contains('*')
    {
        return Err(format!(
            "{p:?}: scope must be lowercase and `*` may only end the pattern"
        ));
    }
    Ok(())
}
