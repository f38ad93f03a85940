//! A bounded, sharded table of per-key states that never frees a throttled client.
//!
//! Design:
//! - Each state is one `u64` whose meaning (a GCRA TAT, or a quota window and count) is
//!   given by [`StateKind`]; both are monotone: a larger state is never more generous,
//!   and every state has an instant after which it is the same as no entry at all (a TAT
//!   in the past is a full bucket; a quota from an ended window counts nothing).
//! - The table holds at most `max_keys` entries, split over up to 16 mutex-protected
//!   shards chosen by key hash, so concurrent requests for different keys rarely meet.
//! - Eviction only removes *expired* entries, so an evicted client comes back exactly as
//!   it would have been had it stayed. A shard sweeps when it is full, at most once per
//!   [`SWEEP_INTERVAL`] and not before its earliest entry can have expired (bounded work
//!   under a flood of new keys).
//! - When a shard is full of live entries, new keys go to a small conservative sketch
//!   (count-min style, [`SKETCH_DEPTH`] rows of [`SKETCH_WIDTH`] cells, each cell keeping
//!   the largest state hashed to it, a key reading the smallest of its cells). A key's
//!   estimate is never below its true state, so overflow keys are limited, possibly
//!   together with others, but never free. The sketch is allocated only on first overflow.
//! - A key missing from the table reads its sketch estimate, so a key that moves from the
//!   sketch into a freed slot keeps its history.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// How often a full shard may scan for expired entries, in nanoseconds of clock time.
pub(crate) const SWEEP_INTERVAL: u64 = 50_000_000;
/// Rows of the overflow sketch.
pub(crate) const SKETCH_DEPTH: usize = 4;
/// Cells per row of the overflow sketch (per shard).
pub(crate) const SKETCH_WIDTH: usize = 1024;
const MAX_SHARDS: usize = 16;
/// Bits of a quota state that hold the count; the rest is the window end in seconds.
pub(crate) const QUOTA_COUNT_BITS: u32 = 30;

/// What a stored `u64` means, which decides when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateKind {
    /// A GCRA theoretical arrival time, in Unix nanoseconds.
    Tat,
    /// `window_end_secs << QUOTA_COUNT_BITS | count`.
    Quota,
}

impl StateKind {
    /// The instant (Unix nanoseconds) from which `state` is the same as no entry.
    fn expires_at(self, state: u64) -> u64 {
        match self {
            Self::Tat => state,
            Self::Quota => (state >> QUOTA_COUNT_BITS).saturating_mul(1_000_000_000),
        }
    }
}

/// A bounded map from key hashes to states.
#[derive(Debug)]
pub(crate) struct Table {
    shards: Box<[Mutex<Shard>]>,
}

/// The keys are already keyed SipHash outputs; hashing them again would only cost time.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type IdentityMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

#[derive(Debug)]
struct Shard {
    map: IdentityMap<u64>,
    capacity: usize,
    kind: StateKind,
    /// No sweep before this instant (Unix nanoseconds).
    next_sweep: u64,
    sketch: Option<Box<[[u64; SKETCH_WIDTH]; SKETCH_DEPTH]>>,
}

/// The locked shard holding one key; read, then write at most once.
pub(crate) struct Slot<'a> {
    shard: MutexGuard<'a, Shard>,
    key: u64,
}

/// Splits `max_keys` over up to 16 shards of at least 256 keys.
pub(crate) fn shard_layout(max_keys: usize) -> (usize, usize) {
    let mut shards = (max_keys / 256).clamp(1, MAX_SHARDS);
    while !shards.is_power_of_two() {
        shards -= 1;
    }
    (shards, (max_keys / shards).max(1))
}

/// Which shard a key lives in (high bits, so the map's low-bit buckets stay uniform).
pub(crate) fn shard_index(key: u64, shards: usize) -> usize {
    usize::try_from(key >> 48).unwrap_or(0) & (shards - 1)
}

impl Table {
    /// A table of at most `max_keys` entries.
    pub(crate) fn new(max_keys: usize, kind: StateKind) -> Self {
        let (shards, capacity) = shard_layout(max_keys);
        Self {
            shards: (0..shards)
                .map(|_| {
                    Mutex::new(Shard {
                        map: IdentityMap::default(),
                        capacity,
                        kind,
                        next_sweep: 0,
                        sketch: None,
                    })
                })
                .collect(),
        }
    }

    /// Locks the shard of `key`.
    pub(crate) fn slot(&self, key: u64) -> Slot<'_> {
        let shard = &self.shards[shard_index(key, self.shards.len())];
        // A panic while holding a shard cannot leave a half-written u64 behind.
        let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        Slot { shard, key }
    }

    /// Entries held in the table proper (not the sketch).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }
}

impl Slot<'_> {
    /// The key's state: its entry, else its sketch estimate, else 0 (nothing known).
    pub(crate) fn get(&self) -> u64 {
        if let Some(state) = self.shard.map.get(&self.key) {
            return *state;
        }
        self.shard
            .sketch
            .as_ref()
            .map_or(0, |sketch| sketch_estimate(sketch, self.key))
    }

    /// Stores `state` for the key, evicting expired entries or overflowing into the
    /// sketch when the shard is full.
    pub(crate) fn set(&mut self, state: u64, now: u64) {
        let shard = &mut *self.shard;
        if let Some(slot) = shard.map.get_mut(&self.key) {
            *slot = state;
            return;
        }
        if shard.map.len() >= shard.capacity && now >= shard.next_sweep {
            shard.sweep(now);
        }
        if shard.map.len() < shard.capacity {
            shard.map.insert(self.key, state);
        } else {
            let sketch = shard
                .sketch
                .get_or_insert_with(|| Box::new([[0; SKETCH_WIDTH]; SKETCH_DEPTH]));
            for (row, cells) in sketch.iter_mut().enumerate() {
                let cell = &mut cells[sketch_column(self.key, row)];
                *cell = (*cell).max(state);
            }
        }
    }

    /// Replaces the key's stored entry with `f(entry)`; sketch estimates are left alone
    /// (they cannot be lowered for one key without lowering others).
    pub(crate) fn update_entry(&mut self, f: impl FnOnce(u64) -> u64) {
        if let Some(slot) = self.shard.map.get_mut(&self.key) {
            *slot = f(*slot);
        }
    }
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        let kind = self.kind;
        let mut earliest = u64::MAX;
        self.map.retain(|_, state| {
            let expiry = kind.expires_at(*state);
            if expiry <= now {
                return false;
            }
            earliest = earliest.min(expiry);
            true
        });
        self.next_sweep = earliest.max(now.saturating_add(SWEEP_INTERVAL));
    }
}

fn sketch_column(key: u64, row: usize) -> usize {
    const SEEDS: [u64; SKETCH_DEPTH] = [
        0x9E37_79B9_7F4A_7C15,
        0xC2B2_AE3D_27D4_EB4F,
        0x1656_67B1_9E37_79F9,
        0x27D4_EB2F_1656_67C5,
    ];
    let mixed = (key ^ SEEDS[row % SKETCH_DEPTH]).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    usize::try_from(mixed >> 54).unwrap_or(0) % SKETCH_WIDTH
}

fn sketch_estimate(sketch: &[[u64; SKETCH_WIDTH]; SKETCH_DEPTH], key: u64) -> u64 {
    (0..SKETCH_DEPTH)
        .map(|row| sketch[row][sketch_column(key, row)])
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
