//! The ordered list of checks for one phase, with per-check fail and enforcement modes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::Poll;

use crate::check::{Check, CheckError, Denial, Verdict};
use crate::phase::Phase;
use crate::problem::Reason;

/// What happens when a check cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Refuse the request with 503 (the default: nothing uninspected passes).
    #[default]
    Close,
    /// Let the request continue and log that it was not inspected.
    Open,
}

/// Whether a check's denials are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Enforcement {
    /// Denials refuse the request.
    #[default]
    Block,
    /// Denials are only reported (tuning false positives without weakening others).
    DetectOnly,
}

/// One check with its modes.
pub struct Stage<P: Phase> {
    check: Arc<dyn Check<P>>,
    fail: FailMode,
    enforcement: Enforcement,
}

impl<P: Phase> Stage<P> {
    /// A stage that blocks and fails closed.
    pub fn new(check: Arc<dyn Check<P>>) -> Self {
        Self {
            check,
            fail: FailMode::Close,
            enforcement: Enforcement::Block,
        }
    }

    /// Sets the fail mode.
    pub fn fail(mut self, fail: FailMode) -> Self {
        self.fail = fail;
        self
    }

    /// Sets the enforcement mode.
    pub fn enforcement(mut self, enforcement: Enforcement) -> Self {
        self.enforcement = enforcement;
        self
    }
}

/// Something the pipeline saw that did not stop the request, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A detect-only check would have denied.
    WouldDeny(Denial),
    /// A fail-open check could not decide and was skipped.
    Skipped {
        /// The check.
        check: &'static str,
        /// Why it could not decide.
        error: CheckError,
    },
}

/// The result of running a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `Allow` when every enforced check allowed, else the first denial.
    pub verdict: Verdict,
    /// What happened without stopping the request.
    pub observations: Vec<Observation>,
}

/// The checks of one phase, run in order; the first enforced denial stops the run.
pub struct Pipeline<P: Phase> {
    stages: Vec<Stage<P>>,
}

impl<P: Phase> Default for Pipeline<P> {
    fn default() -> Self {
        Self { stages: Vec::new() }
    }
}

impl<P: Phase> Pipeline<P> {
    /// A pipeline of `stages`, run in the given order.
    pub fn new(stages: Vec<Stage<P>>) -> Self {
        Self { stages }
    }

