//! The in-process limiter: every applicable rate limit and quota for a request is checked
//! under its shard locks and committed only if all admit (check-then-commit), so a
//! request refused by one policy consumes nothing from the others.

use std::collections::hash_map::RandomState;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::config::{Policy, PolicyKind, RateLimitConfig};
use crate::decision::{Evaluation, Outcome, PolicyStatus, combine};
use crate::key::{IpPrefixes, RequestFacts};
use crate::quota::QuotaCheck;
use crate::rate::{Gcra, gcra, gcra_refund};
use crate::table::{Slot, StateKind, Table};

/// Rate limits and quotas held in memory, bounded by `max_keys` per policy.
#[derive(Debug)]
pub struct LocalLimiter<C: Clock = SystemClock> {
    rules: Arc<[Rule]>,
    hasher: RandomState,
    prefixes: IpPrefixes,
    clock: C,
}

#[derive(Debug)]
struct Rule {
    policy: Policy,
    table: Table,
}

/// Keys consumed by an admitted request, so the admission can be given back when
/// another layer (redis) refuses the request after all.
#[derive(Debug)]
pub(crate) struct Reservation {
    taken: Vec<(usize, u64)>,
    at: u64,
}

impl<C: Clock> LocalLimiter<C> {
    /// A limiter for `config`'s policies, each rate scaled to `share` (see
    /// [`crate::rate::Limit::scaled`]; 1.0 for the full limits).
    pub fn new(config: &RateLimitConfig, share: f64, clock: C) -> Self {
        let rules = config
            .policies
            .iter()
            .map(|p| {
                let (kind, state) = match &p.kind {
                    PolicyKind::Rate(limit) => {
                        (PolicyKind::Rate(limit.scaled(share)), StateKind::Tat)
                    }
                    PolicyKind::Quota(q) => (PolicyKind::Quota(*q), StateKind::Quota),
                };
                Rule {
                    policy: Policy { kind, ..p.clone() },
                    table: Table::new(config.max_keys, state),
                }
            })
            .collect();
        Self {
            rules,
            hasher: RandomState::new(),
            prefixes: config.ip_prefixes,
            clock,
        }
    }

    /// Decides one request, consuming from every applicable policy only on admission.
    pub fn check(&self, facts: &RequestFacts<'_>) -> Evaluation {
        self.reserve(facts).0
    }

    /// Like [`check`](Self::check), also returning what was consumed.
    pub(crate) fn reserve(&self, facts: &RequestFacts<'_>) -> (Evaluation, Option<Reservation>) {
        let now = self.clock.now_nanos();
        let keys: Vec<(usize, u64)> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.policy.scope.applies(facts))
            .map(|(i, r)| {
                (
                    i,
                    r.policy
                        .key
                        .hash_with(&self.hasher, i, facts, &self.prefixes),
                )
            })
            .collect();
        if keys.is_empty() {
            return (Evaluation::unlimited(), None);
        }
        // Locks are taken in rule order (each rule has its own table): no deadlock.
        let mut slots: Vec<Slot<'_>> = keys
            .iter()
            .map(|(i, key)| self.rules[*i].table.slot(*key))
            .collect();
        let mut outcomes = Vec::with_capacity(keys.len());
        let mut commits = Vec::with_capacity(keys.len());
        for ((i, _), slot) in keys.iter().zip(&slots) {
            let (outcome, commit) = decide(&self.rules[*i].policy, slot.get(), now);
            outcomes.push(outcome);
            commits.push(commit);
        }
        let admitted = commits.iter().all(Option::is_some);
        if admitted {
            for (slot, state) in slots.iter_mut().zip(&commits) {
                if let Some(state) = state {
                    slot.set(*state, now);
                }
            }
        }
        drop(slots);
        let reservation = admitted.then_some(Reservation {
            taken: keys,
            at: now,
        });
        (combine(outcomes), reservation)
    }

    /// Gives back what `reservation` consumed.
    pub(crate) fn refund(&self, reservation: Reservation) {
        for (i, key) in reservation.taken {
            let rule = &self.rules[i];
            let mut slot = rule.table.slot(key);
            match &rule.policy.kind {
                PolicyKind::Rate(limit) => slot.update_entry(|tat| gcra_refund(limit, tat)),
                PolicyKind::Quota(q) => slot.update_entry(|s| q.refund(s, reservation.at)),
            }
        }
    }

    /// True when at least one policy applies to `facts`.
    pub(crate) fn applies(&self, facts: &RequestFacts<'_>) -> bool {
        self.rules.iter().any(|r| r.policy.scope.applies(facts))
    }

    /// Keys held per policy (the table proper, not the overflow sketch).
    pub fn table_sizes(&self) -> Vec<(Arc<str>, usize)> {
        self.rules
            .iter()
            .map(|r| (r.policy.name.clone(), r.table.len()))
            .collect()
    }

    /// The clock this limiter reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

/// One policy's verdict on `state` at `now`, and the state to store on admission.
fn decide(policy: &Policy, state: u64, now: u64) -> (Outcome, Option<u64>) {
    match &policy.kind {
        PolicyKind::Rate(limit) => {
            let status = |remaining, reset_after| PolicyStatus {
                name: policy.name.clone(),
                quota: u64::from(limit.rate().count()),
                window: limit.rate().period(),
                remaining,
                reset_after: Duration::from_nanos(reset_after),
            };
            match gcra(limit, state, now) {
                Gcra::Allow {
                    new_tat,
                    remaining,
                    reset_after,
                } => (
                    Outcome::Allow(status(remaining, reset_after)),
                    Some(new_tat),
                ),
                Gcra::Deny {
                    retry_after,
                    reset_after,
                } => (
                    Outcome::Deny {
                        status: status(0, reset_after),
                        retry_after: Duration::from_nanos(retry_after),
                    },
                    None,
                ),
            }
        }
        PolicyKind::Quota(quota) => {
            let status = |remaining, reset_after| PolicyStatus {
                name: policy.name.clone(),
                quota: u64::from(quota.limit),
                window: quota.window_len(now),
                remaining,
                reset_after: Duration::from_nanos(reset_after),
            };
            match quota.check(state, now) {
                QuotaCheck::Allow {
                    new_state,
                    remaining,
                    reset_after,
                } => (
                    Outcome::Allow(status(remaining, reset_after)),
                    Some(new_state),
                ),
                QuotaCheck::Deny { reset_after } => (
                    Outcome::Deny {
                        status: status(0, reset_after),
                        retry_after: Duration::from_nanos(reset_after),
                    },
                    None,
                ),
            }
        }
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
pub(crate) mod tests;
