//! Values a scan already found clean, so a body repeating a key or a value (the same keys
//! in every object of a batch array, a status repeated per item) pays for inspecting it
//! once. Entries compare the whole value, not just its hash: a value crafted to collide
//! with a clean one must not skip inspection. Bounded per scan in entries and bytes.
//!
//! The hash is a word-at-a-time multiply hash seeded per scan (SipHash cost more than
//! inspecting a short value). It only spreads values over slots: a client piling its
//! values onto one slot costs a probe walk bounded by the table size, never a miss.

use std::hash::{BuildHasher, RandomState};

use crate::field::FieldKind;

/// Most table slots (a power of two); at most half are filled so a probe always ends.
const SLOTS: usize = 1024;
/// Slots of the first table: small requests should not pay for zeroing the full one.
const FIRST_SLOTS: usize = 64;
/// Bytes the arena starts with.
const FIRST_ARENA: usize = 1 << 10;
/// Bytes of remembered values per scan.
const MAX_BYTES: usize = 64 << 10;
/// Longest value remembered: longer ones rarely repeat and would crowd the others out.
const MAX_VALUE: usize = 4 << 10;

/// Clean `(kind, value)` pairs of one scan.
#[derive(Debug, Default)]
pub(super) struct CleanMemo {
    /// Hash seed, drawn per scan so a client cannot aim values at one probe chain.
    seed: Option<u64>,
    /// Empty until the first insertion; doubled when half full, up to [`SLOTS`].
    slots: Vec<Slot>,
    filled: usize,
    arena: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    hash: u64,
    start: u32,
    /// 0 marks an empty slot (empty values are not remembered).
    len: u32,
    kind: u8,
    /// Decoded bytes the first inspection charged to the budget.
    charged: u32,
}

/// Where a value is, or would go, in the table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Key {
    hash: u64,
    kind: u8,
}

impl CleanMemo {
    /// The key of `value` seen as `kind`, or `None` when such values are not remembered:
    /// only body keys and leaves repeat often enough to pay for the lookup.
    #[inline]
    pub(super) fn key(&mut self, kind: FieldKind, value: &[u8]) -> Option<Key> {
        if !matches!(kind, FieldKind::BodyKey | FieldKind::BodyValue)
            || value.is_empty()
            || value.len() > MAX_VALUE
        {
            return None;
        }
        let seed = *self
            .seed
            .get_or_insert_with(|| RandomState::new().hash_one(0u64));
        Some(Key {
            hash: hash(seed, value),
            kind: kind as u8,
        })
    }

    /// The bytes charged when `value` was found clean, or `None` if it was not seen.
    pub(super) fn find(&self, key: Key, value: &[u8]) -> Option<usize> {
        match self.probe(key, value) {
            Ok(i) => self.slots.get(i).map(|s| s.charged as usize),
            Err(_) => None,
        }
    }

    /// Remembers `value` (with `key` from [`CleanMemo::key`]) as clean; `charged` is the
    /// decoded bytes its inspection charged. Ignored once the memo is full.
    pub(super) fn insert(&mut self, key: Key, value: &[u8], charged: usize) {
        if self.filled >= SLOTS / 2 || self.arena.len() + value.len() > MAX_BYTES {
            return;
        }
        let (Ok(start), Ok(len), Ok(charged)) = (
            u32::try_from(self.arena.len()),
            u32::try_from(value.len()),
            u32::try_from(charged),
        ) else {
            return;
        };
        if self.filled >= self.slots.len() / 2 {
            self.grow();
        }
        if self.arena.capacity() == 0 {
            // Room for a few dozen short values at once rather than a doubling per value.
            self.arena.reserve(FIRST_ARENA);
        }
        if let Err(i) = self.probe(key, value)
            && let Some(slot) = self.slots.get_mut(i)
        {
            *slot = Slot {
                hash: key.hash,
                start,
                len,
                kind: key.kind,
                charged,
            };
            self.arena.extend_from_slice(value);
            self.filled += 1;
        }
    }

