//! Path traversal: a `..` segment followed by a separator and another path segment,
//! with backslashes and dot runs (`....//`, `..;/`) as evasions. Decoding (percent,
//! overlong UTF-8) happens before. In prose, `../` followed by a space ("how to use ../ in
//! bash") is a mention, not a path, and passes; in the URL path any `..` segment is
//! traversal, including a trailing `/..`.

use std::ops::Range;

/// Characters some servers map to `.`, `/` or `\\` ("best fit" mappings, fullwidth forms).
const LOOKALIKES: &[(char, char)] = &[
    ('\u{2215}', '/'),
    ('\u{2044}', '/'),
    ('\u{ff0f}', '/'),
    ('\u{2216}', '\\'),
    ('\u{ff3c}', '\\'),
    ('\u{ff0e}', '.'),
    ('\u{2024}', '.'),
];

/// Detects a traversal sequence in `text`; `in_path` for the URL path.
pub(crate) fn detect(text: &str, in_path: bool) -> Option<Range<usize>> {
    // A path with spaces is text sent as a path parameter ("/Copy it to ../shared
    // first"): its dots are read like a value's, where a segment of the path only
    // starts at a separator.
    let in_path = in_path && !text.contains(' ') && !text.contains("%20");
    if !text.is_ascii() && text.contains(|c| LOOKALIKES.iter().any(|(l, _)| *l == c)) {
        // Spans then index the mapped copy: report the fragment from the start.
        let mapped: String = text
            .chars()
            .map(|c| {
                LOOKALIKES
                    .iter()
                    .find(|(l, _)| *l == c)
                    .map_or(c, |(_, a)| *a)
            })
            .collect();
        return scan(&mapped, in_path).map(|r| 0..r.end.min(text.len()));
    }
    scan(text, in_path).or_else(|| hex_notation(text))
}

/// Dots and separators written as `0x2e`, `0x2f`, `0x5c` (`0x5c0x2e./`): decoders that take
/// C hex notation read a traversal no prose spells, so a dot pair before a separator is
/// enough, with no segment after it.
fn hex_notation(text: &str) -> Option<Range<usize>> {
    let s = text.as_bytes();
    let has_token = |t: &[u8]| s.windows(t.len()).any(|w| w.eq_ignore_ascii_case(t));
    if memchr::memchr2(b'x', b'X', s).is_none()
        || ![&b"0x2e"[..], b"0x2f", b"0x5c"]
            .iter()
            .any(|t| has_token(t))
    {
        return None;
    }
    let mut folded = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let token = s.get(i..i + 4).map(<[u8]>::to_ascii_lowercase);
        let (byte, len) = match token.as_deref() {
            Some(b"0x2e") => (Some(b'.'), 4),
            Some(b"0x2f") => (Some(b'/'), 4),
            Some(b"0x5c") => (Some(b'\\'), 4),
            // NUL, raw or still encoded, is junk a truncating reader drops.
            _ if s[i..].starts_with(b"%00") => (None, 3),
            _ if s[i] == 0 => (None, 1),
            _ => (Some(s[i]), 1),
        };
        folded.extend(byte);
        i += len;
    }
    let dots = memchr::memmem::find(&folded, b"..")?;
    let after = folded[dots..]
        .iter()
        .position(|b| !matches!(b, b'.' | b';'))
        .map(|p| folded[dots + p]);
    matches!(after, Some(b'/' | b'\\')).then_some(0..text.len().min(64))
}

fn scan(text: &str, in_path: bool) -> Option<Range<usize>> {
    let s = text.as_bytes();
    let mut from = 0;
    while let Some(off) = super::find_short(&s[from..], b"..") {
        let at = from + off;
        from = at + 2;
        let starts_segment = at == 0
            || matches!(
                s[at - 1],
                b'/' | b'\\' | b'=' | b':' | b' ' | b'"' | b'\'' | b'\t' | b'\n'
            );
        if !starts_segment {
            continue;
        }
        let mut i = at;
        while i < s.len() && s[i] == b'.' {
            i += 1;
        }
        let dots = i - at;
        // `..;/` (Tomcat path parameters), `..;.\` and `..%00/` style junk before the
        // separator.
        while i < s.len() && matches!(s[i], b';' | b'.' | 0) && i < at + 8 {
            i += 1;
        }
        from = i;
        let seps = s[i..]
            .iter()
            .take_while(|&&b| b == b'/' || b == b'\\')
            .count();
        if seps == 0 {
            if in_path && i == s.len() && at > 0 && matches!(s[at - 1], b'/' | b'\\') {
                return Some(at - 1..i);
            }
            continue;
        }
        let next = s.get(i + seps).copied();
        // `.../src/x.c`: an ellipsis, and `...` a valid name on every system. `..././`
        // (a filter stripping `../` leaves `../`) has a dot next.
        if !in_path
            && dots == 3
            && i == at + 3
            && seps == 1
            && next.is_some_and(|b| b.is_ascii_alphanumeric())
        {
            continue;
        }
        let continues = match next {
            None => in_path,
            Some(b) => !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b')' | b',' | b'&'),
        };
        if continues
            && (in_path
                || !(relative_link(s, at, i, seps)
                    || mentioned_sibling(s, at, i, seps)
                    || source_import(s, at)))
        {
            return Some(at..(i + seps + 16).min(s.len()));
        }
    }
    None
}