    /// True when no check is configured for this phase.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Runs every stage against `input`.
    pub async fn run(&self, input: &P) -> Outcome {
        let mut observations = Vec::new();
        for stage in &self.stages {
            let id = stage.check.id();
            // A check that panics (building its future or polling it) is one that could
            // not decide: its fail mode answers, not a dropped connection.
            let checked = match catch_unwind(AssertUnwindSafe(|| stage.check.check(input))) {
                Ok(mut future) => {
                    std::future::poll_fn(|cx| {
                        catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))
                            .unwrap_or(Poll::Ready(Err(CheckError::Panicked)))
                    })
                    .await
                }
                Err(_) => Err(CheckError::Panicked),
            };
            let denial = match checked {
                Ok(Verdict::Allow) => continue,
                Ok(Verdict::Deny(denial)) => denial,
                Err(error) => match stage.fail {
                    FailMode::Open => {
                        observations.push(Observation::Skipped { check: id, error });
                        continue;
                    }
                    FailMode::Close => Denial::new(id, Reason::InspectionUnavailable),
                },
            };
            match stage.enforcement {
                Enforcement::Block => {
                    return Outcome {
                        verdict: Verdict::Deny(denial),
                        observations,
                    };
                }
                Enforcement::DetectOnly => observations.push(Observation::WouldDeny(denial)),
            }
        }
        Outcome {
            verdict: Verdict::Allow,
            observations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckFuture;

    /// Test phase: a string.
    struct Text(&'static str);
    impl Phase for Text {
        const NAME: &'static str = "text";
    }

    /// Denies inputs containing its word; errors on "??".
    struct Word(&'static str);
    impl Check<Text> for Word {
        fn id(&self) -> &'static str {
            self.0
        }
        fn check<'a>(&'a self, input: &'a Text) -> CheckFuture<'a> {
            let result = if input.0.contains("??") {
                Err(CheckError::TimedOut)
            } else if input.0.contains(self.0) {
                Ok(Verdict::Deny(Denial::new(self.0, Reason::Forbidden)))
            } else {
                Ok(Verdict::Allow)
            };
            Box::pin(std::future::ready(result))
        }
    }

    fn run(pipeline: &Pipeline<Text>, input: &'static str) -> Outcome {
        futures_util::FutureExt::now_or_never(pipeline.run(&Text(input))).unwrap()
    }

    #[test]
    fn first_enforced_denial_wins_and_detect_only_is_recorded() {
        let p = Pipeline::new(vec![
            Stage::new(Arc::new(Word("alpha"))).enforcement(Enforcement::DetectOnly),
            Stage::new(Arc::new(Word("beta"))),
            Stage::new(Arc::new(Word("gamma"))),
        ]);
        let table: [(&str, Option<&str>, usize); 4] = [
            ("alphabet soup", None, 1),
            ("beta and gamma", Some("beta"), 0),
            ("alpha gamma", Some("gamma"), 1),
            ("nothing here", None, 0),
        ];
        for (input, denied_by, observed) in table {
            let outcome = run(&p, input);
            match (&outcome.verdict, denied_by) {
                (Verdict::Allow, None) => {}
                (Verdict::Deny(d), Some(id)) => assert_eq!(d.check, id, "{input}"),
                other => panic!("{input}: unexpected {other:?}"),
            }
            assert_eq!(outcome.observations.len(), observed, "{input}");
        }
    }

    #[test]
    fn undecided_check_fails_closed_unless_configured_open() {
        let closed = Pipeline::new(vec![Stage::new(Arc::new(Word("x")))]);
        let outcome = run(&closed, "??");
        assert_eq!(
            outcome.verdict,
            Verdict::Deny(Denial::new("x", Reason::InspectionUnavailable))
        );

        let open = Pipeline::new(vec![Stage::new(Arc::new(Word("x"))).fail(FailMode::Open)]);
        let outcome = run(&open, "??");
        assert_eq!(outcome.verdict, Verdict::Allow);
        assert!(matches!(
            outcome.observations[..],
            [Observation::Skipped { check: "x", .. }]
        ));
    }

    /// Panics while building its future ("build") or while it is polled ("poll").
    struct Panics;
    impl Check<Text> for Panics {
        fn id(&self) -> &'static str {
            "panics"
        }
        fn check<'a>(&'a self, input: &'a Text) -> CheckFuture<'a> {
            assert_ne!(input.0, "build", "panics while building");
            Box::pin(async move {
                assert_ne!(input.0, "poll", "panics while polled");
                Ok(Verdict::Allow)
            })
        }
    }

    #[test]
    fn a_panicking_check_is_undecided_and_its_fail_mode_answers() {
        for input in ["build", "poll"] {
            let closed = Pipeline::new(vec![Stage::new(Arc::new(Panics))]);
            assert_eq!(
                run(&closed, input).verdict,
                Verdict::Deny(Denial::new("panics", Reason::InspectionUnavailable)),
                "{input}"
            );
            let open = Pipeline::new(vec![Stage::new(Arc::new(Panics)).fail(FailMode::Open)]);
            let outcome = run(&open, input);
            assert_eq!(outcome.verdict, Verdict::Allow, "{input}");
            assert!(matches!(
                outcome.observations[..],
                [Observation::Skipped {
                    check: "panics",
                    error: CheckError::Panicked
                }]
            ));
        }
        // A check that does not panic still runs normally.
        let closed = Pipeline::new(vec![Stage::new(Arc::new(Panics))]);
        assert_eq!(run(&closed, "fine").verdict, Verdict::Allow);
    }
}
