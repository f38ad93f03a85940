//! A strict, iterative JSON parser (RFC 8259) that emits leaves and a canonical copy.
//!
//! Refuses what backends disagree on: duplicate keys (compared after unescaping),
//! invalid UTF-8 and lone surrogates, a BOM, trailing data, NaN/Infinity, leading
//! zeros. Nesting is an explicit stack, so depth costs heap (capped), never call stack.
//! The canonical copy is compact, keeps key order and re-escapes strings minimally; it
//! is never longer than the input.

mod string;

pub(crate) use string::short_escape;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashSet;

use bytes::Bytes;

use crate::error::ParseError;
use crate::limits::JsonLimits;
use crate::tree::{BodyKind, LeafKind, Out, Parsed, PathId, Seg};

/// Parses a JSON document. With `canonical`, also returns the compact re-serialisation
/// in [`Parsed::canonical`].
pub fn parse<'a>(
    body: &'a [u8],
    limits: &JsonLimits,
    canonical: bool,
) -> Result<Parsed<'a>, ParseError> {
    parse_sharing(body, limits, canonical, || Bytes::copy_from_slice(body))
}

/// [`parse`] for a body held in `Bytes`: an input already in canonical form is shared
/// as the canonical copy instead of copied.
pub(crate) fn parse_shared<'a>(
    body: &'a Bytes,
    limits: &JsonLimits,
    canonical: bool,
) -> Result<Parsed<'a>, ParseError> {
    parse_sharing(body, limits, canonical, || body.clone())
}

fn parse_sharing<'a>(
    body: &'a [u8],
    limits: &JsonLimits,
    canonical: bool,
    share: impl FnOnce() -> Bytes,
) -> Result<Parsed<'a>, ParseError> {
    // A node per 8 bytes: dense bodies (`{"id":1,"ok":true}` records) come close, and
    // every regrowth copies all that was gathered; room left unused is never touched.
    let mut out = Out::with_capacity(body.len() / 8);
    let canon = parse_into(body, limits, &mut out, PathId::ROOT, canonical)?;
    let mut parsed = out.into_parsed(BodyKind::Json);
    parsed.canonical = canon.into_bytes(share);
    Ok(parsed)
}

/// The canonical copy [`parse_into`] produced, if one was asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Canon {
    /// Not asked for.
    Unwanted,
    /// The input is already canonical, byte for byte.
    Same,
    /// The input less whitespace, with escaped strings rewritten minimally.
    Rewritten(Vec<u8>),
}

impl Canon {
    /// The canonical bytes; `share` gives the input's own bytes when they are canonical.
    pub(crate) fn into_bytes(self, share: impl FnOnce() -> Bytes) -> Option<Bytes> {
        match self {
            Canon::Unwanted => None,
            Canon::Same => Some(share()),
            Canon::Rewritten(c) => Some(Bytes::from(c)),
        }
    }
}

/// Parses `src` into `out` below `root`. Error offsets are relative to `src`.
pub(crate) fn parse_into<'a>(
    src: &'a [u8],
    limits: &JsonLimits,
    out: &mut Out<'a>,
    root: PathId,
    canonical: bool,
) -> Result<Canon, ParseError> {
    if src.starts_with(b"\xEF\xBB\xBF") {
        return Err(ParseError::malformed("json-bom", 0));
    }
    let text = std::str::from_utf8(src)
        .map_err(|e| ParseError::malformed("json-invalid-utf8", e.valid_up_to()))?;
    let mut p = Parser {
        src,
        text,
        pos: 0,
        limits,
        out,
        canon: canonical.then(Vec::new),
        rewritten: false,
        scratch: Vec::new(),
        copied: 0,
        keys: Vec::new(),
        keys_total: 0,
        cur: root,
    };
    match p.run(root) {
        Ok(()) => {
            if !p.rewritten {
                return Ok(p.canon.map_or(Canon::Unwanted, |_| Canon::Same));
            }
            p.copy_to(src.len());
            Ok(p.canon.map_or(Canon::Unwanted, Canon::Rewritten))
        }
        Err(e) => {
            let cur = p.cur;
            Err(e.at(|| p.out.paths.render(cur)))
        }
    }
}

/// Objects with more members than this switch from a linear duplicate scan to a set.
const LINEAR_KEYS: usize = 16;

struct Frame<'a> {
    object: bool,
    path: PathId,
    count: usize,
    keys_from: usize,
    set: Option<HashSet<Cow<'a, str>>>,
}

