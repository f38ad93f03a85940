//! The clean fast path: values that no decoder or detector can react to skip decoding and
//! detectors and only meet the literal-gated patterns. Two shapes qualify: plain tokens
//! (ids, numbers, UUIDs, dates, words) and, in well-known headers with a closed grammar
//! (`Accept*`, `Cache-Control`, `Sec-Fetch-*`, `If-None-Match`...), values that conform to
//! a strict token-list grammar. Anything else takes the full path.

use crate::decode;
use crate::field::{Field, FieldKind};

/// Headers whose legitimate values are lists of tokens, `name=value` parameters and short
/// quoted strings. Free-text headers (`User-Agent`, `Referer`, custom ones) are not here.
const TOKEN_LIST_HEADERS: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "connection",
    "content-encoding",
    "content-type",
    "dnt",
    "host",
    "if-match",
    "if-none-match",
    "pragma",
    "priority",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-user",
    "sec-gpc",
    "te",
    "transfer-encoding",
    "upgrade-insecure-requests",
];

/// Longest quoted string accepted in a token list (ETags, platform names).
const MAX_QUOTED: usize = 64;

/// The value as text when it may take the fast path.
pub(crate) fn text<'v>(field: &'v Field<'_>) -> Option<&'v str> {
    let raw: &[u8] = &field.value;
    let ok = plain(raw)
        || field.kind == FieldKind::HeaderValue
            && TOKEN_LIST_HEADERS.contains(&field.location.name())
            && token_list(raw);
    if !ok {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    (!decode::could_be_base64(text)).then_some(text)
}

fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b',' | b'.' | b'-')
}

/// Letters, digits and `_ , . -` without `..` or `--` (traversal, SQL comments).
fn plain(raw: &[u8]) -> bool {
    let mut prev = 0u8;
    raw.iter().all(|&b| {
        let ok = token_byte(b) && !(matches!(b, b'.' | b'-') && b == prev);
        prev = b;
        ok
    })
}

/// Tokens of `[A-Za-z0-9_.+*-]` joined by single `, ; = / :` separators (spaces only next to
/// a separator, so no multi-word phrases), or quoted strings of token characters and `:/=`.
fn token_list(raw: &[u8]) -> bool {
    let mut i = 0;
    // Whether the last thing seen was a separator (or the start), so a space may follow.
    let mut after_sep = true;
    let mut prev = 0u8;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b' ' | b'\t' => {
                let next = raw.get(i + 1).copied().unwrap_or(b',');
                if !(after_sep || matches!(next, b',' | b';' | b'=' | b'/' | b' ' | b'\t')) {
                    return false;
                }
            }
            b',' | b';' | b'=' | b'/' | b':' => after_sep = true,
            b'"' => {
                let Some(len) = raw[i + 1..].iter().position(|&c| c == b'"') else {
                    return false;
                };
                let inner = &raw[i + 1..i + 1 + len];
                if len > MAX_QUOTED || !inner.iter().all(|&c| quoted_byte(c)) || !plain_runs(inner)
                {
                    return false;
                }
                i += len + 2;
                after_sep = false;
                prev = b'"';
                continue;
            }
            b if token_byte(b) || matches!(b, b'+' | b'*') => {
                if matches!(b, b'.' | b'-') && b == prev {
                    return false;
                }
                after_sep = false;
            }
            _ => return false,
        }
        prev = b;
        i += 1;
    }
    true
}

fn quoted_byte(b: u8) -> bool {
    token_byte(b) || matches!(b, b':' | b'/' | b'=' | b'+')
}

fn plain_runs(s: &[u8]) -> bool {
    !s.windows(2).any(|w| w == b".." || w == b"--")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Location;

    fn header(name: &'static str, value: &'static str) -> bool {
        let f = Field::new(
            Location::new("header", name),
            FieldKind::HeaderValue,
            value.as_bytes(),
        );
        text(&f).is_some()
    }

    fn query(value: &'static str) -> bool {
        let f = Field::new(
            Location::new("query", "q"),
            FieldKind::QueryValue,
            value.as_bytes(),
        );
        text(&f).is_some()
    }

    #[test]
    fn clean_shapes_take_the_fast_path() {
        for v in [
            "150.50",
            "-created_at",
            "9f86d081884c7d659a2feaa0c55ad015",
            "2024-05-01",
            "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "true",
            "en",
        ] {
            assert!(query(v), "{v}");
        }
        for (h, v) in [
            (
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
            ),
            ("accept-language", "en-US,en;q=0.9,de;q=0.8"),
            ("accept-encoding", "gzip, deflate, br"),
            ("if-none-match", "W/\"5e-1a2b3c\""),
            ("cache-control", "max-age=0, no-cache"),
            ("sec-ch-ua-platform", "\"Linux\""),
            ("content-type", "application/json; charset=utf-8"),
            ("host", "shop.example.com:8443"),
        ] {
            assert!(header(h, v), "{h}: {v}");
        }
    }

    #[test]
    fn attack_shapes_take_the_full_path() {
        for v in [
            "1 or 1",
            "../etc",
            "a--",
            "x'",
            "<b>",
            "${x}",
            "%27",
            "a+b",
            "a;b",
            "cm0gLXJmIC8K",
            "dW5pb24gc2VsZWN0",
        ] {
            assert!(!query(v), "{v}");
        }
        for (h, v) in [
            ("accept", "../../etc/passwd"),
            ("accept", "text/html' or '1'='1"),
            ("accept", "text/html; sleep 5"),
            ("accept-language", "en (select 1)"),
            ("if-none-match", "\"<script>alert(1)</script>\""),
            ("cache-control", "max-age=0 -- x"),
            ("host", "${jndi:ldap://x/a}"),
            ("user-agent", "Mozilla/5.0 (X11)"),
            ("x-custom", "gzip, deflate"),
        ] {
            assert!(!header(h, v), "{h}: {v}");
        }
    }
}
