//! The rule engine without I/O: records go in with their time, alerts come out of
//! [`Engine::tick`]. Time is passed in, so tests drive it.
//!
//! Life of an alert, per rule and key (client, or `total`):
//! 1. matching records are counted in a window kept as ten buckets (so the window is
//!    counted in tenths: memory per key is fixed, whatever the rate);
//! 2. when the count reaches the threshold an alert opens; it gathers the burst for
//!    `group_wait`, then is sent once as `firing` with the count so far;
//! 3. records that keep coming add to that alert's count, nothing is sent;
//! 4. when the cooldown ends: if more records came, one `firing` update with the new total
//!    is sent and the cooldown starts again; if none came, one `resolved` is sent and the
//!    key starts from zero (a later burst makes a new alert with a new id).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::config::{Per, RawMatch, Rule};
use super::{Alert, AlertStatus};

/// What the engine sees of an audit record.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// `decision`, `admin` or `system`.
    pub kind: &'a str,
    /// The check (or `admin`, or the component).
    pub check: &'a str,
    /// The rule id (or endpoint, or the component's name).
    pub rule: &'a str,
    /// The reason (or outcome, or `down`/`up`).
    pub reason: &'a str,
    /// `block`/`report` for decisions.
    pub action: Option<&'a str>,
    /// The client (or peer, or the component's name).
    pub client: &'a str,
    /// The request id, empty when none.
    pub request_id: &'a str,
    /// Milliseconds since the epoch.
    pub at_ms: u64,
}

/// Request ids an alert carries at most.
pub const SAMPLES: usize = 5;
const BUCKETS: u64 = 10;

/// Every rule's counts.
#[derive(Debug)]
pub struct Engine {
    tier: &'static str,
    group_wait_ms: u64,
    rules: Vec<RuleState>,
    seq: u64,
}

#[derive(Debug)]
struct RuleState {
    rule: Arc<Rule>,
    keys: HashMap<String, KeyState>,
}

#[derive(Debug, Default)]
struct KeyState {
    /// (bucket index, count, first record's time), oldest first.
    buckets: VecDeque<(u64, u64, u64)>,
    samples: VecDeque<String>,
    last_ms: u64,
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    id: String,
    first_ms: u64,
    last_ms: u64,
    count: u64,
    samples: Vec<String>,
    due_ms: u64,
    /// The count last sent, `None` before the first delivery.
    sent: Option<u64>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn eq(want: Option<&String>, have: &str) -> bool {
    want.is_none_or(|w| w == have)
}

/// The class of a detector rule id: `sqli` for `sqli-001`.
pub fn class_of(rule: &str) -> &str {
    rule.split('-').next().unwrap_or(rule)
}

/// True when `ev` has every field `m` names.
pub fn matches(m: &RawMatch, ev: &Observed<'_>) -> bool {
    eq(m.kind.as_ref(), ev.kind)
        && eq(m.check.as_ref(), ev.check)
        && eq(m.rule.as_ref(), ev.rule)
        && eq(m.class.as_ref(), class_of(ev.rule))
        && eq(m.reason.as_ref(), ev.reason)
        && m.action.as_deref().is_none_or(|a| ev.action == Some(a))
}

impl Engine {
    /// An engine for `rules`.
    pub fn new(tier: &'static str, group_wait: Duration, rules: &[Arc<Rule>]) -> Self {
        Engine {
            tier,
            group_wait_ms: ms(group_wait),
            rules: rules
                .iter()
                .map(|r| RuleState {
                    rule: r.clone(),
                    keys: HashMap::new(),
                })
                .collect(),
            seq: 0,
        }
    }

