//! Clean cookie values and referers of one client, remembered for its next requests.
//!
//! A browser sends the same cookies with every request of a connection and the same
//! `Referer` with every asset of a page, and a consent cookie with escapes or a referer
//! URL costs more to screen than every other header together. The [`super::SharedMemo`]
//! cannot hold them: it serves all clients, so whether a value hits would tell one client
//! (by timing) that another sent it, and cookies carry session ids, URLs tokens. A
//! `ClientMemo` serves one client connection only, and keeps keyed hashes, not the
//! values: it holds no secret, and a value cannot be crafted to match another without
//! the key.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};

use crate::field::{FieldKind, Location};

/// Values remembered per connection: more cookies than most sites set.
const SLOTS: usize = 32;
/// Longest value remembered (a JWT or a serialized preference object fits).
pub(super) const MAX_VALUE: usize = 4096;

/// Clean cookie values and referers seen on one client connection, for
/// [`super::Scan::remembering`].
/// Create one per connection whose requests all come from the same client (not one a
/// proxy shares between its clients) and hand it to every scan of that connection.
#[derive(Debug)]
pub struct ClientMemo {
    /// Keys the hashes: without it nobody can make two values share one.
    keys: RandomState,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Entry>,
    /// The slot the next value replaces once all are taken.
    next: usize,
}

impl Slots {
    fn find(&self, hash: u64, len: u32) -> Option<&Entry> {
        self.entries.iter().find(|e| e.hash == hash && e.len == len)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The keyed hash of the scope, the kind, the location and the value.
    hash: u64,
    len: u32,
    /// Decoded bytes the inspection charged to its budget.
    charged: u32,
}

impl Default for ClientMemo {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientMemo {
    /// An empty memo (it allocates on the first value remembered).
    pub fn new() -> ClientMemo {
        ClientMemo {
            keys: RandomState::new(),
            slots: Mutex::new(Slots::default()),
        }
    }

    /// `scope` keeps the verdicts of one engine and policy apart from another's (a
    /// connection's requests may reach routes with different policies), and the location
    /// keeps a verdict where it was reached: an exclusion may make a value clean at one
    /// location only (rules skip `header:referer`).
    fn entry(
        &self,
        scope: u64,
        kind: FieldKind,
        at: &Location<'_>,
        value: &[u8],
    ) -> Option<(u64, u32)> {
        if value.is_empty() || value.len() > MAX_VALUE {
            return None;
        }
        let hash = self
            .keys
            .hash_one((scope, kind as u8, at.scope(), at.name(), value));
        Some((hash, u32::try_from(value.len()).ok()?))
    }

    /// The decoded bytes `value` charged when it was found clean at `at`, if it was.
    pub(super) fn lookup(
        &self,
        scope: u64,
        kind: FieldKind,
        at: &Location<'_>,
        value: &[u8],
    ) -> Option<usize> {
        let (hash, len) = self.entry(scope, kind, at, value)?;
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.find(hash, len).map(|e| e.charged as usize)
    }

    /// Remembers `value` as clean at `at`, its inspection having charged `charged` bytes.
    pub(super) fn insert(
        &self,
        scope: u64,
        kind: FieldKind,
        at: &Location<'_>,
        value: &[u8],
        charged: usize,
    ) {
        let (Some((hash, len)), Ok(charged)) =
            (self.entry(scope, kind, at, value), u32::try_from(charged))
        else {
            return;
        };
        let entry = Entry { hash, len, charged };
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.find(hash, len).is_some() {
            // Another request of the connection (an h2 stream) got there first.
            return;
        }
        if slots.entries.len() < SLOTS {
            slots.entries.push(entry);
            return;
        }
        let at = slots.next;
        slots.entries[at] = entry;
        slots.next = (at + 1) % SLOTS;
    }