/// Dot segments that public sites serve on purpose: `.well-known`, and the CI and
/// community folders every public repository carries, which code-hosting sites show in
/// their file URLs (`/acme/repo/blob/main/.github/workflows/ci.yml`).
const PUBLIC_DOT_SEGMENTS: &[&[u8]] = &[
    b".well-known",
    b".github",
    b".gitlab",
    b".gitlab-ci.yml",
    b".circleci",
];

/// A path segment naming a hidden file or directory (`/.git/`, `/.env`, `/.vscode/`):
/// tool state and secrets that web servers should never serve. `.` and `..` are left to
/// [`detect`], `/.well-known/` is public.
pub(crate) fn hidden_segment(path: &str) -> Option<Range<usize>> {
    let s = path.as_bytes();
    let mut start = 0;
    for seg in s.split(|&b| b == b'/' || b == b'\\') {
        let at = start;
        start += seg.len() + 1;
        // A raw path refused for an encoded separator still names its segments with it
        // (`/.well-known%2Fsecurity.txt`).
        let name = encoded_separator(seg).map_or(seg, |e| &seg[..e]);
        let visible = name.len() < 2
            || name[0] != b'.'
            || !(name[1].is_ascii_alphanumeric() || name[1] == b'_' || name[1] == b'-');
        // A space makes it text sent as a path parameter (`.container {`), not a file.
        let spaced = seg.contains(&b' ') || memchr::memmem::find(seg, b"%20").is_some();
        if visible
            || spaced
            || PUBLIC_DOT_SEGMENTS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
        {
            continue;
        }
        return Some(at..at + seg.len());
    }
    None
}

/// Where an encoded `/` or `\` (`%2F`, `%5C`) starts in a path segment.
fn encoded_separator(seg: &[u8]) -> Option<usize> {
    seg.windows(3).position(|w| {
        w[0] == b'%' && (w[1..].eq_ignore_ascii_case(b"2f") || w[1..].eq_ignore_ascii_case(b"5c"))
    })
}

/// A single plain `../name` after a word and a space ("review the ../docs folder"): the
/// segment before it is `the ..`, no parent reference to any file API, and one level up
/// from a word cancels out. A shell would split there, but a command is cmdi's business;
/// deeper or evasive forms, and a second traversal later in the value, still count.
fn mentioned_sibling(s: &[u8], at: usize, i: usize, seps: usize) -> bool {
    if i != at + 2 || seps != 1 || s[i] != b'/' || at < 2 || s[at - 1] != b' ' {
        return false;
    }
    if !s[at - 2].is_ascii_alphanumeric() {
        return false;
    }
    let rest = &s[i + 1..];
    let name = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    let after = rest.get(name).copied();
    name > 0
        && !rest[..name].starts_with(b".")
        && matches!(
            after,
            None | Some(b' ' | b'\t' | b',' | b';' | b')' | b'!' | b'?')
        )
        && super::find_short(rest, b"..").is_none()
}

/// A single plain `../` into a sibling tree (`../assets/img/logo.png`), as relative links
/// in markdown and HTML have: no second level, no evasion, and a deeper path after it.
/// Sensitive targets reached this way are the file rules' business.
fn relative_link(s: &[u8], at: usize, i: usize, seps: usize) -> bool {
    if i != at + 2 || seps != 1 || s[i] != b'/' {
        return false;
    }
    let rest = &s[i + 1..];
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b')' | b'>'))
        .unwrap_or(rest.len());
    let target = &rest[..end];
    memchr::memchr(b'/', target).is_some() && super::find_short(target, b"..").is_none()
}

/// Extensions of front-end source and assets, which bundlers import across a monorepo.
const SOURCE_EXTENSIONS: &[&[u8]] = &[
    b"ts", b"tsx", b"js", b"jsx", b"mjs", b"cjs", b"vue", b"svelte", b"css", b"scss", b"less",
    b"svg", b"png",
];

/// Two plain levels up into another package's source (`../../packages/ui/src/index.ts`),
/// the import paths of monorepos and their build logs: a deeper path after them, a
/// source or asset extension at its end, nothing hidden on the way. Server files
/// (`../../WEB-INF/web.xml`, `../../config.php`) and anything deeper still count.
fn source_import(s: &[u8], at: usize) -> bool {
    let Some(rest) = s[at..].strip_prefix(b"../../") else {
        return false;
    };
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b')' | b'>' | b','))
        .unwrap_or(rest.len());
    let target = &rest[..end];
    let mut segments = target.split(|&b| b == b'/');
    let clean = segments.all(|seg| {
        !seg.is_empty()
            && !seg.starts_with(b".")
            && seg
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'))
    });
    let ext = target
        .rsplit(|&b| b == b'.')
        .next()
        .filter(|e| e.len() < target.len());
    clean
        && memchr::memchr(b'/', target).is_some()
        && ext.is_some_and(|e| SOURCE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}
