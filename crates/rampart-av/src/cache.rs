//! The verdict cache: an engine's clean or infected answer about exact bytes, reused for
//! a TTL and only while the engine's signatures are those it was reached with. Keyed by
//! engine and SHA-256 of the bytes; bounded, least recently used goes first. Errors,
//! refusals and oversize answers are never cached (the type cannot hold them). Time is
//! passed in, so tests control it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::verdict::{Engine, EngineVerdict};

/// SHA-256 of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyHash([u8; 32]);

impl BodyHash {
    /// Hashes `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }
}

/// A verdict worth reusing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachedVerdict {
    /// The engine found nothing.
    Clean,
    /// The engine found `signature`.
    Infected {
        /// The signature name.
        signature: String,
    },
}

impl CachedVerdict {
    /// The cacheable part of an engine's answer.
    pub fn from_engine(verdict: &EngineVerdict) -> Option<Self> {
        match verdict {
            EngineVerdict::Clean => Some(Self::Clean),
            EngineVerdict::Infected { signature } => Some(Self::Infected {
                signature: signature.clone(),
            }),
            EngineVerdict::Oversize | EngineVerdict::Refuse { .. } => None,
        }
    }

    /// Back to an engine answer.
    pub fn into_engine(self) -> EngineVerdict {
        match self {
            Self::Clean => EngineVerdict::Clean,
            Self::Infected { signature } => EngineVerdict::Infected { signature },
        }
    }
}

type Key = (Engine, BodyHash);

struct Slot {
    verdict: CachedVerdict,
    /// The engine's signature version the verdict was reached with (clamd's `VERSION`
    /// reply, the ICAP service's ISTag).
    signatures: Arc<str>,
    expires: Instant,
    used: u64,
}

/// A bounded LRU of verdicts with a TTL.
pub struct VerdictCache {
    ttl: Duration,
    capacity: usize,
    slots: HashMap<Key, Slot>,
    /// Use counter -> key, oldest first.
    order: BTreeMap<u64, Key>,
    clock: u64,
}

impl std::fmt::Debug for VerdictCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("len", &self.slots.len())
            .finish()
    }
}

