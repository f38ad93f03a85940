//! Runtime detect-only switches per detection rule, for `POST /admin/rules/{id}/mode`.
//!
//! An id is a rule id of the engine (`sqli-001`) or a rule class (`sqli`, `xss`); the
//! set is fixed at start, so an unknown id is refused (404) rather than silently kept.
//! A rule switched to `detect` still runs and its hits are audited (action `report`),
//! but its score no longer counts towards blocking, on every route. Switching back to
//! `block` clears the override; it cannot make blocking a rule that a route's own
//! `inspection.detection.detect_only_rules` keeps detect-only (configuration wins).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rampart_core::check::Denial;
use rampart_core::problem::Reason;
use rampart_detect::{Engine, Findings};
use rampart_service::admin::{ActionError, Mode};

/// The switches of every rule id and class of one engine.
#[derive(Debug, Default)]
pub(crate) struct RuleModes {
    detect: HashMap<String, AtomicBool>,
    /// How many switches are on, so the request path skips all work when none is.
    on: AtomicUsize,
}

impl RuleModes {
    /// One switch per rule id and per class of `engine`, all off.
    pub(crate) fn new(engine: &Engine) -> Self {
        let mut detect = HashMap::new();
        for rule in engine.rules() {
            detect.insert(rule.id().to_owned(), AtomicBool::new(false));
            detect.insert(rule.class().to_owned(), AtomicBool::new(false));
        }
        RuleModes {
            detect,
            on: AtomicUsize::new(0),
        }
    }

    /// Switches `id` (rule or class) to `mode`.
    pub(crate) fn set(&self, id: &str, mode: Mode) -> Result<(), ActionError> {
        let Some(switch) = self.detect.get(id) else {
            return Err(ActionError::NotFound(format!(
                "no detection rule or class named {id}"
            )));
        };
        let was = switch.swap(mode == Mode::Detect, Ordering::Relaxed);
        match (was, mode) {
            (false, Mode::Detect) => {
                self.on.fetch_add(1, Ordering::Relaxed);
            }
            (true, Mode::Block) => {
                self.on.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
        Ok(())
    }

    fn is_detect(&self, id: &str) -> bool {
        self.detect
            .get(id)
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Ids switched to detect, sorted (for the tier's status).
    pub(crate) fn overrides(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .detect
            .iter()
            .filter(|(_, s)| s.load(Ordering::Relaxed))
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }

    /// Marks the hits of switched rules detect-only and takes their score out of the
    /// total, the way the engine scores a rule the policy keeps detect-only. Returns
    /// one would-be denial per switched rule that hit, for the audit log.
    pub(crate) fn apply(&self, findings: &mut Findings) -> Vec<Denial> {
        let mut switched = Vec::new();
        if self.on.load(Ordering::Relaxed) == 0 {
            return switched;
        }
        let mut removed = 0u32;
        for hit in &mut findings.hits {
            if hit.detect_only || !(self.is_detect(&hit.rule_id) || self.is_detect(&hit.class)) {
                continue;
            }
            hit.detect_only = true;
            // A rule scores once per request, however many locations it hit.
            if !switched
                .iter()
                .any(|d: &Denial| d.rule.as_deref() == Some(hit.rule_id.as_str()))
            {
                removed = removed.saturating_add(hit.score);
                let mut denial = Denial::new("inspection", Reason::AttackDetected)
                    .with_rule(hit.rule_id.clone())
                    .with_location(hit.location.clone());
                denial.score = Some(hit.score);
                switched.push(denial);
            }
        }
        findings.score = findings.score.saturating_sub(removed);
        switched
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rampart_detect::Hit;

    fn hit(rule: &str, class: &str, location: &str, score: u32) -> Hit {
        Hit {
            rule_id: rule.into(),
            class: class.into(),
            location: location.into(),
            fragment: String::new(),
            score,
            detect_only: false,
        }
    }

    #[test]
    fn switches_known_rules_and_classes_and_refuses_unknown_ids() {
        let engine = Engine::builtin();
        let modes = RuleModes::new(&engine);
        let rule = engine.rules().next().unwrap();
        assert_eq!(modes.set(rule.id(), Mode::Detect), Ok(()));
        assert_eq!(modes.set("sqli", Mode::Detect), Ok(()));
        assert_eq!(modes.set("sqli", Mode::Detect), Ok(()));
        let mut want = vec![rule.id().to_owned(), "sqli".to_owned()];
        want.sort();
        want.dedup();
        assert_eq!(modes.overrides(), want);
        assert!(matches!(
            modes.set("sqli-does-not-exist", Mode::Detect),
            Err(ActionError::NotFound(_))
        ));
        assert!(matches!(
            modes.set("", Mode::Block),
            Err(ActionError::NotFound(_))
        ));
        modes.set(rule.id(), Mode::Block).unwrap();
        modes.set("sqli", Mode::Block).unwrap();
        assert!(modes.overrides().is_empty());
        assert_eq!(modes.on.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn switched_rules_stop_counting_and_others_still_block() {
        let engine = Engine::builtin();
        let modes = RuleModes::new(&engine);
        let findings = Findings {
            score: 10,
            hits: vec![
                hit("sqli-001", "sqli", "query:a", 5),
                hit("sqli-001", "sqli", "query:b", 5),
                hit("xss-001", "xss", "query:c", 5),
            ],
            undecided: None,
        };
        let mut untouched = findings.clone();
        assert!(modes.apply(&mut untouched).is_empty());
        assert_eq!(untouched, findings);

        modes.set("sqli", Mode::Detect).unwrap();
        let mut switched = findings.clone();
        let reported: Vec<_> = modes
            .apply(&mut switched)
            .into_iter()
            .map(|d| (d.rule.unwrap(), d.location.unwrap()))
            .collect();
        assert_eq!(reported, [("sqli-001".to_owned(), "query:a".to_owned())]);
        assert_eq!(switched.score, 5, "sqli-001 counted once, xss still counts");
        let flags: Vec<bool> = switched.hits.iter().map(|h| h.detect_only).collect();
        assert_eq!(flags, [true, true, false]);

        modes.set("xss", Mode::Detect).unwrap();
        let mut both = findings;
        modes.apply(&mut both);
        assert_eq!(both.score, 0);
        assert!(!both.blocks(5));
    }
}
