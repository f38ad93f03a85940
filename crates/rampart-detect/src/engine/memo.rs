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
/// Fewest body fields for which a scan remembers clean values: a smaller body repeats
/// too few of them to repay hashing and storing every one. Measured on order batches:
/// the memo costs 3.7 % at 165 fields, breaks even near 280, saves 1.9 % at 4 KiB.
pub(super) const MIN_FIELDS: usize = 256;

/// Clean `(kind, value)` pairs of one scan.
#[derive(Debug, Default)]
pub(super) struct CleanMemo {
    /// Hash seed, drawn per scan so a client cannot aim values at one probe chain.
    seed: Option<u64>,
    /// Empty until the first insertion; grown fourfold when half full, up to [`SLOTS`].
    slots: Vec<Slot>,
    filled: usize,
    arena: Vec<u8>,
    /// Remembers nothing: the scan's body is too small to repay it.
    off: bool,
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
    /// The empty slot the lookup ended on, valid while `filled` is unchanged: the insert
    /// after a miss then needs no second probe.
    slot: usize,
    filled: usize,
}

/// What the memo knows of a value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Lookup {
    /// Such values are not remembered.
    Never,
    /// Found clean before, charging this many decoded bytes.
    Clean(usize),
    /// Not seen; insert it with this key if found clean.
    Miss(Key),
}

impl CleanMemo {
    /// Stops (or resumes) remembering: lookups answer [`Lookup::Never`] meanwhile.
    pub(super) fn switch_off(&mut self, off: bool) {
        self.off = off;
    }

    /// Looks `value` seen as `kind` up. Only body keys and leaves repeat often enough to
    /// pay for the lookup.
    #[inline]
    pub(super) fn lookup(&mut self, kind: FieldKind, value: &[u8]) -> Lookup {
        if self.off
            || !matches!(kind, FieldKind::BodyKey | FieldKind::BodyValue)
            || value.is_empty()
            || value.len() > MAX_VALUE
        {
            return Lookup::Never;
        }
        let seed = *self
            .seed
            .get_or_insert_with(|| RandomState::new().hash_one(0u64));
        let mut key = Key {
            hash: hash(seed, value),
            kind: kind as u8,
            slot: usize::MAX,
            filled: self.filled,
        };
        match self.probe(key, value) {
            Ok(i) => Lookup::Clean(self.slots.get(i).map_or(0, |s| s.charged as usize)),
            Err(i) => {
                key.slot = i;
                Lookup::Miss(key)
            }
        }
    }

    /// Remembers `value` (with the key of its [`Lookup::Miss`]) as clean; `charged` is the
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
        let grow = self.filled >= self.slots.len() / 2;
        if grow {
            self.grow();
        }
        if self.arena.capacity() == 0 {
            // Room for a few dozen short values at once rather than a doubling per value.
            self.arena.reserve(FIRST_ARENA);
        }
        let empty = |i: usize| self.slots.get(i).is_some_and(|s| s.len == 0);
        let at = if !grow && key.filled == self.filled && empty(key.slot) {
            Err(key.slot)
        } else {
            // The table changed since the lookup.
            self.probe(key, value)
        };
        if let Err(i) = at
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