    /// A table twice the size (or the first one), with every entry placed again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).clamp(FIRST_SLOTS, SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        for s in old.into_iter().filter(|s| s.len != 0) {
            let mut i = s.hash as usize & (size - 1);
            while self.slots.get(i).is_some_and(|t| t.len != 0) {
                i = (i + 1) & (size - 1);
            }
            if let Some(t) = self.slots.get_mut(i) {
                *t = s;
            }
        }
    }

    /// `Ok(slot)` holding `value`, or `Err(empty slot)` where it would go.
    fn probe(&self, key: Key, value: &[u8]) -> Result<usize, usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = key.hash as usize & mask;
        // Bounded by the table size; an empty slot always exists (at most half are filled).
        for _ in 0..self.slots.len() {
            let s = self.slots[i];
            if s.len == 0 {
                return Err(i);
            }
            if s.hash == key.hash
                && s.kind == key.kind
                && self.arena.get(s.start as usize..(s.start + s.len) as usize) == Some(value)
            {
                return Ok(i);
            }
            i = (i + 1) & mask;
        }
        Err(usize::MAX)
    }
}

/// A multiply-xorshift hash over 8-byte words, seeded.
fn hash(seed: u64, value: &[u8]) -> u64 {
    const M: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (value.len() as u64).wrapping_mul(M);
    let mut mix = |w: u64| {
        h = (h ^ w).wrapping_mul(M);
        h ^= h >> 29;
    };
    let mut words = value.chunks_exact(8);
    for w in &mut words {
        mix(word(w));
    }
    // The tail as one or two overlapping loads (the length is mixed in already), not byte
    // by byte: most values are short, so the tail is much of the work.
    let tail = words.remainder();
    let n = value.len();
    match (
        tail.len(),
        value.get(n.wrapping_sub(8)..),
        value.get(n.wrapping_sub(4)..),
    ) {
        (0, _, _) => {}
        (_, Some(last8), _) => mix(word(last8)),
        (4.., _, Some(last4)) => mix(u64::from(half(tail)) << 32 | u64::from(half(last4))),
        _ => mix(tail.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b))),
    }
    h ^= h >> 32;
    h.wrapping_mul(M) ^ (h >> 27)
}

/// The first 8 bytes of `b` (at least 8) as a little-endian word.
fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes(
        b.get(..8)
            .and_then(|w| w.try_into().ok())
            .unwrap_or_default(),
    )
}

/// The first 4 bytes of `b` (at least 4) as a little-endian word.
fn half(b: &[u8]) -> u32 {
    u32::from_le_bytes(
        b.get(..4)
            .and_then(|w| w.try_into().ok())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use super::CleanMemo;
    use crate::field::FieldKind;

    #[test]
    fn remembers_values_by_kind_and_whole_bytes() {
        let mut memo = CleanMemo::default();
        let k = memo.key(FieldKind::BodyValue, b"shipped").unwrap();
        assert_eq!(memo.find(k, b"shipped"), None);
        memo.insert(k, b"shipped", 3);
        assert_eq!(memo.find(k, b"shipped"), Some(3));
        // Same bytes as another kind, and other bytes under the same key, are misses.
        let key = memo.key(FieldKind::BodyKey, b"shipped").unwrap();
        assert_eq!(memo.find(key, b"shipped"), None);
        assert_eq!(memo.find(k, b"shipper"), None);
        // Head values are never remembered: they rarely repeat within a request.
        assert!(memo.key(FieldKind::HeaderValue, b"shipped").is_none());
        assert!(memo.key(FieldKind::BodyValue, b"").is_none());
    }

    #[test]
    fn stays_within_its_bounds() {
        let mut memo = CleanMemo::default();
        for i in 0..5_000u32 {
            let v = format!("value-{i}-{}", "x".repeat(40));
            let k = memo.key(FieldKind::BodyValue, v.as_bytes()).unwrap();
            memo.insert(k, v.as_bytes(), 0);
        }
        assert!(memo.filled <= super::SLOTS / 2);
        assert!(memo.arena.len() <= super::MAX_BYTES);
        // The first values are still found, later ones were not remembered.
        let first = format!("value-0-{}", "x".repeat(40));
        let k = memo.key(FieldKind::BodyValue, first.as_bytes()).unwrap();
        assert_eq!(memo.find(k, first.as_bytes()), Some(0));
        let last = format!("value-4999-{}", "x".repeat(40));
        let k = memo.key(FieldKind::BodyValue, last.as_bytes()).unwrap();
        assert_eq!(memo.find(k, last.as_bytes()), None);
    }
}
