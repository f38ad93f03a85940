//! Lists and sets of locations (JSON pointers, parameter names) kept in one buffer: a
//! batch body pins thousands of values, and a `String` per location cost an allocation
//! and a free each, more than validating the value. JSON leaves are named by position
//! instead, in a bit set.

use std::hash::BuildHasher;

/// Locations in the order pushed; truncating drops the newest (a failed branch's pins).
#[derive(Debug, Clone, Default)]
pub(crate) struct List {
    text: String,
    ends: Vec<usize>,
}

impl List {
    pub(crate) fn push(&mut self, location: &str) {
        self.text.push_str(location);
        self.ends.push(self.text.len());
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Keeps the first `n` locations.
    pub(crate) fn truncate(&mut self, n: usize) {
        if n < self.ends.len() {
            self.ends.truncate(n);
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| self.text.get(start..end).unwrap_or_default())
    }
}

/// A set of locations. The hash is seeded (the locations are the client's, so a fixed
/// hash would let it pile them onto one probe chain), and a lookup compares the whole
/// location: a look-alike never passes for a pinned one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Set {
    list: List,
    /// Open addressing: `index + 1` of a location in `list`, 0 for an empty slot; at
    /// most half full, so every probe ends.
    slots: Vec<u32>,
    hasher: foldhash::quality::RandomState,
}

impl Set {
    pub(crate) fn contains(&self, location: &str) -> bool {
        self.find(location).is_ok()
    }

    pub(crate) fn insert(&mut self, location: &str) {
        if self.slots.len() < 2 * (self.list.len() + 1) {
            self.grow();
        }
        let Ok(index) = u32::try_from(self.list.len() + 1) else {
            return;
        };
        if let Err(slot) = self.find(location)
            && let Some(s) = self.slots.get_mut(slot)
        {
            *s = index;
            self.list.push(location);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// `Ok(slot)` holding `location`, or `Err(empty slot)` where it would go.
    fn find(&self, location: &str) -> Result<usize, usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = self.hasher.hash_one(location) as usize & mask;
        for _ in 0..self.slots.len() {
            let at = self.slots[i] as usize;
            if at == 0 {
                return Err(i);
            }
            if self.get(at - 1) == Some(location) {
                return Ok(i);
            }
            i = (i + 1) & mask;
        }
        Err(usize::MAX)
    }

    fn get(&self, index: usize) -> Option<&str> {
        let start = match index {
            0 => 0,
            i => *self.list.ends.get(i - 1)?,
        };
        self.list.text.get(start..*self.list.ends.get(index)?)
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        self.slots = vec![0; size];
        let mask = size - 1;
        for index in 0..self.list.len() {
            let Some(location) = self.get(index) else {
                continue;
            };
            let mut i = self.hasher.hash_one(location) as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = u32::try_from(index + 1).unwrap_or(0);
        }
    }
}

impl<'a> Extend<&'a str> for Set {
    fn extend<I: IntoIterator<Item = &'a str>>(&mut self, items: I) {
        for location in items {
            self.insert(location);
        }
    }
}

/// A set of leaf positions, one bit each: a body's positions are dense and bounded by
/// its parser's limits, so the set is at most one bit per leaf.
#[derive(Debug, Clone, Default)]
pub(crate) struct Leaves {
    words: Vec<u64>,
    len: usize,
}

impl Leaves {
    pub(crate) fn contains(&self, leaf: usize) -> bool {
        self.words
            .get(leaf / 64)
            .is_some_and(|w| w & (1 << (leaf % 64)) != 0)
    }

    pub(crate) fn insert(&mut self, leaf: usize) {
        let word = leaf / 64;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let bit = 1 << (leaf % 64);
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.len += 1;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl<'a> Extend<&'a u32> for Leaves {
    fn extend<I: IntoIterator<Item = &'a u32>>(&mut self, items: I) {
        for &leaf in items {
            self.insert(leaf as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{Leaves, List, Set};

    #[test]
    fn leaves_answer_as_a_hash_set() {
        let mut ours = Leaves::default();
        let mut want = HashSet::new();
        for i in 0..3_000usize {
            let leaf = (i * i * 31 + 7) % 9_001;
            ours.insert(leaf);
            want.insert(leaf);
        }
        assert_eq!(ours.len(), want.len());
        for leaf in 0..9_100 {
            assert_eq!(ours.contains(leaf), want.contains(&leaf), "{leaf}");
        }
        assert!(!Leaves::default().contains(0));
    }

    #[test]
    fn list_keeps_order_and_truncates_the_newest() {
        let mut list = List::default();
        for p in ["/a", "", "/b/0", "/c~1d"] {
            list.push(p);
        }
        assert_eq!(list.iter().collect::<Vec<_>>(), ["/a", "", "/b/0", "/c~1d"]);
        list.truncate(2);
        list.push("/e");
        assert_eq!(list.iter().collect::<Vec<_>>(), ["/a", "", "/e"]);
        list.truncate(0);
        assert_eq!(list.len(), 0);
        assert_eq!(list.iter().count(), 0);
    }

    /// The set answers as `HashSet<String>` through growth, duplicates, the empty
    /// location and look-alikes (prefixes, one byte off).
    #[test]
    fn set_answers_as_a_hash_set() {
        let mut ours = Set::default();
        let mut want = HashSet::new();
        for i in 0..5_000u32 {
            let p = format!(
                "/records/{}/{}",
                i % 700,
                ["id", "sku", "price"][(i % 3) as usize]
            );
            ours.insert(&p);
            want.insert(p);
        }
        ours.insert("");
        want.insert(String::new());
        assert_eq!(ours.len(), want.len());
        for i in 0..800u32 {
            for key in ["id", "sku", "price", "pric", "prices", "Id"] {
                let p = format!("/records/{i}/{key}");
                assert_eq!(ours.contains(&p), want.contains(&p), "{p}");
            }
        }
        assert!(ours.contains("") && !ours.contains("/") && !ours.contains("/records"));
    }
}