    /// Values remembered (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }
}

/// Whether `field` is remembered per client: what the client repeats across requests
/// and the shared memo must not hold: cookie values, and the `Referer` (the page every
/// asset it loads names; a URL may carry a token). Values new with each request (ids,
/// trace context) would only push those out.
pub(super) fn per_client(field: &crate::Field<'_>) -> bool {
    match field.kind {
        FieldKind::CookieValue => true,
        FieldKind::HeaderValue => {
            field.location.scope() == "header" && field.location.name() == "referer"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::{ClientMemo, MAX_VALUE, SLOTS};
    use crate::{Budget, Engine, Field, FieldKind, Findings, Location, Policy, SharedMemo};

    fn cookies(pairs: &[(&'static str, &'static str)]) -> Vec<Field<'static>> {
        let mut out = Vec::new();
        for (n, v) in pairs {
            let at = Location::new("cookie", *n);
            out.push(Field::new(at.clone(), FieldKind::CookieName, n.as_bytes()));
            out.push(Field::new(at, FieldKind::CookieValue, v.as_bytes()));
        }
        out
    }

    fn scan(
        engine: &Engine,
        policy: &Policy,
        memos: Option<(&SharedMemo, &ClientMemo)>,
        fields: &[Field<'_>],
    ) -> Findings {
        let (fields, mut budget) = (fields.iter().cloned(), Budget::default());
        match memos {
            Some((shared, client)) => {
                engine.inspect_for_client(fields, policy, &mut budget, shared, client)
            }
            None => engine.inspect(fields, policy, &mut budget),
        }
    }

    #[test]
    fn remembers_clean_cookie_values_for_the_client_and_finds_what_a_fresh_scan_finds() {
        let (engine, policy) = (Engine::builtin(), Policy::default());
        let (shared, client) = (SharedMemo::new(), ClientMemo::new());
        let jars: [&[(&'static str, &'static str)]; 5] = [
            &[
                ("consent", "analytics%3Dno%26ads%3Dno"),
                ("last_seen", "2024-05-01T10%3A00%3A00Z"),
                ("sid", "9f86d081884c7d659a2feaa0c55ad015"),
            ],
            &[("theme", "' or 1=1--")],
            &[(
                "consent",
                "analytics%3Dno%26ads%3D%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            )],
            &[
                ("pref", "eyJsYW5nIjoiZW4ifQ"),
                ("x", "${jndi:ldap://203.0.113.9/a}"),
            ],
            &[("cart", "3"), ("q", "1;cat /etc/passwd")],
        ];
        // Twice round: the second time every clean value comes from the client's memo.
        for _ in 0..2 {
            for jar in jars {
                let fields = cookies(jar);
                let fresh = scan(&engine, &policy, None, &fields);
                let remembered = scan(&engine, &policy, Some((&shared, &client)), &fields);
                assert_eq!(remembered, fresh, "{jar:?}");
            }
        }
        // The five clean values; the attacks never.
        assert_eq!(client.len(), 5);
        // Cookie names are the shared memo's, values never are.
        assert_eq!(shared.len(), 8);
        // Of the headers only the referer; a clean one, not one carrying an attack.
        let heads: [&[(&'static str, &'static str)]; 3] = [
            &[
                ("referer", "https://shop.example/catalog?tab=reviews&page=1"),
                ("x-request-id", "0b8e7f3c-2a1d-4e5f-9a8b-7c6d5e4f3a2b"),
            ],
            &[(
                "referer",
                "https://shop.example/?q=%3Cscript%3Ealert(1)%3C/script%3E",
            )],
            &[("referer", "https://shop.example/catalog?tab=reviews&page=1")],
        ];
        for head in heads {
            let fields: Vec<Field<'static>> = head
                .iter()
                .map(|(n, v)| {
                    Field::new(
                        Location::new("header", *n),
                        FieldKind::HeaderValue,
                        v.as_bytes(),
                    )
                })
                .collect();
            let fresh = scan(&engine, &policy, None, &fields);
            let remembered = scan(&engine, &policy, Some((&shared, &client)), &fields);
            assert_eq!(remembered, fresh, "{head:?}");
        }
        assert_eq!(client.len(), 6);
    }

    #[test]
    fn verdicts_hold_only_for_the_engine_and_policy_that_reached_them() {
        let plain = Engine::from_rules("").unwrap();
        let marking = Engine::from_rules(crate::testing::MARKER_RULE).unwrap();
        let policy = Policy::default();
        let fields = cookies(&[("pref", "evil-marker")]);
        let client = ClientMemo::new();
        // Clean under the engine without the rule (another route of the connection)...
        let plain_memo = SharedMemo::new();
        assert!(scan(&plain, &policy, Some((&plain_memo, &client)), &fields).is_clean());
        assert_eq!(client.len(), 1);
        // ...which must not hide it from the engine that has the rule.
        let marking_memo = SharedMemo::new();
        assert!(scan(&marking, &policy, Some((&marking_memo, &client)), &fields).blocks(5));
        // Nor from a policy where the rule is excluded for that cookie only.
        let excluding = Policy::from_toml(
            "[[exclusions]]\nrules = [\"test-001\"]\nlocations = [\"cookie:pref\"]",
            &marking,
        )
        .unwrap();
        // (A verdict is kept with its location, so clean there is remembered there only.)
        let (memo, client) = (SharedMemo::new(), ClientMemo::new());
        assert!(scan(&marking, &excluding, Some((&memo, &client)), &fields).is_clean());
        assert_eq!(client.len(), 1);
        let elsewhere = cookies(&[("other", "evil-marker")]);
        assert!(scan(&marking, &excluding, Some((&memo, &client)), &elsewhere).blocks(5));
        assert!(scan(&marking, &excluding, Some((&memo, &client)), &fields).is_clean());
        // Nor may the same value elsewhere in that request pass for clean.
        let both = cookies(&[("pref", "evil-marker"), ("other", "evil-marker")]);
        assert!(scan(&marking, &excluding, Some((&memo, &client)), &both).blocks(5));
    }

    #[test]
    fn stays_within_its_slots_and_skips_long_values() {
        let client = ClientMemo::new();
        let at = Location::new("cookie", "v");
        let values: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
        for v in &values {
            client.insert(7, FieldKind::CookieValue, &at, v.as_bytes(), 0);
        }
        assert_eq!(client.len(), SLOTS);
        // The latest are kept, the oldest replaced.
        assert_eq!(
            client.lookup(7, FieldKind::CookieValue, &at, b"v99"),
            Some(0)
        );
        assert_eq!(client.lookup(7, FieldKind::CookieValue, &at, b"v0"), None);
        // Another scope, another kind, a value too long: not found, not kept.
        assert_eq!(client.lookup(8, FieldKind::CookieValue, &at, b"v99"), None);
        assert_eq!(client.lookup(7, FieldKind::QueryValue, &at, b"v99"), None);
        let elsewhere = Location::new("cookie", "w");
        assert_eq!(
            client.lookup(7, FieldKind::CookieValue, &elsewhere, b"v99"),
            None
        );
        let long = vec![b'a'; MAX_VALUE + 1];
        client.insert(7, FieldKind::CookieValue, &at, &long, 0);
        assert_eq!(client.lookup(7, FieldKind::CookieValue, &at, &long), None);
    }
}
