//! Request-target rewriting: percent-encodes the bytes of a request target that hyper's
//! URI parser refuses with a bare 400 but that are harmless once escaped (`<`, `>`,
//! `"`, `{`, `}`, `|`, `\`, `^`, `` ` `` and non-ASCII), so the edge's own URL
//! normalisation and attack screening see them instead of hyper dropping the request.
//!
//! A streaming state machine over the request line: it survives any read boundary and
//! only ever turns one byte into three. Control bytes, CR, LF and whitespace are never
//! rewritten, so hyper and the guard keep refusing them. Non-ASCII bytes must form valid
//! UTF-8 (what hyper demanded before); otherwise the head is flagged and refused.

/// Where the rewriter is in the current request line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Line {
    /// Before the request line: empty lines (RFC 9112 §2.2) may come first.
    #[default]
    Lead,
    /// A CR of a leading empty line.
    LeadCr,
    /// In the method.
    Method,
    /// In the request target.
    Target,
    /// After the target, up to the line's LF.
    Rest,
    /// The request line ended; nothing more to rewrite in this head.
    Done,
}

/// Incremental UTF-8 validation of the target's non-ASCII bytes (RFC 3629 table 3-7:
/// no overlong forms, no surrogates, nothing above U+10FFFF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Utf8 {
    /// Continuation bytes still expected.
    need: u8,
    /// Range allowed for the next continuation byte.
    lo: u8,
    hi: u8,
}

impl Default for Utf8 {
    fn default() -> Self {
        Self {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
        }
    }
}

impl Utf8 {
    /// Takes one byte of the target; `false` if the sequence is invalid.
    fn step(&mut self, b: u8) -> bool {
        if self.need > 0 {
            if !(self.lo..=self.hi).contains(&b) {
                return false;
            }
            *self = Self {
                need: self.need - 1,
                ..Self::default()
            };
            return true;
        }
        let (need, lo, hi) = match b {
            0x00..=0x7F => return true,
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xE1..=0xEF => (2, 0x80, 0xBF),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => return false,
        };
        *self = Self { need, lo, hi };
        true
    }
}

/// Whether a target byte is refused by hyper's URI parser but safe to escape.
pub(super) fn is_rewritten(b: u8) -> bool {
    matches!(
        b,
        b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`' | 0x80..=0xFF
    )
}

/// What to do with one byte of the request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass,
    Encode,
}

/// The rewriter of one request line; reset for every head.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TargetRewriter {
    line: Line,
    utf8: Utf8,
    /// The target's non-ASCII bytes are not valid UTF-8.
    invalid_utf8: bool,
}

impl TargetRewriter {
    /// Whether the target seen so far held invalid UTF-8.
    pub(super) fn invalid_utf8(&self) -> bool {
        self.invalid_utf8
    }

    /// Rewrites the request-line bytes at the start of `data`. `None` when nothing needs
    /// rewriting (the state still advances over them). Otherwise how many bytes of `data`
    /// were request line, and their rewritten form.
    pub(super) fn rewrite(&mut self, data: &[u8]) -> Option<(usize, Vec<u8>)> {
        if self.line == Line::Done {
            return None;
        }
        let start = *self;
        let mut dirty = false;
        let mut len = data.len();
        for (i, &b) in data.iter().enumerate() {
            dirty |= self.step(b) == Action::Encode;
            if self.line == Line::Done {
                len = i + 1;
                break;
            }
        }
        if !dirty {
            return None;
        }
        *self = start;
        let mut out = Vec::with_capacity(len + 32);
        for &b in &data[..len] {
            match self.step(b) {
                Action::Pass => out.push(b),
                Action::Encode => push_escaped(&mut out, b),
            }
        }
        Some((len, out))
    }

    fn step(&mut self, b: u8) -> Action {
        match self.line {
            Line::Lead | Line::LeadCr => {
                self.line = match (self.line, b) {
                    (Line::Lead, b'\r') => Line::LeadCr,
                    (Line::LeadCr, b'\n') => Line::Lead,
                    // Anything else starts the request line; the guard judges its shape.
                    _ => return self.method(b),
                };
                Action::Pass
            }
            Line::Method => self.method(b),
            Line::Target => match b {
                b' ' | b'\r' | b'\n' => {
                    if self.utf8.need > 0 {
                        self.invalid_utf8 = true;
                    }
                    self.line = if b == b'\n' { Line::Done } else { Line::Rest };
                    Action::Pass
                }
                _ if is_rewritten(b) => {
                    if !self.utf8.step(b) {
                        self.invalid_utf8 = true;
                    }
                    Action::Encode
                }
                _ => {
                    if !self.utf8.step(b) {
                        self.invalid_utf8 = true;
                    }
                    Action::Pass
                }
            },
            Line::Rest => {
                if b == b'\n' {
                    self.line = Line::Done;
                }
                Action::Pass
            }
            Line::Done => Action::Pass,
        }
    }

    fn method(&mut self, b: u8) -> Action {
        self.line = match b {
            b' ' => Line::Target,
            b'\n' => Line::Done,
            _ => Line::Method,
        };
        Action::Pass
    }
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}
