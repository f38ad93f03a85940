//! Request-target normalisation: one canonical path the edge can route, inspect and
//! forward as is, so the backend cannot see a different path than the checks did.
//!
//! The path is percent-decoded exactly once. Anything that decodes ambiguously is
//! refused rather than repaired: NUL, control characters, `%u` escapes, double encoding
//! (`%252e`), encoded separators (`%2F`, `%5C`), raw backslashes, invalid or overlong
//! UTF-8, dot segments climbing above the root, and dot segments with `;` parameters
//! (`/..;/`, read as `..` by some servlet containers). Dot segments are resolved
//! (RFC 3986 §5.2.4), repeated slashes collapsed, a trailing slash kept. The result is
//! re-encoded canonically: unreserved characters raw, reserved ones as they came (an
//! escaped `;` stays escaped: the two are not equivalent, RFC 3986 §6.2.2.2), everything
//! else escaped with uppercase hex. The query is kept byte for byte, but validated; a `%`
//! that starts no escape is taken literally there, as servers do.

#[cfg(test)]
mod tests;

use std::ops::Range;

/// Why a request target was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The target does not start with `/` (asterisk- or authority-form, or empty).
    #[error("request target is not in origin form")]
    NotOriginForm,
    /// A NUL byte, raw or `%00`.
    #[error("NUL in path")]
    Nul,
    /// A control character, raw or escaped.
    #[error("control character in path")]
    ControlChar,
    /// A character that cannot appear in a request target (space, `#`).
    #[error("invalid character in path")]
    InvalidChar,
    /// `%` not followed by two hexadecimal digits.
    #[error("invalid percent escape")]
    InvalidEscape,
    /// A `%u` escape (IIS-style UTF-16), never valid.
    #[error("%u escape")]
    UnicodeEscape,
    /// An escaped `%` that starts another escape (`%252e`).
    #[error("double percent-encoding")]
    DoubleEncoding,
    /// `%2F` or `%5C` inside a segment.
    #[error("encoded path separator")]
    EncodedSeparator,
    /// A raw backslash.
    #[error("backslash in path")]
    Backslash,
    /// The decoded path is not valid UTF-8 (overlong forms included).
    #[error("path is not valid UTF-8 once decoded")]
    InvalidUtf8,
    /// `..` segments climb above the root.
    #[error("path climbs above the root")]
    AboveRoot,
    /// A `.` or `..` segment carrying `;` parameters.
    #[error("dot segment with parameters")]
    DotSegmentParameter,
    /// The query holds a raw space, control or non-ASCII character, or `#`.
    #[error("invalid character in query")]
    InvalidQuery,
    /// The query has more parameters than allowed.
    #[error("query has more than {limit} parameters")]
    TooManyParams {
        /// The cap that was exceeded.
        limit: usize,
    },
}

impl UrlError {
    /// Stable rule id for logs and audit records.
    pub fn rule(self) -> &'static str {
        match self {
            Self::NotOriginForm => "url-not-origin-form",
            Self::Nul => "url-nul",
            Self::ControlChar => "url-control-char",
            Self::InvalidChar => "url-invalid-char",
            Self::InvalidEscape => "url-invalid-escape",
            Self::UnicodeEscape => "url-unicode-escape",
            Self::DoubleEncoding => "url-double-encoding",
            Self::EncodedSeparator => "url-encoded-separator",
            Self::Backslash => "url-backslash",
            Self::InvalidUtf8 => "url-invalid-utf8",
            Self::AboveRoot => "url-above-root",
            Self::DotSegmentParameter => "url-dot-segment-parameter",
            Self::InvalidQuery => "url-invalid-query",
            Self::TooManyParams { .. } => "url-too-many-params",
        }
    }
}

/// A normalised request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    target: String,
    path_len: usize,
    decoded: String,
    params: usize,
}

impl Normalized {
    /// The canonical path and query, to route and forward.
    pub fn as_str(&self) -> &str {
        &self.target
    }

    /// The canonical, still percent-encoded path.
    pub fn path(&self) -> &str {
        &self.target[..self.path_len]
    }

    /// The query without `?`, byte for byte as received; `None` without `?`.
    pub fn query(&self) -> Option<&str> {
        self.target.get(self.path_len + 1..)
    }

    /// The normalised path, percent-decoded (for inspection, not for forwarding).
    pub fn decoded_path(&self) -> &str {
        &self.decoded
    }

    /// Number of non-empty `&`-separated query parameters.
    pub fn param_count(&self) -> usize {
        self.params
    }
}

/// Normalises an origin-form `path?query`, refusing queries with more than
/// `max_params` parameters. See the module docs for the rules.
pub fn normalize_target(path_and_query: &str, max_params: usize) -> Result<Normalized, UrlError> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    if !path.starts_with('/') {
        return Err(UrlError::NotOriginForm);
    }
    let params = match query {
        Some(q) => check_query(q, max_params)?,
        None => 0,
    };
    if is_plain_path(path) {
        return Ok(Normalized {
            target: path_and_query.to_owned(),
            path_len: path.len(),
            decoded: path.to_owned(),
            params,
        });
    }
    normalize_path(path, query, params)
}

