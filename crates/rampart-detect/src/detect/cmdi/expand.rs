//! Globs and brace lists the shell expands in only one way: a one-byte bracket glob
//! (`c[a]t`, `adduse[r]`) is that byte, a brace list glued to a word (`{l,-lh}s`,
//! `c{a,oun}t`) is one word per item. The detector then reads what the shell would run.
//! Prose brackets stand apart from words ("see [a] and [b]", `[x] done`) and JSON or
//! LaTeX braces hold no comma list glued to a word, so they stay as they are.

use super::{command, is_word};

/// Largest expansion produced; past it the value is left as it was.
const MAX_OUTPUT: usize = 8192;
/// Longest brace list read (`{...}` with its braces).
const MAX_LIST: usize = 256;

/// What the expansion found.
pub(super) struct Expansion {
    /// The text with globs and brace lists expanded.
    pub(super) text: String,
    /// A command name the expansion assembled from pieces (`c[a]t`, `c{a,oun}t`,
    /// `adduse[r]`): prose never spells a command so.
    pub(super) assembled: Option<String>,
}

/// The text with one-byte bracket globs and glued brace lists expanded; `None` when it has
/// neither.
pub(super) fn expand(text: &str) -> Option<Expansion> {
    let b = text.as_bytes();
    memchr::memchr2(b'[', b'{', b)?;
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 16);
    let mut assembled = None;
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        let end = word_end(b, i);
        let word = &b[i..end];
        if assembled.is_none() && globbed_system_dir(word) {
            assembled = Some(String::from_utf8_lossy(word).into_owned());
            changed = true;
        }
        let expanded = expand_word(word);
        match expanded {
            Some((items, split)) => {
                changed = true;
                // The first item is the command name when the word is in command position.
                if assembled.is_none()
                    && let Some(first) = items.first()
                {
                    let lower = first.to_ascii_lowercase();
                    let strong = command(&lower) == Some(false);
                    if (strong || split && command(&lower).is_some()) && first.len() >= 2 {
                        assembled = Some(String::from_utf8_lossy(word).into_owned());
                    }
                }
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(item);
                }
            }
            None => out.extend_from_slice(word),
        }
        if out.len() > MAX_OUTPUT {
            return None;
        }
        // Copy the bytes between words.
        let next = b[end..]
            .iter()
            .position(|c| is_word_byte(*c))
            .map_or(b.len(), |p| end + p);
        out.extend_from_slice(&b[end..next]);
        i = next;
    }
    changed.then(|| Expansion {
        text: String::from_utf8_lossy(&out).into_owned(),
        assembled,
    })
}

/// Bytes of a word as far as globs and brace lists go: separators and whitespace end it.
fn is_word_byte(c: u8) -> bool {
    !c.is_ascii_whitespace() && !matches!(c, b';' | b'|' | b'&' | b'`' | b'(' | b')' | b'<' | b'>')
}

fn word_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| !is_word_byte(*c))
        .map_or(b.len(), |p| i + p)
}

/// The words one shell word expands to, and whether an expansion split a name (word bytes
/// on both sides of the glob or list); `None` when nothing in it expands.
fn expand_word(word: &[u8]) -> Option<(Vec<Vec<u8>>, bool)> {
    let globbed = single_globs(word);
    let (base, mut split) = match &globbed {
        Some((w, split)) => (w.as_slice(), *split),
        None => (word, false),
    };
    let braced = brace_list(base);
    if braced.is_none() && globbed.is_none() {
        return None;
    }
    let items = match braced {
        Some((items, glued)) => {
            split |= glued;
            items
        }
        None => vec![base.to_vec()],
    };
    Some((items, split))
}

/// `c[a]t` -> `cat`: every bracket holding one byte (or one byte repeated) replaced by
/// it. Only when each such bracket touches a word byte, so "[a]" standing alone stays.
/// The flag tells whether a bracket had word bytes on both sides.
fn single_globs(word: &[u8]) -> Option<(Vec<u8>, bool)> {
    memchr::memchr(b'[', word)?;
    let mut out = Vec::with_capacity(word.len());
    let mut split = false;
    let mut changed = false;
    let mut i = 0;
    while i < word.len() {
        if word[i] == b'['
            && let Some(len) = word[i + 1..].iter().take(8).position(|c| *c == b']')
            && len > 0
        {
            let inner = &word[i + 1..i + 1 + len];
            let one = inner[0];
            let before = i > 0 && is_word(word[i - 1]);
            let after = word.get(i + 2 + len).is_some_and(|c| is_word(*c));
            // An index glued to a short name (`v[i]`, `ab[0]`) is code, not a glob.
            let long = i >= 3 || word.len() - (i + 2 + len) >= 3;
            if (one.is_ascii_alphanumeric() || matches!(one, b'.' | b'-' | b'_'))
                && inner.iter().all(|c| *c == one)
                && (before && after || (before || after) && long)
            {
                out.push(one);
                split |= before && after;
                changed = true;
                i += len + 2;
                continue;
            }
        }
        out.push(word[i]);
        i += 1;
    }
    changed.then_some((out, split))
}

