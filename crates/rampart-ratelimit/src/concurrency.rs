//! In-flight limits per key: a permit is taken when a request starts and given back when
//! the [`Permits`] value is dropped, however the request ends.
//!
//! The table holds only keys with requests in flight (an entry leaves when its count
//! returns to zero), at most `max_keys` per policy. When a shard is full, new keys are
//! counted in a count-min sketch (plain increments, so a release can decrement exactly);
//! a key's in-flight estimate is its entry plus its sketch estimate, never below the
//! truth, so an overflowing key is limited rather than free.

use std::collections::hash_map::RandomState;
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::{ConcurrencyPolicy, RateLimitConfig};
use crate::key::{IpPrefixes, RequestFacts};
use crate::table::{IdentityMap, SKETCH_DEPTH, SKETCH_WIDTH, shard_index, shard_layout};

/// Counts requests in flight per key.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: Vec<Rule>,
    hasher: RandomState,
    prefixes: IpPrefixes,
}

#[derive(Debug)]
struct Rule {
    policy: ConcurrencyPolicy,
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Debug)]
struct Shard {
    map: IdentityMap<u32>,
    capacity: usize,
    sketch: Option<Box<[[u32; SKETCH_WIDTH]; SKETCH_DEPTH]>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Entry,
    Sketch,
}

/// Permits for one request; dropping them releases every one.
#[derive(Debug)]
#[must_use = "the permits are released as soon as they are dropped"]
pub struct Permits {
    inner: Arc<Inner>,
    held: Vec<(usize, u64, Held)>,
}

/// The request was refused: `policy` has its maximum in flight for this key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// The policy that is full.
    pub policy: Arc<str>,
}

impl ConcurrencyLimiter {
    /// A limiter for `config.concurrency`.
    pub fn new(config: &RateLimitConfig) -> Self {
        let (shards, capacity) = shard_layout(config.max_keys);
        let rules = config
            .concurrency
            .iter()
            .map(|policy| Rule {
                policy: policy.clone(),
                shards: (0..shards)
                    .map(|_| {
                        Mutex::new(Shard {
                            map: IdentityMap::default(),
                            capacity,
                            sketch: None,
                        })
                    })
                    .collect(),
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                rules,
                hasher: RandomState::new(),
                prefixes: config.ip_prefixes,
            }),
        }
    }

    /// Takes one permit from every applicable policy, or none at all.
    pub fn acquire(&self, facts: &RequestFacts<'_>) -> Result<Permits, Busy> {
        let mut permits = Permits {
            inner: self.inner.clone(),
            held: Vec::new(),
        };
        for (i, rule) in self.inner.rules.iter().enumerate() {
            if !rule.policy.scope.applies(facts) {
                continue;
            }
            let key = rule
                .policy
                .key
                .hash_with(&self.inner.hasher, i, facts, &self.inner.prefixes);
            match rule.shard(key).try_take(key, rule.policy.max_in_flight) {
                Some(held) => permits.held.push((i, key, held)),
                // Dropping `permits` gives back what was taken so far.
                None => {
                    return Err(Busy {
                        policy: rule.policy.name.clone(),
                    });
                }
            }
        }
        Ok(permits)
    }

    /// Requests in flight for `facts` under policy `name` (an upper bound for keys that
    /// overflowed into the sketch); `None` for an unknown policy.
    pub fn in_flight(&self, name: &str, facts: &RequestFacts<'_>) -> Option<u32> {
        let (i, rule) = self
            .inner
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| &*r.policy.name == name)?;
        let key = rule
            .policy
            .key
            .hash_with(&self.inner.hasher, i, facts, &self.inner.prefixes);
        let shard = rule.shard(key);
        Some(shard.count(key))
    }
}

impl Rule {
    fn shard(&self, key: u64) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[shard_index(key, self.shards.len())]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shard {
    fn count(&self, key: u64) -> u32 {
        let entry = self.map.get(&key).copied().unwrap_or(0);
        let sketched = self.sketch.as_ref().map_or(0, |s| {
            (0..SKETCH_DEPTH)
                .map(|row| s[row][column(key, row)])
                .min()
                .unwrap_or(0)
        });
        entry.saturating_add(sketched)
    }

    fn try_take(&mut self, key: u64, max: u32) -> Option<Held> {
        if self.count(key) >= max {
            return None;
        }
        if let Some(n) = self.map.get_mut(&key) {
            *n += 1;
            return Some(Held::Entry);
        }
        if self.map.len() < self.capacity {
            self.map.insert(key, 1);
            return Some(Held::Entry);
        }
        let sketch = self
            .sketch
            .get_or_insert_with(|| Box::new([[0; SKETCH_WIDTH]; SKETCH_DEPTH]));
        for (row, cells) in sketch.iter_mut().enumerate() {
            let cell = &mut cells[column(key, row)];
            *cell = cell.saturating_add(1);
        }
        Some(Held::Sketch)
    }

    fn give_back(&mut self, key: u64, held: Held) {
        match held {
            Held::Entry => {
                if let Some(n) = self.map.get_mut(&key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.map.remove(&key);
                    }
                }
            }
            Held::Sketch => {
                if let Some(sketch) = self.sketch.as_mut() {
                    for (row, cells) in sketch.iter_mut().enumerate() {
                        let cell = &mut cells[column(key, row)];
                        *cell = cell.saturating_sub(1);
                    }
                }
            }
        }
    }
}

fn column(key: u64, row: usize) -> usize {
    let mixed = key
        .rotate_left(u32::try_from(row).unwrap_or(0) * 16 + 7)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    usize::try_from(mixed >> 54).unwrap_or(0) % SKETCH_WIDTH
}

impl Drop for Permits {
    fn drop(&mut self) {
        for (i, key, held) in self.held.drain(..) {
            if let Some(rule) = self.inner.rules.get(i) {
                rule.shard(key).give_back(key, held);
            }
        }
    }
}

#[cfg(test)]
#[path = "concurrency_tests.rs"]
mod tests;