    /// Counts `ev` for every rule it matches.
    pub fn observe(&mut self, ev: &Observed<'_>) {
        for state in &mut self.rules {
            if !matches(&state.rule.matches, ev) {
                continue;
            }
            let key = match state.rule.per {
                Per::Client => ev.client,
                Per::Total => "total",
            };
            if !state.keys.contains_key(key) {
                state.make_room(ev.at_ms);
            }
            let rule = state.rule.clone();
            let ks = state.keys.entry(key.to_owned()).or_default();
            ks.last_ms = ks.last_ms.max(ev.at_ms);
            if let Some(open) = &mut ks.open {
                open.count += 1;
                open.last_ms = open.last_ms.max(ev.at_ms);
                if open.samples.len() < SAMPLES && !ev.request_id.is_empty() {
                    open.samples.push(ev.request_id.to_owned());
                }
                continue;
            }
            let width = (ms(rule.window) / BUCKETS).max(1);
            let idx = ev.at_ms / width;
            // Out-of-order records (other threads) land in the newest bucket.
            match ks.buckets.back_mut() {
                Some(b) if b.0 >= idx => {
                    b.1 += 1;
                    b.2 = b.2.min(ev.at_ms);
                }
                _ => ks.buckets.push_back((idx, 1, ev.at_ms)),
            }
            let newest = ks.buckets.back().map_or(idx, |b| b.0);
            while ks.buckets.front().is_some_and(|b| b.0 + BUCKETS <= newest) {
                ks.buckets.pop_front();
            }
            if !ev.request_id.is_empty() {
                if ks.samples.len() == SAMPLES {
                    ks.samples.pop_front();
                }
                ks.samples.push_back(ev.request_id.to_owned());
            }
            let count: u64 = ks.buckets.iter().map(|b| b.1).sum();
            if count >= rule.threshold {
                self.seq += 1;
                let first_ms = ks.buckets.iter().map(|b| b.2).min().unwrap_or(ev.at_ms);
                ks.open = Some(Open {
                    id: format!("{}-{}-{:x}-{}", self.tier, rule.name, first_ms, self.seq),
                    first_ms,
                    last_ms: ev.at_ms,
                    count,
                    samples: ks.samples.drain(..).collect(),
                    due_ms: ev.at_ms.saturating_add(self.group_wait_ms),
                    sent: None,
                });
                ks.buckets.clear();
            }
        }
    }

    /// The alerts due at `now_ms` (first deliveries, updates and resolutions), and keys
    /// idle for longer than their window forgotten.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Alert> {
        let mut out = Vec::new();
        let tier = self.tier;
        for state in &mut self.rules {
            let rule = &state.rule;
            let window_ms = ms(rule.window);
            state.keys.retain(|key, ks| {
                let Some(open) = &mut ks.open else {
                    return ks.last_ms.saturating_add(window_ms) > now_ms;
                };
                if open.due_ms > now_ms {
                    return true;
                }
                let status = match open.sent {
                    Some(sent) if sent == open.count => AlertStatus::Resolved,
                    _ => AlertStatus::Firing,
                };
                out.push(alert(tier, rule, key, open, status));
                if status == AlertStatus::Resolved {
                    ks.open = None;
                    ks.last_ms = 0;
                    return false;
                }
                open.sent = Some(open.count);
                open.due_ms = now_ms.saturating_add(ms(rule.cooldown));
                true
            });
        }
        out
    }

    /// Keys tracked by rule `i` (for tests of the memory bound).
    #[cfg(test)]
    pub(crate) fn keys(&self, i: usize) -> usize {
        self.rules.get(i).map_or(0, |r| r.keys.len())
    }
}

impl RuleState {
    /// Before a new key: forget idle keys, then the least recently seen (preferring keys
    /// without an open alert) until there is room.
    fn make_room(&mut self, now_ms: u64) {
        if self.keys.len() < self.rule.max_keys {
            return;
        }
        let window_ms = ms(self.rule.window);
        self.keys
            .retain(|_, ks| ks.open.is_some() || ks.last_ms.saturating_add(window_ms) > now_ms);
        while self.keys.len() >= self.rule.max_keys {
            let oldest = self
                .keys
                .iter()
                .min_by_key(|(_, ks)| (ks.open.is_some(), ks.last_ms))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.keys.remove(&k);
                }
                None => break,
            }
        }
    }
}

fn rfc3339(unix_ms: u64) -> String {
    crate::audit::timestamp(UNIX_EPOCH + Duration::from_millis(unix_ms)).0
}

fn alert(tier: &'static str, rule: &Rule, key: &str, open: &Open, status: AlertStatus) -> Alert {
    let now = SystemTime::now();
    let (timestamp, unix_ms) = crate::audit::timestamp(now);
    Alert {
        timestamp,
        unix_ms,
        alert: open.id.clone(),
        status,
        rule: rule.name.clone(),
        key: key.to_owned(),
        count: open.count,
        first_seen: rfc3339(open.first_ms),
        last_seen: rfc3339(open.last_ms),
        tier,
        sample_request_ids: open.samples.clone(),
        first: open.sent.is_none(),
    }
}