struct Parser<'a, 'o> {
    src: &'a [u8],
    /// `src`, validated as UTF-8 once up front.
    text: &'a str,
    pos: usize,
    limits: &'o JsonLimits,
    out: &'o mut Out<'a>,
    /// The canonical copy, when asked for; it stays empty until the first byte that
    /// differs from the input (`rewritten`), so canonical input is never copied.
    canon: Option<Vec<u8>>,
    rewritten: bool,
    /// Scratch for comparing an escaped string's minimal form with its raw bytes.
    scratch: Vec<u8>,
    /// `src[..copied]` is accounted for in `canon`: the canonical copy is the input less
    /// whitespace and with escaped strings rewritten, so bytes are copied in runs, only
    /// when whitespace or an escaped string interrupts them.
    copied: usize,
    /// Keys of the open objects that still use the linear scan, innermost last, each
    /// with its [`fingerprint`].
    keys: Vec<(u64, Cow<'a, str>)>,
    keys_total: usize,
    /// The path being parsed, for error locations.
    cur: PathId,
}

impl<'a> Parser<'a, '_> {
    fn run(&mut self, root: PathId) -> Result<(), ParseError> {
        let mut stack: Vec<Frame<'a>> = Vec::new();
        let mut path = root;
        'value: loop {
            self.cur = path;
            self.skip_ws();
            let Some(&c) = self.src.get(self.pos) else {
                return Err(self.eof());
            };
            match c {
                b'{' | b'[' => {
                    if stack.len() >= self.limits.max_depth {
                        return Err(ParseError::exceed(
                            "json-too-deep",
                            self.limits.max_depth,
                            self.pos,
                        ));
                    }
                    self.pos += 1;
                    let object = c == b'{';
                    let mut frame = Frame {
                        object,
                        path,
                        count: 0,
                        keys_from: self.keys.len(),
                        set: None,
                    };
                    self.skip_ws();
                    let close = if object { b'}' } else { b']' };
                    if self.src.get(self.pos) == Some(&close) {
                        self.pos += 1;
                    } else {
                        path = self.next_child(&mut frame)?;
                        stack.push(frame);
                        continue 'value;
                    }
                }
                b'"' => {
                    let s = self.string()?;
                    self.out.leaf(path, LeafKind::String, s);
                }
                b'-' | b'0'..=b'9' => self.number(path)?,
                b't' => self.literal(path, b"true", LeafKind::Bool)?,
                b'f' => self.literal(path, b"false", LeafKind::Bool)?,
                b'n' => self.literal(path, b"null", LeafKind::Null)?,
                b'N' | b'I' => return Err(ParseError::malformed("json-non-finite", self.pos)),
                _ => return Err(ParseError::malformed("json-syntax", self.pos)),
            }
            // After a complete value: a separator, a close, or the end of the document.
            loop {
                self.skip_ws();
                let Some(top) = stack.last_mut() else {
                    break 'value;
                };
                self.cur = top.path;
                match self.src.get(self.pos) {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        path = self.next_child(top)?;
                        continue 'value;
                    }
                    Some(b'}') if top.object => {
                        self.pos += 1;
                        self.keys.truncate(top.keys_from);
                        stack.pop();
                    }
                    Some(b']') if !top.object => {
                        self.pos += 1;
                        stack.pop();
                    }
                    None => return Err(self.eof()),
                    Some(_) => return Err(ParseError::malformed("json-syntax", self.pos)),
                }
            }
        }
        self.skip_ws();
        if self.pos != self.src.len() {
            return Err(ParseError::malformed("json-trailing-data", self.pos));
        }
        Ok(())
    }

    /// Starts the next member of an object (key and colon) or element of an array.
    fn next_child(&mut self, frame: &mut Frame<'a>) -> Result<PathId, ParseError> {
        frame.count += 1;
        if !frame.object {
            if frame.count > self.limits.max_array_len {
                return Err(ParseError::exceed(
                    "json-array-too-long",
                    self.limits.max_array_len,
                    self.pos,
                ));
            }
            let index = (frame.count - 1) as u32;
            return Ok(self.out.paths.unnamed(frame.path, Seg::Index, index));
        }
        if self.src.get(self.pos) != Some(&b'"') {
            return Err(match self.src.get(self.pos) {
                None => self.eof(),
                Some(_) => ParseError::malformed("json-syntax", self.pos),
            });
        }
        self.keys_total += 1;
        if self.keys_total > self.limits.max_keys {
            return Err(ParseError::exceed(
                "json-too-many-keys",
                self.limits.max_keys,
                self.pos,
            ));
        }
        let at = self.pos;
        let key = self.string()?;
        let path = self.out.paths.named(frame.path, Seg::Key, key.clone(), 0);
        self.cur = path;
        if self.is_duplicate(frame, key.clone()) {
            return Err(ParseError::ambiguous("json-duplicate-key", at));
        }
        self.out.leaf(path, LeafKind::Key, key);
        self.skip_ws();
        if self.src.get(self.pos) != Some(&b':') {
            return Err(ParseError::malformed("json-syntax", self.pos));
        }
        self.pos += 1;
        Ok(path)
    }

    fn is_duplicate(&mut self, frame: &mut Frame<'a>, key: Cow<'a, str>) -> bool {
        if let Some(set) = &mut frame.set {
            return !set.insert(key);
        }
        let print = fingerprint(&key);
        let mine = &self.keys[frame.keys_from..];
        if mine.iter().any(|(p, k)| *p == print && *k == key) {
            return true;
        }
        self.keys.push((print, key));
        if self.keys.len() - frame.keys_from > LINEAR_KEYS {
            frame.set = Some(self.keys.drain(frame.keys_from..).map(|(_, k)| k).collect());
        }
        false
    }

    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let (s, next) = string::scan(self.text, self.pos, self.limits.max_string_bytes)?;
        // An unescaped string is its own canonical form and stays in the pending run, as
        // does an escaped one already written minimally.
        if matches!(s.value, Cow::Owned(_)) && self.canon.is_some() {
            self.scratch.clear();
            string::write_escaped(&mut self.scratch, &s.value);
            if self.src.get(self.pos..next) != Some(self.scratch.as_slice()) {
                self.copy_to(self.pos);
                if let Some(c) = &mut self.canon {
                    c.extend_from_slice(&self.scratch);
                }
                self.copied = next;
            }
        }
        if s.has_nul {
            self.out.note("json-nul-char", self.cur);
        }
        self.pos = next;
        Ok(s.value)
    }

    fn number(&mut self, path: PathId) -> Result<(), ParseError> {
        let src = self.src;
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while src.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        if src.get(i) == Some(&b'-') {
            i += 1;
        }
        match src.get(i) {
            Some(b'0') => {
                i += 1;
                if src.get(i).is_some_and(u8::is_ascii_digit) {
                    return Err(ParseError::malformed("json-leading-zero", start));
                }
            }
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            Some(b'I') => return Err(ParseError::malformed("json-non-finite", start)),
            _ => return Err(ParseError::malformed("json-bad-number", start)),
        }
        if src.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return Err(ParseError::malformed("json-bad-number", start));
            }
        }
        let exponent = matches!(src.get(i), Some(b'e' | b'E'));
        if exponent {
            i += 1;
            if matches!(src.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return Err(ParseError::malformed("json-bad-number", start));
            }
        }
        if i - start > self.limits.max_number_bytes {
            return Err(ParseError::exceed(
                "json-number-too-long",
                self.limits.max_number_bytes,
                start,
            ));
        }
        let text = self
            .text
            .get(start..i)
            .ok_or(ParseError::malformed("json-bad-number", start))?;
        // `1e999` is `Infinity` written as a number: backends read it as infinity, an
        // error or a clamp, so it is refused like `Infinity`. Only an exponent or more
        // digits than a double holds can overflow; the rest never pays the conversion.
        if (exponent || text.len() > 300) && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(ParseError::malformed("json-non-finite", start));
        }
        self.out.leaf(path, LeafKind::Number, Cow::Borrowed(text));
        self.pos = i;
        Ok(())
    }

    fn literal(&mut self, path: PathId, word: &[u8], kind: LeafKind) -> Result<(), ParseError> {
        let text = self
            .text
            .get(self.pos..self.pos + word.len())
            .filter(|r| r.as_bytes() == word)
            .ok_or(ParseError::malformed("json-syntax", self.pos))?;
        self.out.leaf(path, kind, Cow::Borrowed(text));
        self.pos += word.len();
        Ok(())
    }

    /// Compact documents have no whitespace: the check is inlined, the skip is not.
    #[inline(always)]
    fn skip_ws(&mut self) {
        if is_ws(self.src.get(self.pos)) {
            self.skip_ws_run();
        }
    }

    #[inline(never)]
    fn skip_ws_run(&mut self) {
        let start = self.pos;
        while is_ws(self.src.get(self.pos)) {
            self.pos += 1;
        }
        // Whitespace is dropped from the canonical copy.
        if self.canon.is_some() {
            self.copy_to(start);
            self.copied = self.pos;
        }
    }

    /// Appends the pending run `src[copied..end]` to the canonical copy: the input
    /// differs from its canonical form from here on.
    fn copy_to(&mut self, end: usize) {
        if let Some(c) = &mut self.canon
            && let Some(run) = self.src.get(self.copied..end)
        {
            if !self.rewritten {
                self.rewritten = true;
                c.reserve(self.src.len());
            }
            c.extend_from_slice(run);
            self.copied = end;
        }
    }

    fn eof(&self) -> ParseError {
        ParseError::malformed("json-unexpected-end", self.src.len())
    }
}

/// A key's length and first bytes in one word: most keys of an object differ there, so
/// the duplicate scan compares whole keys only when these match.
#[inline]
fn fingerprint(key: &str) -> u64 {
    let b = key.as_bytes();
    let mut head = [0u8; 8];
    let n = b.len().min(7);
    head[..n].copy_from_slice(&b[..n]);
    head[7] = b.len().min(255) as u8;
    u64::from_le_bytes(head)
}

#[inline]
fn is_ws(b: Option<&u8>) -> bool {
    matches!(b, Some(b' ' | b'\n' | b'\r' | b'\t'))
}
