//! Recent denials in memory: a bounded ring fed by the audit path, with the queries the
//! admin API and the dashboard need — groups by (tier, route, check, rule, location) with
//! counts and first/last seen, each with an exclusion snippet ready to paste into the
//! tier's TOML, and top-N counts by rule, route, client and reason.
//!
//! Memory is bounded by the ring's capacity (records are themselves bounded); queries
//! walk the ring under a short lock and never return more than they are asked for.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::audit::{Action, DecisionRecord};

/// The ring of recent denials and detect-only hits.
#[derive(Debug)]
pub struct EventStore {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    events: VecDeque<Arc<DecisionRecord>>,
    totals: Totals,
}

/// Counts since start (not limited to the ring).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Records seen.
    pub decisions: u64,
    /// Of which blocked.
    pub blocks: u64,
    /// Of which detect-only.
    pub reports: u64,
}

/// Denials that share tier, route, check, rule and location.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Group {
    /// `edge` or `inner`.
    pub tier: &'static str,
    /// The route.
    pub route: String,
    /// The check.
    pub check: &'static str,
    /// The rule.
    pub rule: String,
    /// The location.
    pub location: String,
    /// The reason of the latest record.
    pub reason: &'static str,
    /// Records in the group.
    pub count: u64,
    /// Of which blocked.
    pub blocks: u64,
    /// Of which detect-only.
    pub reports: u64,
    /// RFC 3339 of the first record.
    pub first_seen: String,
    /// RFC 3339 of the latest record.
    pub last_seen: String,
    /// Distinct clients (as recorded), capped at [`CLIENTS_COUNTED`].
    pub clients: usize,
    /// The exclusion that stops this rule looking at this location, when the check is
    /// a detector (edge screening, inner inspection).
    pub exclusion: Option<Exclusion>,
}

/// A ready-to-paste exclusion.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Exclusion {
    /// The config file it belongs in (`edge.toml` or `inner.toml`).
    pub file: &'static str,
    /// Scoped to the route: to be pasted under that route's `[[routes]]` entry.
    pub route_snippet: Option<String>,
    /// For every route without its own detection policy.
    pub global_snippet: String,
}

/// One entry of a top-N list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    /// The value.
    pub key: String,
    /// How often.
    pub count: u64,
}

/// Top-N lists over the ring.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Tops {
    /// By rule (`check/rule`).
    pub rules: Vec<Count>,
    /// By route.
    pub routes: Vec<Count>,
    /// By client (blocked requests only).
    pub clients: Vec<Count>,
    /// By reason.
    pub reasons: Vec<Count>,
}

/// tier, route, check, rule, location.
type GroupKey<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// Distinct clients counted per group, at most.
pub const CLIENTS_COUNTED: usize = 1000;

