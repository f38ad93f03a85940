//! Strict `Content-Type` parsing (RFC 9110 §8.3.1) and the choice of parser.

use crate::error::ParseError;
use crate::tree::BodyKind;

/// A parsed media type: lowercase `type/subtype` and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    essence: String,
    slash: usize,
    params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses a `Content-Type` value. Refuses anything outside the RFC 9110 grammar,
    /// and repeated parameters (parsers disagree on which one wins).
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let bad = |code, at| ParseError::malformed(code, at);
        let b = value.as_bytes();
        let mut i = skip_ows(b, 0);
        let t0 = i;
        i = skip_token(b, i);
        if i == t0 || b.get(i) != Some(&b'/') {
            return Err(bad("media-malformed", i));
        }
        let slash = i - t0;
        let s0 = i + 1;
        i = skip_token(b, s0);
        if i == s0 {
            return Err(bad("media-malformed", i));
        }
        let essence = value[t0..i].to_ascii_lowercase();
        let mut params: Vec<(String, String)> = Vec::new();
        loop {
            i = skip_ows(b, i);
            match b.get(i) {
                None => break,
                Some(b';') => i = skip_ows(b, i + 1),
                Some(_) => return Err(bad("media-malformed", i)),
            }
            if i == b.len() || b[i] == b';' {
                continue;
            }
            let n0 = i;
            i = skip_token(b, i);
            if i == n0 || b.get(i) != Some(&b'=') {
                return Err(bad("media-malformed", i));
            }
            let name = value[n0..i].to_ascii_lowercase();
            i += 1;
            let (val, next) = if b.get(i) == Some(&b'"') {
                quoted(b, i + 1).ok_or_else(|| bad("media-malformed", i))?
            } else {
                let v0 = i;
                i = skip_token(b, i);
                if i == v0 {
                    return Err(bad("media-malformed", i));
                }
                (value[v0..i].to_owned(), i)
            };
            i = next;
            if params.iter().any(|(n, _)| *n == name) {
                return Err(bad("media-duplicate-parameter", n0));
            }
            params.push((name, val));
        }
        Ok(Self {
            essence,
            slash,
            params,
        })
    }

    /// Lowercase `type/subtype`.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// The top-level type, e.g. `application`.
    pub fn top(&self) -> &str {
        &self.essence[..self.slash]
    }

    /// The subtype, e.g. `soap+xml`.
    pub fn subtype(&self) -> &str {
        &self.essence[self.slash + 1..]
    }

    /// A parameter's value by lowercase name (values keep their case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses a charset in which the body may spell ASCII differently than UTF-8 does.
    /// UTF-8, US-ASCII and the ASCII-compatible single-byte sets (ISO-8859-*, Windows-125x)
    /// pass: the parsers still require the bytes to be UTF-8, and every ASCII byte means
    /// the same in all of them, so no markup or quote can hide from inspection. Charsets
    /// known as WAF bypasses (UTF-7, UTF-16/32, EBCDIC) get their own code so the caller
    /// can treat them as an evasion rather than as a mere unsupported type.
    pub fn require_utf8(&self) -> Result<(), ParseError> {
        let Some(c) = self.param("charset") else {
            return Ok(());
        };
        let lower = c.to_ascii_lowercase();
        let ascii_compatible = matches!(lower.as_str(), "utf-8" | "utf8" | "us-ascii" | "latin1")
            || lower
                .strip_prefix("iso-8859-")
                .is_some_and(|n| matches!(n.parse::<u8>(), Ok(1..=16)))
            || lower
                .strip_prefix("windows-125")
                .is_some_and(|n| n.len() == 1 && n.as_bytes()[0].is_ascii_digit());
        if ascii_compatible {
            return Ok(());
        }
        let evasive = [
            "utf-7", "utf7", "utf-16", "utf16", "utf-32", "utf32", "ucs-", "ucs2",
        ]
        .iter()
        .any(|p| lower.starts_with(p))
            || lower.starts_with("cp0")
            || lower.starts_with("ibm")
            || lower.contains("ebcdic");
        let code = if evasive {
            "media-charset-evasive"
        } else {
            "media-charset"
        };
        Err(ParseError::unsupported(code, c.as_bytes()))
    }

    /// Which parser handles this type; `None` for types this crate does not parse.
    /// On a GraphQL route, JSON is GraphQL-over-JSON.
    pub fn kind(&self, graphql_route: bool) -> Option<BodyKind> {
        let sub = self.subtype();
        let kind = match (self.top(), sub) {
            ("application", "json") => BodyKind::Json,
            ("application", "graphql") => BodyKind::Graphql,
            ("application", "xml") | ("text", "xml") => BodyKind::Xml,
            ("application", "x-www-form-urlencoded") => BodyKind::Form,
            ("multipart", "form-data") => BodyKind::Multipart,
            ("text", "plain") => BodyKind::Text,
            ("application", s) if s.ends_with("+json") => BodyKind::Json,
            (_, s) if s.ends_with("+xml") => BodyKind::Xml,
            _ => return None,
        };
        Some(match kind {
            BodyKind::Json if graphql_route => BodyKind::Graphql,
            k => k,
        })
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn skip_token(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_tchar(c)) {
        i += 1;
    }
    i
}

