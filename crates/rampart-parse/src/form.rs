//! Strict `application/x-www-form-urlencoded`: `&`-separated `name=value` pairs, `+`
//! for space, `%XX` escapes (a `%` that starts none is a literal percent sign, as servers
//! and the edge's query check read it; only IIS `%uXXXX` is refused, since backends
//! disagree on it), UTF-8 after decoding,
//! no raw control characters (a value may hold raw tab, CR and LF, as hand-written bodies
//! do: they mean what `%09`, `%0D`, `%0A` mean), no empty names. Empty pairs (`a=1&&b=2`,
//! a trailing `&`) are skipped, as every server does.
//!
//! Repeated names are legal and kept; each repetition is a separate location
//! (`form:role`, `form:role[2]`) and a `form-repeated-name` note.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::ParseError;
use crate::limits::FormLimits;
use crate::tree::{BodyKind, LeafKind, Out, Parsed, PathId, Seg};

/// Parses a URL-encoded form body.
pub fn parse<'a>(body: &'a [u8], limits: &FormLimits) -> Result<Parsed<'a>, ParseError> {
    let mut out = Out::default();
    parse_into(body, limits, &mut out, PathId::ROOT)?;
    Ok(out.into_parsed(BodyKind::Form))
}

pub(crate) fn parse_into<'a>(
    body: &'a [u8],
    limits: &FormLimits,
    out: &mut Out<'a>,
    root: PathId,
) -> Result<(), ParseError> {
    if body.is_empty() {
        return Ok(());
    }
    let mut seen: HashMap<Cow<'a, str>, u32> = HashMap::new();
    let mut at = 0;
    for (n, pair) in body.split(|&b| b == b'&').enumerate() {
        if n >= limits.max_params {
            return Err(ParseError::exceed(
                "form-too-many-params",
                limits.max_params,
                at,
            ));
        }
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], Some(&pair[eq + 1..])),
            None => (pair, None),
        };
        if pair.is_empty() {
            at += 1;
            continue;
        }
        if raw_name.is_empty() {
            return Err(ParseError::malformed("form-empty-name", at));
        }
        if raw_name.len() > limits.max_name_bytes {
            return Err(ParseError::exceed(
                "form-name-too-long",
                limits.max_name_bytes,
                at,
            ));
        }
        let value_at = at + raw_name.len() + 1;
        if raw_value.map_or(0, <[u8]>::len) > limits.max_value_bytes {
            let max = limits.max_value_bytes;
            return Err(ParseError::exceed("form-value-too-long", max, value_at));
        }
        let name = decode(raw_name, at)?;
        let value = decode_value(raw_value.unwrap_or_default(), value_at)?;
        let nth = seen.entry(name.clone()).or_insert(0);
        *nth += 1;
        let path = out.paths.named(root, Seg::Param, name.clone(), *nth);
        if *nth == 2 {
            out.note("form-repeated-name", path);
        }
        out.leaf(path, LeafKind::Key, name);
        out.leaf(path, LeafKind::String, value);
        at += pair.len() + 1;
    }
    Ok(())
}

/// Percent-decodes one value: raw tab, CR and LF are kept as they are.
fn decode_value(raw: &[u8], at: usize) -> Result<Cow<'_, str>, ParseError> {
    checked_decode(raw, at, |b| matches!(b, b'\t' | b'\r' | b'\n'))
}

/// Percent-decodes one name or value; borrows when nothing needed decoding.
pub(crate) fn decode(raw: &[u8], at: usize) -> Result<Cow<'_, str>, ParseError> {
    checked_decode(raw, at, |_| false)
}

