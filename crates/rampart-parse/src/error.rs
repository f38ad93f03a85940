//! The one error type of the crate, its stable codes and the status each maps to.
//!
//! Status policy: broken syntax or framing is 400; a body that is well-formed but
//! ambiguous (duplicate JSON keys, unsafe file names) is 422, because backends
//! disagree on what it means; a body past a configured limit (size, count, depth,
//! decompression bomb) is 413; a media type, charset or content coding we do not
//! parse is 415.

use std::fmt;

/// Why a body was refused, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body broke a syntax or framing rule of its format.
    #[error("{code} at byte {offset}{}", Loc(path))]
    Malformed {
        /// Stable machine code, e.g. `json-syntax`, `multipart-bare-lf`.
        code: &'static str,
        /// Byte offset in the (decoded) body, when known; 0 otherwise.
        offset: usize,
        /// Location (JSON pointer, XPath-like path), when known.
        path: Option<String>,
    },
    /// The body is well-formed but ambiguous or unsafe to forward.
    #[error("{code} at byte {offset}{}", Loc(path))]
    Ambiguous {
        /// Stable machine code, e.g. `json-duplicate-key`.
        code: &'static str,
        /// Byte offset in the (decoded) body.
        offset: usize,
        /// Location, when known.
        path: Option<String>,
    },
    /// The body crossed a configured limit.
    #[error("{code}: limit {limit} exceeded at byte {offset}{}", Loc(path))]
    Exceed {
        /// Stable machine code, e.g. `json-too-deep`, `encoding-bomb`.
        code: &'static str,
        /// The configured limit that was crossed.
        limit: u64,
        /// Byte offset in the (decoded) body.
        offset: usize,
        /// Location, when known.
        path: Option<String>,
    },
    /// The media type, charset or content coding is not one this crate parses.
    #[error("{code}: {snippet}")]
    Unsupported {
        /// Stable machine code, e.g. `media-unsupported`, `encoding-unsupported`.
        code: &'static str,
        /// The offending value, escaped and truncated.
        snippet: String,
    },
}

struct Loc<'a>(&'a Option<String>);

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, " ({})", snippet(p.as_bytes())),
            None => Ok(()),
        }
    }
}

impl ParseError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { code, .. }
            | Self::Ambiguous { code, .. }
            | Self::Exceed { code, .. }
            | Self::Unsupported { code, .. } => code,
        }
    }

    /// The HTTP status the caller should answer with: 400, 413, 415 or 422.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed { .. } => 400,
            Self::Ambiguous { .. } => 422,
            Self::Exceed { .. } => 413,
            Self::Unsupported { .. } => 415,
        }
    }

    /// The location (JSON pointer, XPath-like path, form parameter), when known.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Malformed { path, .. }
            | Self::Ambiguous { path, .. }
            | Self::Exceed { path, .. } => path.as_deref(),
            Self::Unsupported { .. } => None,
        }
    }

    /// The byte offset in the decoded body, when the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::Malformed { offset, .. }
            | Self::Ambiguous { offset, .. }
            | Self::Exceed { offset, .. } => Some(*offset),
            Self::Unsupported { .. } => None,
        }
    }

    pub(crate) fn malformed(code: &'static str, offset: usize) -> Self {
        Self::Malformed {
            code,
            offset,
            path: None,
        }
    }

    pub(crate) fn ambiguous(code: &'static str, offset: usize) -> Self {
        Self::Ambiguous {
            code,
            offset,
            path: None,
        }
    }

    pub(crate) fn exceed(code: &'static str, limit: usize, offset: usize) -> Self {
        Self::Exceed {
            code,
            limit: limit as u64,
            offset,
            path: None,
        }
    }

    pub(crate) fn unsupported(code: &'static str, value: &[u8]) -> Self {
        Self::Unsupported {
            code,
            snippet: snippet(value),
        }
    }

    /// Attaches a location unless one is already set.
    pub(crate) fn at(mut self, location: impl FnOnce() -> String) -> Self {
        if let Self::Malformed { path, .. }
        | Self::Ambiguous { path, .. }
        | Self::Exceed { path, .. } = &mut self
            && path.is_none()
        {
            *path = Some(location());
        }
        self
    }

    /// Shifts the offset by `base`, for parsers run on a slice of the body.
    pub(crate) fn shifted(mut self, base: usize) -> Self {
        if let Self::Malformed { offset, .. }
        | Self::Ambiguous { offset, .. }
        | Self::Exceed { offset, .. } = &mut self
        {
            *offset = offset.saturating_add(base);
        }
        self
    }
}

/// At most this many bytes of input ever reach an error message.
const SNIPPET_MAX: usize = 48;

/// A short, escaped rendering of untrusted bytes for messages and logs.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(SNIPPET_MAX)];
    let mut out: String = cut.escape_ascii().to_string();
    if bytes.len() > SNIPPET_MAX {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_policy() {
        assert_eq!(ParseError::malformed("json-syntax", 0).status(), 400);
        assert_eq!(ParseError::ambiguous("json-duplicate-key", 0).status(), 422);
        assert_eq!(ParseError::exceed("json-too-deep", 32, 0).status(), 413);
        assert_eq!(
            ParseError::unsupported("media-unsupported", b"x/y").status(),
            415
        );
    }

    #[test]
    fn messages_never_carry_more_than_a_short_escaped_snippet() {
        let hostile = [b'\n'; 10_000];
        let e = ParseError::unsupported("media-unsupported", &hostile);
        let msg = e.to_string();
        assert!(msg.len() < 4 * SNIPPET_MAX + 40, "{}", msg.len());
        assert!(!msg.contains('\n'));
        let e = ParseError::malformed("json-syntax", 3).at(|| "/a\nb".repeat(1000));
        assert!(!e.to_string().contains('\n'));
        assert_eq!(e.path().map(str::len), Some(4000));
    }
}