/// The full path normalisation (`path` starts with `/`; the query is validated).
fn normalize_path(path: &str, query: Option<&str>, params: usize) -> Result<Normalized, UrlError> {
    let rest = &path[1..];
    let mut canon = Vec::with_capacity(path.len() + 8);
    let mut decoded = Vec::with_capacity(path.len());
    // Kept segments, as ranges into `canon` and `decoded`.
    let mut kept: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    let mut trailing_slash = false;
    for raw in rest.split('/') {
        let (c0, d0) = (canon.len(), decoded.len());
        decode_segment(raw.as_bytes(), &mut canon, &mut decoded)?;
        let seg = &decoded[d0..];
        std::str::from_utf8(seg).map_err(|_| UrlError::InvalidUtf8)?;
        if has_escape(seg) {
            return Err(UrlError::DoubleEncoding);
        }
        let before_params = seg.split(|b| *b == b';').next().unwrap_or(seg);
        let dots = matches!(before_params, b"." | b"..");
        trailing_slash = seg.is_empty() || dots;
        if dots && before_params.len() != seg.len() {
            return Err(UrlError::DotSegmentParameter);
        }
        match seg {
            b"" | b"." => {}
            b".." => {
                kept.pop().ok_or(UrlError::AboveRoot)?;
            }
            _ => kept.push((c0..canon.len(), d0..decoded.len())),
        }
    }
    let mut target = String::with_capacity(canon.len() + kept.len() + 2);
    let mut plain = Vec::with_capacity(decoded.len() + kept.len() + 2);
    for (c, d) in &kept {
        target.push('/');
        // `canon` holds ASCII only: unreserved, reserved and `%XX`.
        target.extend(canon[c.clone()].iter().map(|&b| char::from(b)));
        plain.push(b'/');
        plain.extend_from_slice(&decoded[d.clone()]);
    }
    if kept.is_empty() || trailing_slash {
        target.push('/');
        plain.push(b'/');
    }
    let path_len = target.len();
    if let Some(q) = query {
        target.push('?');
        target.push_str(q);
    }
    let decoded = String::from_utf8(plain).map_err(|_| UrlError::InvalidUtf8)?;
    Ok(Normalized {
        target,
        path_len,
        decoded,
        params,
    })
}

/// Whether `path` is already canonical and equal to its decoded form, as most API
/// paths are: only bytes written raw (unreserved and segment-reserved, no `%`), no
/// empty segment but a trailing one, and no segment starting with `.` (dot segments
/// and their `;` forms take the full path).
fn is_plain_path(path: &str) -> bool {
    let mut prev = b'/';
    path.bytes().skip(1).all(|c| {
        let ok = match c {
            b'/' | b'.' => prev != b'/',
            _ => is_unreserved(c) || is_segment_reserved(c),
        };
        prev = c;
        ok
    })
}

/// RFC 3986 unreserved characters: equivalent raw or escaped, so always written raw.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Reserved characters allowed raw in a segment; they keep the form they came in.
fn is_segment_reserved(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@'
    )
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

/// Whether `s` starts with `%u` and four hexadecimal digits.
fn is_unicode_escape(s: &[u8]) -> bool {
    matches!(s.get(1), Some(b'u' | b'U'))
        && s.get(2..6)
            .is_some_and(|h| h.iter().all(|&c| hex_value(c).is_some()))
}

/// Decodes `%XX` at the start of `s`.
fn escape_at(s: &[u8]) -> Result<u8, UrlError> {
    if matches!(s.get(1), Some(b'u' | b'U')) {
        return Err(UrlError::UnicodeEscape);
    }
    match (
        s.get(1).copied().and_then(hex_value),
        s.get(2).copied().and_then(hex_value),
    ) {
        (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
        _ => Err(UrlError::InvalidEscape),
    }
}

fn check_byte(b: u8) -> Result<(), UrlError> {
    match b {
        0 => Err(UrlError::Nul),
        0x01..=0x1f | 0x7f => Err(UrlError::ControlChar),
        _ => Ok(()),
    }
}

/// Decodes one segment into `decoded` and writes its canonical form into `canon`.
fn decode_segment(raw: &[u8], canon: &mut Vec<u8>, decoded: &mut Vec<u8>) -> Result<(), UrlError> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        check_byte(b)?;
        if b == b'%' {
            let d = escape_at(&raw[i..])?;
            check_byte(d)?;
            if d == b'/' || d == b'\\' {
                return Err(UrlError::EncodedSeparator);
            }
            decoded.push(d);
            if is_unreserved(d) {
                canon.push(d);
            } else {
                push_escaped(canon, d);
            }
            i += 3;
            continue;
        }
        match b {
            b'\\' => return Err(UrlError::Backslash),
            b' ' | b'#' => return Err(UrlError::InvalidChar),
            _ if is_unreserved(b) || is_segment_reserved(b) => canon.push(b),
            _ => push_escaped(canon, b),
        }
        decoded.push(b);
        i += 1;
    }
    Ok(())
}

/// Whether decoded bytes still hold a `%XX` escape (the input was encoded twice).
fn has_escape(seg: &[u8]) -> bool {
    memchr::memchr_iter(b'%', seg).any(|i| {
        let hex = |j: usize| seg.get(j).copied().and_then(hex_value).is_some();
        hex(i + 1) && hex(i + 2)
    })
}

/// Validates the query; returns its parameter count. A `%` that starts no escape
/// (`?q=50%+off`, `?q=We%examine`) is a literal percent sign, as servers read it; only the
/// IIS `%uXXXX` form is refused, since some backends decode it and others do not.
fn check_query(q: &str, max_params: usize) -> Result<usize, UrlError> {
    let bytes = q.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'%' if is_unicode_escape(&bytes[i..]) => return Err(UrlError::UnicodeEscape),
            0..=0x20 | 0x7f.. | b'#' => return Err(UrlError::InvalidQuery),
            _ => {}
        }
    }
    let params = q.split('&').filter(|p| !p.is_empty()).count();
    if params > max_params {
        return Err(UrlError::TooManyParams { limit: max_params });
    }
    Ok(params)
}