fn checked_decode(
    raw: &[u8],
    at: usize,
    allowed: impl Fn(u8) -> bool,
) -> Result<Cow<'_, str>, ParseError> {
    if let Some(i) = raw
        .iter()
        .position(|&b| (b < 0x20 || b == 0x7f) && !allowed(b))
    {
        return Err(ParseError::malformed("form-control-char", at + i));
    }
    let utf8 =
        |e: std::str::Utf8Error| ParseError::malformed("form-invalid-utf8", at + e.valid_up_to());
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return std::str::from_utf8(raw).map(Cow::Borrowed).map_err(utf8);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |k: usize| raw.get(k).and_then(|&c| (c as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ if is_unicode_escape(&raw[i..]) => {
                        return Err(ParseError::malformed("form-bad-escape", at + i));
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|e| ParseError::malformed("form-invalid-utf8", at + e.utf8_error().valid_up_to()))
}

/// `%uXXXX` (either case of `u`), which IIS decodes and other servers keep.
fn is_unicode_escape(s: &[u8]) -> bool {
    s.len() >= 6 && s[1].eq_ignore_ascii_case(&b'u') && s[2..6].iter().all(u8::is_ascii_hexdigit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &[u8]) -> &'static str {
        match parse(input, &FormLimits::default()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn attacks_fail_with_their_code_next_to_look_alikes_that_pass() {
        let cases: &[(&[u8], &str)] = &[
            (b"a=1&b=2", "ok"),
            (b"", "ok"),
            (b"q=%27+OR+1%3D1--", "ok"),
            // A `%` that starts no escape is literal, as servers read it ("50% off").
            (b"q=%2", "ok"),
            (b"q=%zz", "ok"),
            (b"q=50%+off", "ok"),
            (b"q=%%41", "ok"),
            (b"q=%u", "ok"),
            (b"q=%u0027", "form-bad-escape"),
            (b"q=%U0027", "form-bad-escape"),
            (b"q=%C3%A9", "ok"),
            (b"q=%C3", "form-invalid-utf8"),
            (b"q=%ED%A0%80", "form-invalid-utf8"),
            (b"q=\xff", "form-invalid-utf8"),
            (b"q=a\nb", "ok"),
            (b"q=line\r\nnext\tcol", "ok"),
            (b"q=a\x00b", "form-control-char"),
            (b"q\n=1", "form-control-char"),
            (b"q=a%0Ab", "ok"),
            (b"a=1&&b=2", "ok"),
            (b"a=1&", "ok"),
            (b"=1", "form-empty-name"),
            (b"flag", "ok"),
            (b"a==1", "ok"),
            (b"role=user&role=admin", "ok"),
        ];
        for (input, want) in cases {
            assert_eq!(code(input), *want, "{}", input.escape_ascii());
        }
    }

    #[test]
    fn a_percent_that_starts_no_escape_is_literal() {
        let p = parse(b"q=50%+off&r=%%41&s=%zz&t=100%", &FormLimits::default()).expect("valid");
        let values: Vec<&str> = p
            .leaves
            .iter()
            .filter(|l| l.kind == LeafKind::String)
            .map(|l| l.value.as_ref())
            .collect();
        assert_eq!(values, ["50% off", "%A", "%zz", "100%"]);
    }

    #[test]
    fn top_level_fields_pair_each_name_with_its_value() {
        let p = parse(b"qty=3&role=user&role=admin&flag", &FormLimits::default()).expect("valid");
        let got: Vec<(&str, Option<&str>, String)> = p
            .top_level_fields()
            .into_iter()
            .map(|f| (f.name, f.text, f.location))
            .collect();
        assert_eq!(
            got,
            [
                ("qty", Some("3"), "form:qty".to_owned()),
                ("role", Some("user"), "form:role".to_owned()),
                ("role", Some("admin"), "form:role[2]".to_owned()),
                ("flag", Some(""), "form:flag".to_owned()),
            ]
        );
    }

    #[test]
    fn emits_names_and_values_and_exposes_repeats() {
        let p = parse(
            b"role=user&q=a+b%26c&role=admin&flag",
            &FormLimits::default(),
        )
        .expect("valid");
        let got: Vec<(String, LeafKind, &str)> = p
            .leaves
            .iter()
            .map(|l| (p.location(l.path), l.kind, l.value.as_ref()))
            .collect();
        let want = [
            ("form:role", LeafKind::Key, "role"),
            ("form:role", LeafKind::String, "user"),
            ("form:q", LeafKind::Key, "q"),
            ("form:q", LeafKind::String, "a b&c"),
            ("form:role[2]", LeafKind::Key, "role"),
            ("form:role[2]", LeafKind::String, "admin"),
            ("form:flag", LeafKind::Key, "flag"),
            ("form:flag", LeafKind::String, ""),
        ];
        let want: Vec<(String, LeafKind, &str)> = want
            .iter()
            .map(|(p, k, v)| (p.to_string(), *k, *v))
            .collect();
        assert_eq!(got, want);
        assert_eq!(p.notes.len(), 1);
        assert_eq!(
            (p.notes[0].code, p.location(p.notes[0].path).as_str()),
            ("form-repeated-name", "form:role[2]")
        );
        assert!(matches!(p.leaves[1].value, Cow::Borrowed("user")));
    }

    #[test]
    fn enforces_each_limit_next_to_the_largest_legal_input() {
        let l = FormLimits {
            max_params: 2,
            max_name_bytes: 3,
            max_value_bytes: 4,
        };
        let cases: &[(&[u8], &str)] = &[
            (b"a=1&b=2", "ok"),
            (b"a=1&b=2&c=3", "form-too-many-params"),
            (b"abc=1", "ok"),
            (b"abcd=1", "form-name-too-long"),
            (b"a=1234", "ok"),
            (b"a=12345", "form-value-too-long"),
        ];
        for (input, want) in cases {
            let got = parse(input, &l).map_or_else(|e| e.code(), |_| "ok");
            assert_eq!(got, *want, "{}", input.escape_ascii());
        }
    }
}