impl VerdictCache {
    /// A cache of at most `capacity` verdicts, each kept `ttl`. Either at zero disables it.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: if ttl.is_zero() { 0 } else { capacity },
            slots: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
        }
    }

    /// Whether it keeps anything (a zero capacity or TTL disables it).
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Verdicts held (expired ones included until looked up or evicted).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// `engine`'s verdict about `hash`, unless absent, reached with other `signatures` or
    /// expired at `now`.
    pub fn get(
        &mut self,
        engine: Engine,
        hash: BodyHash,
        signatures: &str,
        now: Instant,
    ) -> Option<CachedVerdict> {
        let key = (engine, hash);
        let slot = self.slots.get_mut(&key)?;
        if now >= slot.expires || *slot.signatures != *signatures {
            let used = slot.used;
            self.slots.remove(&key);
            self.order.remove(&used);
            return None;
        }
        self.clock += 1;
        self.order.remove(&slot.used);
        slot.used = self.clock;
        self.order.insert(self.clock, key);
        Some(slot.verdict.clone())
    }

    /// Keeps `verdict`, reached with `signatures`, from `now` for the TTL, evicting the
    /// least recently used if full.
    pub fn insert(
        &mut self,
        engine: Engine,
        hash: BodyHash,
        signatures: Arc<str>,
        verdict: CachedVerdict,
        now: Instant,
    ) {
        if self.capacity == 0 {
            return;
        }
        let key = (engine, hash);
        if let Some(old) = self.slots.remove(&key) {
            self.order.remove(&old.used);
        }
        while self.slots.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.slots.remove(&oldest);
        }
        self.clock += 1;
        self.order.insert(self.clock, key);
        self.slots.insert(
            key,
            Slot {
                verdict,
                signatures,
                expires: now + self.ttl,
                used: self.clock,
            },
        );
    }

    /// Drops every verdict of `engine`: its signatures changed, none of them holds.
    pub fn forget(&mut self, engine: Engine) {
        self.slots.retain(|(e, _), _| *e != engine);
        self.order.retain(|_, (e, _)| *e != engine);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infected(s: &str) -> CachedVerdict {
        CachedVerdict::Infected {
            signature: s.into(),
        }
    }

    const V1: &str = "ClamAV 1.4.6/27480/Mon Dec  1 09:00:00 2026";
    const V2: &str = "ClamAV 1.4.6/27481/Mon Dec  1 13:00:00 2026";

    fn v1() -> Arc<str> {
        V1.into()
    }

    #[test]
    fn reuses_a_verdict_only_under_the_signatures_it_was_reached_with() {
        let t0 = Instant::now();
        let mut cache = VerdictCache::new(Duration::from_secs(60), 10);
        let [a, b, c] = [b"a", b"b", b"c"].map(|d| BodyHash::of(d));
        for (hash, verdict) in [
            (a, CachedVerdict::Clean),
            (b, infected("X")),
            (c, CachedVerdict::Clean),
        ] {
            cache.insert(Engine::Clamd, hash, v1(), verdict, t0);
        }
        let istag: Arc<str> = "\"CI0001-1\"".into();
        cache.insert(Engine::Icap, a, istag.clone(), CachedVerdict::Clean, t0);
        assert_eq!(
            cache.get(Engine::Clamd, a, V1, t0),
            Some(CachedVerdict::Clean)
        );
        assert_eq!(
            cache.get(Engine::Clamd, a, V2, t0),
            None,
            "newer signatures"
        );
        assert_eq!(
            cache.get(Engine::Clamd, a, V1, t0),
            None,
            "dropped when seen"
        );
        assert_eq!(
            cache.get(Engine::Clamd, c, "", t0),
            None,
            "no version known"
        );
        assert_eq!(cache.len(), 2);
        cache.forget(Engine::Clamd);
        assert_eq!(cache.get(Engine::Clamd, b, V1, t0), None);
        assert_eq!(cache.len(), 1, "the other engine's verdict stays");
        assert_eq!(cache.order.len(), 1);
        assert!(cache.get(Engine::Icap, a, &istag, t0).is_some());
    }

    #[test]
    fn reuses_a_verdict_until_its_ttl_and_per_engine() {
        let t0 = Instant::now();
        let mut cache = VerdictCache::new(Duration::from_secs(60), 10);
        let h = BodyHash::of(b"body");
        cache.insert(Engine::Clamd, h, v1(), CachedVerdict::Clean, t0);
        assert_eq!(
            cache.get(Engine::Clamd, h, V1, t0 + Duration::from_secs(59)),
            Some(CachedVerdict::Clean)
        );
        assert_eq!(
            cache.get(Engine::Icap, h, V1, t0),
            None,
            "another engine has not spoken"
        );
        assert_eq!(
            cache.get(Engine::Clamd, BodyHash::of(b"body "), V1, t0),
            None,
            "other bytes"
        );
        assert_eq!(
            cache.get(Engine::Clamd, h, V1, t0 + Duration::from_secs(60)),
            None
        );
        assert!(cache.is_empty(), "an expired verdict is dropped when seen");
    }

    #[test]
    fn evicts_the_least_recently_used_when_full() {
        let t0 = Instant::now();
        let mut cache = VerdictCache::new(Duration::from_secs(60), 2);
        let [a, b, c] = [b"a", b"b", b"c"].map(|d| BodyHash::of(d));
        cache.insert(Engine::Clamd, a, v1(), CachedVerdict::Clean, t0);
        cache.insert(Engine::Clamd, b, v1(), infected("X"), t0);
        assert!(
            cache.get(Engine::Clamd, a, V1, t0).is_some(),
            "a is now the most recent"
        );
        cache.insert(Engine::Clamd, c, v1(), CachedVerdict::Clean, t0);
        assert_eq!(cache.len(), 2);
        assert!(
            cache.get(Engine::Clamd, b, V1, t0).is_none(),
            "b was the least recent"
        );
        assert!(cache.get(Engine::Clamd, a, V1, t0).is_some());
        assert!(cache.get(Engine::Clamd, c, V1, t0).is_some());
        // Replacing a key does not grow the cache.
        cache.insert(Engine::Clamd, c, v1(), infected("Y"), t0);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(Engine::Clamd, c, V1, t0), Some(infected("Y")));
    }

    #[test]
    fn stays_bounded_under_many_distinct_bodies() {
        let t0 = Instant::now();
        let mut cache = VerdictCache::new(Duration::from_secs(60), 100);
        for i in 0u32..10_000 {
            cache.insert(
                Engine::Icap,
                BodyHash::of(&i.to_be_bytes()),
                v1(),
                CachedVerdict::Clean,
                t0,
            );
        }
        assert_eq!(cache.len(), 100);
        assert_eq!(cache.order.len(), 100);
    }

    #[test]
    fn a_zero_capacity_or_ttl_disables_it() {
        let t0 = Instant::now();
        for mut cache in [
            VerdictCache::new(Duration::from_secs(60), 0),
            VerdictCache::new(Duration::ZERO, 100),
        ] {
            assert!(!cache.is_enabled());
            cache.insert(
                Engine::Clamd,
                BodyHash::of(b"x"),
                v1(),
                CachedVerdict::Clean,
                t0,
            );
            assert!(
                cache
                    .get(Engine::Clamd, BodyHash::of(b"x"), V1, t0)
                    .is_none()
            );
        }
    }

    #[test]
    fn only_clean_and_infected_answers_are_cacheable() {
        let table = [
            (EngineVerdict::Clean, true),
            (
                EngineVerdict::Infected {
                    signature: "X".into(),
                },
                true,
            ),
            (EngineVerdict::Oversize, false),
            (
                EngineVerdict::Refuse {
                    message: "m".into(),
                },
                false,
            ),
        ];
        for (verdict, cacheable) in table {
            let cached = CachedVerdict::from_engine(&verdict);
            assert_eq!(cached.is_some(), cacheable, "{verdict:?}");
            if let Some(c) = cached {
                assert_eq!(c.into_engine(), verdict);
            }
        }
    }

    #[test]
    fn hashes_are_sha256() {
        let h = BodyHash::of(b"abc");
        assert_eq!(
            h.0[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(\"abc\") starts with ba7816bf"
        );
    }
}