    /// A table four times the size (or the first one), with every entry placed again:
    /// fewer regrowths for a batch of many values.
    fn grow(&mut self) {
        let size = (self.slots.len() * 4).clamp(FIRST_SLOTS, SLOTS);
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

/// Second-chance replacement over `n` slots: from `*hand` on, the first slot not used
/// since the hand last passed it. `was_used(i)` says whether slot `i` was, and clears
/// its mark: a full round clears every mark, so the search ends within two.
pub(super) fn second_chance(
    hand: &mut usize,
    n: usize,
    mut was_used: impl FnMut(usize) -> bool,
) -> usize {
    loop {
        let at = *hand;
        *hand = (at + 1) % n;
        if !was_used(at) {
            return at;
        }
    }
}

/// A folded-multiply hash (as in wyhash) over 16-byte steps, seeded: a value of up to 16
/// bytes, most of them, costs one multiply.
pub(super) fn hash(seed: u64, value: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let n = value.len();
    let mut h = seed ^ (n as u64).wrapping_mul(K);
    let mut rest = value;
    while let Some((step, more)) = rest.split_first_chunk::<16>()
        && !more.is_empty()
    {
        h = fold(word(step) ^ h, word(&step[8..]) ^ K);
        rest = more;
    }
    // The last bytes as two loads, overlapping when fewer than 16 (the length is mixed in).
    let (a, b) = match n {
        17.. => (word(&value[n - 16..]), word(&value[n - 8..])),
        8..=16 => (word(value), word(&value[n - 8..])),
        4..=7 => (u64::from(half(value)), u64::from(half(&value[n - 4..]))),
        1..=3 => {
            let byte = |i: usize| u64::from(value[i]);
            (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16, 0)
        }
        0 => (0, 0),
    };
    fold(a ^ h, b ^ K)
}

/// The 128-bit product of `a` and `b`, its halves xored.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ (p >> 64) as u64
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

    use super::{CleanMemo, Key, Lookup};
    use crate::field::FieldKind;

    fn miss(memo: &mut CleanMemo, kind: FieldKind, value: &[u8]) -> Option<Key> {
        match memo.lookup(kind, value) {
            Lookup::Miss(key) => Some(key),
            _ => None,
        }
    }

    fn clean(memo: &mut CleanMemo, kind: FieldKind, value: &[u8]) -> Option<usize> {
        match memo.lookup(kind, value) {
            Lookup::Clean(charged) => Some(charged),
            _ => None,
        }
    }

    #[test]
    fn remembers_values_by_kind_and_whole_bytes() {
        let mut memo = CleanMemo::default();
        let k = miss(&mut memo, FieldKind::BodyValue, b"shipped").unwrap();
        memo.insert(k, b"shipped", 3);
        assert_eq!(clean(&mut memo, FieldKind::BodyValue, b"shipped"), Some(3));
        // Same bytes as another kind, and other bytes, are misses.
        assert!(miss(&mut memo, FieldKind::BodyKey, b"shipped").is_some());
        assert!(miss(&mut memo, FieldKind::BodyValue, b"shipper").is_some());
        // Head values are never remembered: they rarely repeat within a request.
        assert!(matches!(
            memo.lookup(FieldKind::HeaderValue, b"shipped"),
            Lookup::Never
        ));
        assert!(matches!(
            memo.lookup(FieldKind::BodyValue, b""),
            Lookup::Never
        ));
    }

    #[test]
    fn remembers_nothing_while_switched_off() {
        let mut memo = CleanMemo::default();
        let k = miss(&mut memo, FieldKind::BodyKey, b"status").unwrap();
        memo.insert(k, b"status", 0);
        memo.switch_off(true);
        for kind in [FieldKind::BodyKey, FieldKind::BodyValue] {
            assert!(matches!(memo.lookup(kind, b"status"), Lookup::Never));
        }
        memo.switch_off(false);
        assert_eq!(clean(&mut memo, FieldKind::BodyKey, b"status"), Some(0));
    }

    #[test]
    fn a_stale_key_is_placed_again() {
        let mut memo = CleanMemo::default();
        // Both missed before either went in: the second insert must probe again.
        let a = miss(&mut memo, FieldKind::BodyValue, b"alpha").unwrap();
        let b = miss(&mut memo, FieldKind::BodyValue, b"beta").unwrap();
        memo.insert(a, b"alpha", 0);
        memo.insert(b, b"beta", 1);
        assert_eq!(clean(&mut memo, FieldKind::BodyValue, b"alpha"), Some(0));
        assert_eq!(clean(&mut memo, FieldKind::BodyValue, b"beta"), Some(1));
        for i in 0..200u32 {
            let v = format!("v{i}");
            let k = miss(&mut memo, FieldKind::BodyValue, v.as_bytes()).unwrap();
            memo.insert(k, v.as_bytes(), 2);
        }
        // Every value survives the growth of the table.
        for i in 0..200u32 {
            let v = format!("v{i}");
            assert_eq!(
                clean(&mut memo, FieldKind::BodyValue, v.as_bytes()),
                Some(2)
            );
        }
    }

    #[test]
    fn stays_within_its_bounds() {
        let mut memo = CleanMemo::default();
        for i in 0..5_000u32 {
            let v = format!("value-{i}-{}", "x".repeat(40));
            let k = miss(&mut memo, FieldKind::BodyValue, v.as_bytes()).unwrap();
            memo.insert(k, v.as_bytes(), 0);
        }
        assert!(memo.filled <= super::SLOTS / 2);
        assert!(memo.arena.len() <= super::MAX_BYTES);
        // The first values are still found, later ones were not remembered.
        let first = format!("value-0-{}", "x".repeat(40));
        assert_eq!(
            clean(&mut memo, FieldKind::BodyValue, first.as_bytes()),
            Some(0)
        );
        let last = format!("value-4999-{}", "x".repeat(40));
        assert!(miss(&mut memo, FieldKind::BodyValue, last.as_bytes()).is_some());
    }
}