/// Whether `word` opens with a system directory spelled through bracket globs (`/[e]tc`,
/// `/[e///]tc`, `/b[i]n/sh`): each bracket holds one letter, perhaps with slashes, which a
/// path glob never matches. Route templates (`/[id]`, `/[...slug]`) name no such directory.
fn globbed_system_dir(word: &[u8]) -> bool {
    const DIRS: [&[u8]; 12] = [
        b"etc", b"bin", b"sbin", b"usr", b"proc", b"dev", b"tmp", b"var", b"root", b"home",
        b"boot", b"sys",
    ];
    let Some(segment) = word.strip_prefix(b"/") else {
        return false;
    };
    let mut name = [0u8; 8];
    let mut n = 0;
    let mut brackets = 0;
    let mut i = 0;
    // The first segment: slashes inside a bracket belong to it.
    while i < segment.len() && segment[i] != b'/' {
        let c = segment[i];
        let one = if c == b'[' {
            let Some(len) = segment[i + 1..].iter().take(8).position(|c| *c == b']') else {
                return false;
            };
            let inner = &segment[i + 1..i + 1 + len];
            let mut letters = inner.iter().filter(|c| **c != b'/');
            let Some(&first) = letters.next() else {
                return false;
            };
            if !letters.all(|c| *c == first) {
                return false;
            }
            brackets += 1;
            i += len + 2;
            first
        } else {
            i += 1;
            c
        };
        if n == name.len() || !one.is_ascii_alphabetic() {
            return false;
        }
        name[n] = one.to_ascii_lowercase();
        n += 1;
    }
    brackets > 0 && DIRS.contains(&&name[..n])
}

/// `pre{a,b}suf` -> `preasuf`, `prebsuf` (the first list only); `None` without a list.
/// The flag tells whether the list was glued to word bytes (a prefix or a suffix).
fn brace_list(word: &[u8]) -> Option<(Vec<Vec<u8>>, bool)> {
    let open = memchr::memchr(b'{', word)?;
    let close = open + memchr::memchr(b'}', &word[open..])?;
    let inner = &word[open + 1..close];
    // `":` marks a JSON object (`{"alg":"RS256","typ":"JWT"}`), which values carry far
    // more often than a quoted brace list; its expansion would only cost a second pass.
    let json_object = inner.windows(2).any(|w| w == b"\":");
    if close - open > MAX_LIST
        || memchr::memchr(b',', inner).is_none()
        || inner.contains(&b'{')
        || json_object
    {
        return None;
    }
    let (pre, suf) = (&word[..open], &word[close + 1..]);
    let items = inner
        .split(|c| *c == b',')
        .filter(|item| !item.is_empty())
        .map(|item| [pre, item, suf].concat())
        .collect();
    Some((items, !pre.is_empty() || !suf.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_globs_and_lists_with_one_reading() {
        let cases = [
            (
                "c[a]t /e[t]c/passwd",
                Some("cat /etc/passwd"),
                Some("c[a]t"),
            ),
            ("adduse[r]", Some("adduser"), Some("adduse[r]")),
            ("{l,-lh}s", Some("ls -lhs"), Some("{l,-lh}s")),
            ("c{a,oun}t", Some("cat count"), Some("c{a,oun}t")),
            ("{cat,/etc/passwd}", Some("cat /etc/passwd"), None),
            ("w[h][o]ami", Some("whoami"), Some("w[h][o]ami")),
            ("see [a] and [b]", None, None),
            ("[x] done", None, None),
            ("regex [a-z]+", None, None),
            ("items[0] and arr[i]", Some("items0 and arri"), None),
            ("\\section{intro}", None, None),
            ("[T]ime is money", Some("Time is money"), None),
            ("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", None, None),
        ];
        for (text, want, assembled) in cases {
            let got = expand(text);
            assert_eq!(got.as_ref().map(|e| e.text.as_str()), want, "{text}");
            assert_eq!(
                got.as_ref().and_then(|e| e.assembled.as_deref()),
                assembled,
                "{text}"
            );
        }
    }

    #[test]
    fn output_stays_bounded() {
        let text = "a{b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z}z ".repeat(400);
        assert!(expand(&text).is_none_or(|e| e.text.len() <= super::MAX_OUTPUT + 256));
    }
}
