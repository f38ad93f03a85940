//! JSON string scanning, unescaping and minimal re-escaping.

use std::borrow::Cow;

use crate::error::ParseError;

/// Bytes that end the fast scan inside a string: quote, backslash, control characters.
/// Non-ASCII bytes pass and are validated as UTF-8 afterwards.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A scanned string: its value and whether it differed from the raw bytes.
pub(super) struct Scanned<'a> {
    pub(super) value: Cow<'a, str>,
    pub(super) has_nul: bool,
}

/// Scans the string whose opening quote is at `open`; returns it and the index after
/// the closing quote.
/// `text` is the whole document, already validated as UTF-8 once: slicing it at the
/// quotes (ASCII) cannot fail, so no string is validated twice.
#[inline]
pub(super) fn scan(
    text: &str,
    open: usize,
    max_bytes: usize,
) -> Result<(Scanned<'_>, usize), ParseError> {
    let src = text.as_bytes();
    let start = open + 1;
    let mut i = start;
    let mut escaped = false;
    loop {
        i = skip_plain(src, i);
        match src.get(i) {
            None => return Err(ParseError::malformed("json-unexpected-end", src.len())),
            Some(b'"') => break,
            Some(b'\\') => {
                escaped = true;
                i += 2;
            }
            Some(_) => return Err(ParseError::malformed("json-control-char", i)),
        }
    }
    let raw = text
        .get(start..i)
        .ok_or(ParseError::malformed("json-invalid-utf8", start))?;
    if raw.len() > max_bytes {
        return Err(ParseError::exceed("json-string-too-long", max_bytes, start));
    }
    let scanned = if escaped {
        let (s, has_nul) = unescape(raw, start)?;
        Scanned {
            value: Cow::Owned(s),
            has_nul,
        }
    } else {
        Scanned {
            value: Cow::Borrowed(raw),
            has_nul: false,
        }
    };
    Ok((scanned, i + 1))
}

/// The index of the first byte at or after `i` that ends the fast scan (quote,
/// backslash, control character), or `src.len()`.
#[inline]
pub(super) fn skip_plain(src: &[u8], mut i: usize) -> usize {
    // Eight bytes at a time: strings are mostly long runs of ordinary bytes.
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(chunk) = src.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(bytes);
        // A byte below 0x20, or one equal to `"` or `\`. Bytes above a match may be
        // flagged too (a borrow runs upward), but the lowest flag is always a match.
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        let quote = zero_byte(w ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(w ^ (ONES * u64::from(b'\\')));
        let stops = control | quote | backslash;
        if stops != 0 {
            return i + (stops.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = src.get(i) {
        if STOP[c as usize] {
            break;
        }
        i += 1;
    }
    i
}

fn hex4(raw: &[u8], at: usize, base: usize) -> Result<u32, ParseError> {
    let digits = raw
        .get(at..at + 4)
        .ok_or(ParseError::malformed("json-bad-escape", base + at))?;
    let mut v = 0u32;
    for &d in digits {
        let n = (d as char)
            .to_digit(16)
            .ok_or(ParseError::malformed("json-bad-escape", base + at))?;
        v = v * 16 + n;
    }
    Ok(v)
}

fn unescape(text: &str, base: usize) -> Result<(String, bool), ParseError> {
    let raw = text.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut has_nul = false;
    let mut i = 0;
    while i < raw.len() {
        let j = memchr::memchr(b'\\', &raw[i..]).map_or(raw.len(), |p| i + p);
        let chunk = text
            .get(i..j)
            .ok_or(ParseError::malformed("json-invalid-utf8", base + i))?;
        out.push_str(chunk);
        if j == raw.len() {
            break;
        }
        let bad = ParseError::malformed("json-bad-escape", base + j);
        let (c, len) = match raw.get(j + 1) {
            Some(&e) if let Some(c) = short_escape(e) => (c, 2),
            Some(b'u') => {
                let hi = hex4(raw, j + 2, base)?;
                let lone = ParseError::malformed("json-lone-surrogate", base + j);
                match hi {
                    0xD800..=0xDBFF => {
                        if raw.get(j + 6..j + 8) != Some(b"\\u") {
                            return Err(lone);
                        }
                        let lo = hex4(raw, j + 8, base)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(lone);
                        }
                        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        (char::from_u32(cp).ok_or(lone)?, 12)
                    }
                    0xDC00..=0xDFFF => return Err(lone),
                    cp => (char::from_u32(cp).ok_or(bad)?, 6),
                }
            }
            _ => return Err(bad),
        };
        has_nul |= c == '\0';
        out.push(c);
        i = j + len;
    }
    Ok((out, has_nul))
}

/// The character of a one-letter escape (`\n`, `\"`, ...), shared by JSON and GraphQL
/// strings, which define the same set.
pub(crate) fn short_escape(letter: u8) -> Option<char> {
    match letter {
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'/' => Some('/'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        _ => None,
    }
}

/// Writes `s` as a JSON string, escaping only what JSON requires.
pub(super) fn write_escaped(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Copy the run that needs no escaping in one go.
        let end = skip_plain(bytes, i);
        out.extend_from_slice(&bytes[i..end]);
        let Some(&b) = bytes.get(end) else {
            break;
        };
        i = end + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            b => out.push(b),
        }
    }
    out.push(b'"');
}
