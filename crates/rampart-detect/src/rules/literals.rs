//! The literal prefilter as a flat table: an Aho-Corasick DFA (ASCII case-insensitive,
//! standard semantics, so every state knows every literal ending there) copied into one
//! transition array over byte classes, with the states that end a literal numbered last.
//! Scanning a value is then one load per byte and one compare, where the automaton's
//! overlapping iterator paid for match bookkeeping on every byte: this scan runs over
//! almost every value of every request.

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};
use std::collections::{HashMap, HashSet};

/// Literals (already lowercased) compiled for [`Literals::scan`].
#[derive(Debug)]
pub(crate) struct Literals {
    /// Byte to class: one class per byte occurring in a literal (both ASCII cases share
    /// it), class 0 for every other byte (from any state it leads back to the start).
    classes: [u8; 256],
    /// Number of classes: the row length of `trans`.
    stride: usize,
    /// `trans[state + class]`: the next state, premultiplied by `stride`.
    trans: Vec<u32>,
    start: u32,
    /// States from this one on end at least one literal.
    first_match: u32,
    /// Per match state (`(state - first_match) / stride`): the literals ending there.
    matches: Vec<Vec<u32>>,
}

impl Literals {
    pub(crate) fn new(patterns: &[String]) -> Result<Self, String> {
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .map_err(|e| e.to_string())?;
        let mut classes = [0u8; 256];
        let mut reps = vec![0u8];
        for b in patterns.iter().flat_map(|p| p.bytes()) {
            let b = b.to_ascii_lowercase();
            if classes[usize::from(b)] == 0 {
                let class = u8::try_from(reps.len()).map_err(|_| "too many byte classes")?;
                classes[usize::from(b)] = class;
                classes[usize::from(b.to_ascii_uppercase())] = class;
                // A byte outside every literal stands for class 0.
                reps.push(b);
            }
        }
        reps[0] = (0..=255u8)
            .find(|b| classes[usize::from(*b)] == 0)
            .ok_or("no byte outside the literals")?;
        // Every reachable state, then match states last.
        let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
        let mut order = vec![start];
        let mut seen = HashSet::from([start]);
        let mut i = 0;
        while i < order.len() {
            let sid = order[i];
            for &b in &reps {
                let next = dfa.next_state(Anchored::No, sid, b);
                if seen.insert(next) {
                    order.push(next);
                }
            }
            i += 1;
        }
        order.sort_by_key(|sid| dfa.is_match(*sid));
        let stride = reps.len();
        let index: HashMap<_, u32> = order
            .iter()
            .enumerate()
            .map(|(n, sid)| u32::try_from(n * stride).map(|id| (*sid, id)))
            .collect::<Result<_, _>>()
            .map_err(|_| "literal automaton too large")?;
        let mut trans = Vec::with_capacity(order.len() * stride);
        let mut matches = Vec::new();
        for &sid in &order {
            trans.extend(
                reps.iter()
                    .map(|&b| index[&dfa.next_state(Anchored::No, sid, b)]),
            );
            if dfa.is_match(sid) {
                let m = (0..dfa.match_len(sid))
                    .map(|k| dfa.match_pattern(sid, k).as_u32())
                    .collect();
                matches.push(m);
            }
        }
        let non_match = order.len() - matches.len();
        Ok(Literals {
            classes,
            stride,
            trans,
            start: index[&start],
            first_match: u32::try_from(non_match * stride).map_err(|_| "too large")?,
            matches,
        })
    }

    /// Calls `found` with the index of every literal occurring in `text` (ASCII
    /// case-insensitive), once per occurrence.
    // Out of line: inlined into the engine's variant loop it cost ~8% more instructions.
    #[inline(never)]
    pub(crate) fn scan(&self, text: &[u8], mut found: impl FnMut(usize)) {
        let mut rest = text;
        let mut s = self.start;
        while let Some((state, after)) = self.next_match(rest, s) {
            let m = (state - self.first_match) as usize / self.stride;
            for &p in self.matches.get(m).map_or(&[][..], Vec::as_slice) {
                found(p as usize);
            }
            s = state;
            rest = after;
        }
    }