fn skip_ows(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// The content of a quoted-string starting after its opening quote, and the index
/// after its closing quote.
pub(crate) fn quoted(b: &[u8], mut i: usize) -> Option<(String, usize)> {
    let mut out = Vec::new();
    loop {
        match *b.get(i)? {
            b'"' => return Some((String::from_utf8(out).ok()?, i + 1)),
            b'\\' => {
                let c = *b.get(i + 1)?;
                if !(c == b'\t' || (0x20..0x7f).contains(&c)) {
                    return None;
                }
                out.push(c);
                i += 2;
            }
            c if c == b'\t' || (0x20..0x7f).contains(&c) => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_classifies_look_alikes() {
        let cases: &[(&str, Option<BodyKind>)] = &[
            ("application/json", Some(BodyKind::Json)),
            ("Application/JSON; charset=UTF-8", Some(BodyKind::Json)),
            ("application/vnd.api+json", Some(BodyKind::Json)),
            (
                "application/problem+json ; charset=\"utf-8\"",
                Some(BodyKind::Json),
            ),
            (
                "application/soap+xml; charset=utf-8; action=\"urn:x\"",
                Some(BodyKind::Xml),
            ),
            ("text/xml", Some(BodyKind::Xml)),
            ("image/svg+xml", Some(BodyKind::Xml)),
            ("application/x-www-form-urlencoded", Some(BodyKind::Form)),
            (
                "multipart/form-data; boundary=----abc",
                Some(BodyKind::Multipart),
            ),
            ("application/graphql", Some(BodyKind::Graphql)),
            ("text/plain;charset=us-ascii", Some(BodyKind::Text)),
            ("application/octet-stream", None),
            ("text/json", None),
            ("application/jsonx", None),
        ];
        for (ct, kind) in cases {
            let m = MediaType::parse(ct).unwrap_or_else(|e| panic!("{ct}: {e}"));
            assert_eq!(m.kind(false), *kind, "{ct}");
        }
        let m = MediaType::parse("application/json").expect("valid");
        assert_eq!(m.kind(true), Some(BodyKind::Graphql));
    }

    #[test]
    fn rejects_malformed_headers() {
        let cases: &[(&str, &str)] = &[
            ("", "media-malformed"),
            ("json", "media-malformed"),
            ("application/", "media-malformed"),
            ("/json", "media-malformed"),
            ("application/json x", "media-malformed"),
            ("application/json; charset", "media-malformed"),
            ("application/json; charset=", "media-malformed"),
            ("application/json; charset=\"utf-8", "media-malformed"),
            ("application/json; a=b c", "media-malformed"),
            (
                "application/json; charset=utf-8; charset=latin1",
                "media-duplicate-parameter",
            ),
            (
                "application/json; Charset=utf-8; charset=utf-8",
                "media-duplicate-parameter",
            ),
            ("application/js\u{f6}n", "media-malformed"),
        ];
        for (ct, code) in cases {
            let e = MediaType::parse(ct).expect_err(ct);
            assert_eq!(e.code(), *code, "{ct}");
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn refuses_charsets_other_than_utf8() {
        for (ct, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("application/json; charset=UTF-8", true),
            ("application/json; charset=us-ascii", true),
            ("application/json; charset=iso-8859-1", true),
            ("text/plain; charset=windows-1252", true),
            ("text/plain; charset=ISO-8859-15", true),
            ("application/json; charset=\"utf-8 \"", false),
            ("text/plain; charset=shift_jis", false),
            ("text/plain; charset=iso-8859-99", false),
        ] {
            let r = MediaType::parse(ct).expect("valid").require_utf8();
            assert_eq!(r.is_ok(), ok, "{ct}");
            if let Err(e) = r {
                assert_eq!((e.code(), e.status()), ("media-charset", 415));
            }
        }
        for ct in [
            "application/json; charset=utf-16",
            "application/json; charset=utf-7",
            "text/plain; charset=UTF-32LE",
            "text/plain; charset=ibm037",
        ] {
            let e = MediaType::parse(ct).expect("valid").require_utf8();
            let e = e.expect_err(ct);
            assert_eq!(
                (e.code(), e.status()),
                ("media-charset-evasive", 415),
                "{ct}"
            );
        }
    }

    #[test]
    fn quoted_parameters_unescape() {
        let m = MediaType::parse(r#"multipart/form-data; boundary="a\"b c""#).expect("valid");
        assert_eq!(m.param("boundary"), Some("a\"b c"));
    }
}