impl EventStore {
    /// A ring of `capacity` records (at least 1).
    pub fn new(capacity: usize) -> Self {
        EventStore {
            capacity: capacity.max(1),
            inner: Mutex::new(Ring::default()),
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a record, forgetting the oldest when full.
    pub fn push(&self, record: Arc<DecisionRecord>) {
        let mut ring = self.ring();
        ring.totals.decisions += 1;
        match record.action {
            Action::Block => ring.totals.blocks += 1,
            Action::Report => ring.totals.reports += 1,
        }
        if ring.events.len() == self.capacity {
            ring.events.pop_front();
        }
        ring.events.push_back(record);
    }

    /// Counts since start.
    pub fn totals(&self) -> Totals {
        self.ring().totals
    }

    /// The latest `limit` records, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Arc<DecisionRecord>> {
        self.ring()
            .events
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }

    /// Groups, most frequent first (ties: most recent first), at most `limit`.
    pub fn groups(&self, limit: usize) -> Vec<Group> {
        let events: Vec<Arc<DecisionRecord>> = self.ring().events.iter().cloned().collect();
        // Count first, build (and format snippets for) only the groups returned.
        struct Tally<'a> {
            count: u64,
            blocks: u64,
            reports: u64,
            first: &'a DecisionRecord,
            last: &'a DecisionRecord,
            clients: HashSet<&'a str>,
        }
        let mut tallies: HashMap<GroupKey<'_>, Tally<'_>> = HashMap::new();
        for e in &events {
            let key = (
                e.tier,
                e.route.as_str(),
                e.check,
                e.rule.as_str(),
                e.location.as_str(),
            );
            let t = tallies.entry(key).or_insert_with(|| Tally {
                count: 0,
                blocks: 0,
                reports: 0,
                first: e,
                last: e,
                clients: HashSet::new(),
            });
            t.count += 1;
            match e.action {
                Action::Block => t.blocks += 1,
                Action::Report => t.reports += 1,
            }
            if e.unix_ms < t.first.unix_ms {
                t.first = e;
            }
            if e.unix_ms >= t.last.unix_ms {
                t.last = e;
            }
            if t.clients.len() < CLIENTS_COUNTED {
                t.clients.insert(e.client.as_str());
            }
        }
        let mut tallies: Vec<Tally<'_>> = tallies.into_values().collect();
        tallies.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.last.unix_ms.cmp(&a.last.unix_ms))
        });
        tallies.truncate(limit);
        tallies
            .into_iter()
            .map(|t| {
                let e = t.last;
                Group {
                    tier: e.tier,
                    route: e.route.clone(),
                    check: e.check,
                    rule: e.rule.clone(),
                    location: e.location.clone(),
                    reason: e.reason,
                    count: t.count,
                    blocks: t.blocks,
                    reports: t.reports,
                    first_seen: t.first.timestamp.clone(),
                    last_seen: e.timestamp.clone(),
                    clients: t.clients.len(),
                    exclusion: exclusion(e.tier, &e.route, e.check, e.reason, &e.rule, &e.location),
                }
            })
            .collect()
    }

    /// The `n` most frequent rules, routes, blocked clients and reasons in the ring.
    pub fn tops(&self, n: usize) -> Tops {
        let ring = self.ring();
        let mut rules: HashMap<String, u64> = HashMap::new();
        let mut routes: HashMap<&str, u64> = HashMap::new();
        let mut clients: HashMap<&str, u64> = HashMap::new();
        let mut reasons: HashMap<&str, u64> = HashMap::new();
        for e in &ring.events {
            let rule = if e.rule.is_empty() {
                e.check.to_owned()
            } else {
                format!("{}/{}", e.check, e.rule)
            };
            *rules.entry(rule).or_default() += 1;
            *routes.entry(e.route.as_str()).or_default() += 1;
            if e.action == Action::Block {
                *clients.entry(e.client.as_str()).or_default() += 1;
            }
            *reasons.entry(e.reason).or_default() += 1;
        }
        fn top<K: AsRef<str>>(map: HashMap<K, u64>, n: usize) -> Vec<Count> {
            let mut v: Vec<Count> = map
                .into_iter()
                .map(|(k, count)| Count {
                    key: k.as_ref().to_owned(),
                    count,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
            v.truncate(n);
            v
        }
        Tops {
            rules: top(rules, n),
            routes: top(routes, n),
            clients: top(clients, n),
            reasons: top(reasons, n),
        }
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped, so a
/// location named by a client cannot break out of the snippet.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where each detector's policy lives in its tier's config.
fn policy_keys(tier: &str, check: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match (tier, check) {
        ("edge", "screening") => Some(("edge.toml", "screening.policy", "routes.screening.policy")),
        ("inner", "inspection") => Some((
            "inner.toml",
            "inspection.detection",
            "routes.inspection.detection",
        )),
        _ => None,
    }
}

/// The exclusion that stops `rule` looking at `location`, in the syntax of
/// `rampart_detect::PolicyConfig` (`[[...exclusions]]` with `rules` and `locations`).
/// `None` for checks that are not detectors, and for locations that cannot be written as
/// an exact pattern (a `*` would turn it into a prefix).
pub fn exclusion(
    tier: &str,
    route: &str,
    check: &str,
    reason: &str,
    rule: &str,
    location: &str,
) -> Option<Exclusion> {
    let (file, global, per_route) = policy_keys(tier, check)?;
    let scope = location.split(':').next().unwrap_or("");
    let exact_pattern = !location.contains('*')
        && !scope.is_empty()
        && scope.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    if reason != "attack-detected" || rule.is_empty() || !exact_pattern {
        return None;
    }
    let body = format!(
        "rules = [{}]\nlocations = [{}]\n",
        toml_string(rule),
        toml_string(location)
    );
    let route_snippet = (!route.is_empty()).then(|| {
        // The route's own policy replaces the global one, so the route snippet says so.
        format!(
            "# {file}: under the [[routes]] entry with name = {}; a route policy replaces [{global}]\n[[{per_route}.exclusions]]\n{body}",
            toml_string(route)
        )
    });
    Some(Exclusion {
        file,
        route_snippet,
        global_snippet: format!("# {file}\n[[{global}.exclusions]]\n{body}"),
    })
}

#[cfg(test)]
mod tests;