    /// Runs the automaton from state `s` over `text` up to the first match state: that
    /// state and the bytes after it. Kept apart from the match handling so the per-byte
    /// loop holds its few values in registers (it runs over almost every byte screened),
    /// and four bytes a round with one test for a match among them.
    fn next_match<'t>(&self, text: &'t [u8], mut s: u32) -> Option<(u32, &'t [u8])> {
        let (classes, trans, first_match) =
            (&self.classes, self.trans.as_slice(), self.first_match);
        // Every state plus a class is in the table; clamping the index instead of checking
        // it keeps a branch out of the per-byte loop.
        let last = trans.len().checked_sub(1)?;
        let step = |s: u32, b: u8| {
            let class = usize::from(classes[usize::from(b)]);
            trans[(s as usize + class).min(last)]
        };
        let mut rest = text;
        while let [a, b, c, d, tail @ ..] = rest {
            let s1 = step(s, *a);
            let s2 = step(s1, *b);
            let s3 = step(s2, *c);
            let s4 = step(s3, *d);
            if s1.max(s2).max(s3.max(s4)) >= first_match {
                // The first match state among the four: scanning resumes after it.
                return [s1, s2, s3, s4]
                    .into_iter()
                    .zip(1..)
                    .find(|(st, _)| *st >= first_match)
                    .map(|(st, used)| (st, rest.get(used..).unwrap_or_default()));
            }
            s = s4;
            rest = tail;
        }
        for (i, &b) in rest.iter().enumerate() {
            s = step(s, b);
            if s >= first_match {
                return Some((s, rest.get(i + 1..).unwrap_or_default()));
            }
        }
        None
    }

    /// Bytes held by the tables.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.trans.len() * 4 + self.matches.iter().map(|m| 24 + m.len() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]

    use aho_corasick::{AhoCorasick, MatchKind};

    use super::Literals;
    use crate::rules::{self, Matcher};

    /// The built-in literals of two bytes or more and every detector atom, lowercased.
    fn builtin_patterns() -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for rule in rules::parse(rules::BUILTIN_RULES).unwrap() {
            match &rule.matcher {
                Matcher::Pattern { literals, .. } => out.extend(literals.iter().cloned()),
                Matcher::Detector(d) => {
                    out.extend(d.needs().atoms.iter().map(|a| a.to_ascii_lowercase()));
                }
            }
        }
        out.retain(|p| p.len() > 1);
        out.dedup();
        out
    }

    /// Every occurrence, as the automaton's overlapping iterator reports them.
    fn reference(ac: &AhoCorasick, text: &[u8]) -> Vec<usize> {
        let mut v: Vec<usize> = ac
            .find_overlapping_iter(text)
            .map(|m| m.pattern().as_usize())
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn flat_table_finds_what_the_automaton_finds() {
        let patterns = builtin_patterns();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .unwrap();
        let lits = Literals::new(&patterns).unwrap();
        assert!(lits.memory() < 4 << 20, "{} bytes", lits.memory());
        // Texts glued from pieces of literals (in both cases), random bytes and prose.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed = crate::testing::xorshift(seed);
            seed
        };
        for _ in 0..20_000 {
            let mut text = Vec::new();
            for _ in 0..next() % 8 {
                let p = patterns[(next() % patterns.len() as u64) as usize].as_bytes();
                let from = (next() % p.len() as u64) as usize;
                let to = from + (next() % (p.len() - from) as u64) as usize + 1;
                for &b in &p[from..to] {
                    text.push(if next() % 3 == 0 {
                        b.to_ascii_uppercase()
                    } else {
                        b
                    });
                }
                if next() % 2 == 0 {
                    text.push((next() % 256) as u8);
                }
            }
            let mut got = Vec::new();
            lits.scan(&text, |p| got.push(p));
            got.sort_unstable();
            assert_eq!(
                got,
                reference(&ac, &text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
