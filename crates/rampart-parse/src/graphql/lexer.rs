//! GraphQL lexer (October 2021 spec, §2.1): ignored tokens, punctuators, names,
//! numbers and strings. Block strings keep their raw lines (no indentation trimming).

use std::borrow::Cow;

use crate::error::ParseError;
use crate::json::short_escape;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'s> {
    Punct(u8),
    Spread,
    Name(&'s str),
    Number,
    Str(Cow<'s, str>),
    Eof,
}

pub(super) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

fn syntax(at: usize) -> ParseError {
    ParseError::malformed("graphql-syntax", at)
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

impl<'s> Lexer<'s> {
    pub(super) fn new(src: &'s str) -> Self {
        Self { src, pos: 0 }
    }

    /// The next token and its offset.
    pub(super) fn next(&mut self) -> Result<(Tok<'s>, usize), ParseError> {
        let b = self.src.as_bytes();
        loop {
            match b.get(self.pos) {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b',') => self.pos += 1,
                Some(b'#') => {
                    while !matches!(b.get(self.pos), None | Some(b'\n' | b'\r')) {
                        self.pos += 1;
                    }
                }
                Some(0xEF) if b[self.pos..].starts_with("\u{FEFF}".as_bytes()) => self.pos += 3,
                _ => break,
            }
        }
        let at = self.pos;
        let Some(&c) = b.get(at) else {
            return Ok((Tok::Eof, at));
        };
        let tok = match c {
            b'!' | b'$' | b'&' | b'(' | b')' | b':' | b'=' | b'@' | b'[' | b']' | b'{' | b'|'
            | b'}' => {
                self.pos += 1;
                Tok::Punct(c)
            }
            b'.' if b[at..].starts_with(b"...") => {
                self.pos += 3;
                Tok::Spread
            }
            c if is_name_start(c) => {
                let len = b[at..]
                    .iter()
                    .take_while(|&&c| is_name_start(c) || c.is_ascii_digit())
                    .count();
                self.pos += len;
                Tok::Name(&self.src[at..at + len])
            }
            b'-' | b'0'..=b'9' => self.number()?,
            b'"' if b[at..].starts_with(b"\"\"\"") => self.block_string()?,
            b'"' => self.string()?,
            _ => return Err(syntax(at)),
        };
        Ok((tok, at))
    }

    fn number(&mut self) -> Result<Tok<'s>, ParseError> {
        let b = self.src.as_bytes();
        let at = self.pos;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        let mut i = at;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        if b.get(i) == Some(&b'0') {
            i += 1;
            if b.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(syntax(at));
            }
        } else if digits(&mut i) == 0 {
            return Err(syntax(at));
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return Err(syntax(at));
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return Err(syntax(at));
            }
        }
        if b.get(i).is_some_and(|&c| c == b'.' || is_name_start(c)) {
            return Err(syntax(i));
        }
        self.pos = i;
        Ok(Tok::Number)
    }

    fn string(&mut self) -> Result<Tok<'s>, ParseError> {
        let b = self.src.as_bytes();
        let start = self.pos + 1;
        let mut i = start;
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            match b.get(i) {
                None | Some(b'\n' | b'\r') => return Err(syntax(i)),
                Some(b'"') => break,
                Some(b'\\') => {
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(&self.src[run..i]);
                    let (c, len) = match b.get(i + 1) {
                        Some(&e) if let Some(c) = short_escape(e) => (c, 2),
                        Some(b'u') => {
                            let hex = |k: usize| {
                                self.src
                                    .get(k..k + 4)
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                            };
                            let hi = hex(i + 2).ok_or(syntax(i))?;
                            if (0xD800..0xDC00).contains(&hi) && b.get(i + 6..i + 8) == Some(b"\\u")
                            {
                                let lo = hex(i + 8).ok_or(syntax(i))?;
                                let cp = 0x10000 + ((hi - 0xD800) << 10) + lo.wrapping_sub(0xDC00);
                                let ok = (0xDC00..0xE000).contains(&lo);
                                (char::from_u32(cp).filter(|_| ok).ok_or(syntax(i))?, 12)
                            } else {
                                (char::from_u32(hi).ok_or(syntax(i))?, 6)
                            }
                        }
                        _ => return Err(syntax(i)),
                    };
                    o.push(c);
                    i += len;
                    run = i;
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        Ok(Tok::Str(match owned {
            Some(mut o) => {
                o.push_str(&self.src[run..i]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(&self.src[start..i]),
        }))
    }

    fn block_string(&mut self) -> Result<Tok<'s>, ParseError> {
        let start = self.pos + 3;
        let rest = &self.src[start..];
        let mut i = 0;
        let rb = rest.as_bytes();
        let mut escaped = false;
        loop {
            if i >= rb.len() {
                return Err(syntax(start + i));
            }
            if rb[i..].starts_with(b"\\\"\"\"") {
                escaped = true;
                i += 4;
            } else if rb[i..].starts_with(b"\"\"\"") {
                break;
            } else {
                i += 1;
            }
        }
        self.pos = start + i + 3;
        let raw = &rest[..i];
        Ok(Tok::Str(if escaped {
            Cow::Owned(raw.replace("\\\"\"\"", "\"\"\""))
        } else {
            Cow::Borrowed(raw)
        }))
    }
}
