//! Strict `multipart/form-data` (RFC 7578 over RFC 2046).
//!
//! The body must start with the first delimiter (no preamble) and end with the close
//! delimiter, optionally followed by one CRLF (no other epilogue). Every delimiter
//! line ends in CRLF with no transport padding. The boundary string may appear in the
//! body only as a CRLF-preceded delimiter: preceded by a bare LF (which some backends
//! split on) or inside content, the body is refused. Each part needs exactly one
//! `Content-Disposition: form-data; name="..."`; file names with path separators,
//! `..` or control characters are refused (422).
//!
//! Text fields (no file name, `text/plain` or no type) become leaves; JSON and XML
//! parts are parsed into leaves below `part:name`; everything else is a [`FilePart`]
//! sharing the body's buffer, for the antivirus.

mod headers;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;

use crate::error::ParseError;
use crate::limits::Limits;
use crate::tree::{BodyKind, FilePart, LeafKind, Out, Parsed, PathId, Seg};
use crate::{json, xml};

/// Checks a boundary parameter: 1 to 70 characters from RFC 2046's `bchars`, not
/// ending in a space.
pub fn check_boundary(boundary: &str) -> Result<(), ParseError> {
    let ok_char = |c: u8| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c);
    let b = boundary.as_bytes();
    if b.is_empty() || b.len() > 70 || !b.iter().all(|&c| ok_char(c)) || b.ends_with(b" ") {
        return Err(ParseError::malformed("multipart-bad-boundary", 0));
    }
    Ok(())
}

/// Parses a multipart body delimited by `boundary`.
pub fn parse<'a>(
    body: &'a Bytes,
    boundary: &str,
    limits: &Limits,
) -> Result<Parsed<'a>, ParseError> {
    let mut out = Out::default();
    parse_into(body, boundary, limits, &mut out)?;
    Ok(out.into_parsed(BodyKind::Multipart))
}

pub(crate) fn parse_into<'a>(
    body: &'a Bytes,
    boundary: &str,
    limits: &Limits,
    out: &mut Out<'a>,
) -> Result<(), ParseError> {
    check_boundary(boundary)?;
    let ml = &limits.multipart;
    let b: &'a [u8] = body.as_ref();
    let delim = [b"--", boundary.as_bytes()].concat();
    let finder = memchr::memmem::Finder::new(&delim);
    if !b.starts_with(&delim) {
        let code = match finder.find(b) {
            Some(_) => "multipart-preamble",
            None => "multipart-missing-boundary",
        };
        return Err(ParseError::malformed(code, 0));
    }
    let mut pos = delim.len();
    let mut parts = 0;
    let mut seen: HashMap<&'a str, u32> = HashMap::new();
    loop {
        let rest = &b[pos..];
        if let Some(after) = rest.strip_prefix(b"--") {
            if after.is_empty() || after == b"\r\n" {
                return Ok(());
            }
            return Err(ParseError::malformed("multipart-epilogue", pos + 2));
        }
        if !rest.starts_with(b"\r\n") {
            let code = match rest.first() {
                None => "multipart-missing-close",
                Some(b'\n') => "multipart-bare-lf",
                Some(_) => "multipart-bad-delimiter",
            };
            return Err(ParseError::malformed(code, pos));
        }
        pos += 2;
        parts += 1;
        if parts > ml.max_parts {
            return Err(ParseError::exceed(
                "multipart-too-many-parts",
                ml.max_parts,
                pos,
            ));
        }
        let (h, start) = headers::read(b, pos, ml.max_header_bytes, ml.max_name_bytes)?;
        let found = finder.find(&b[start..]).map(|i| start + i);
        let Some(next) = found else {
            return Err(ParseError::malformed("multipart-missing-close", b.len()));
        };
        let end = if next >= start + 2 && &b[next - 2..next] == b"\r\n" {
            next - 2
        } else if next > start && b[next - 1] == b'\n' {
            return Err(ParseError::malformed("multipart-bare-lf", next - 1));
        } else {
            return Err(ParseError::malformed("multipart-boundary-in-body", next));
        };
        if end - start > ml.max_part_bytes {
            return Err(ParseError::exceed(
                "multipart-part-too-large",
                ml.max_part_bytes,
                start,
            ));
        }
        pos = next + delim.len();
        let nth = seen.entry(h.name).or_insert(0);
        *nth += 1;
        let path = out
            .paths
            .named(PathId::ROOT, Seg::Part, h.name.into(), *nth);
        if *nth == 2 {
            out.note("multipart-repeated-name", path);
        }
        part(body, start..end, h, path, limits, out).map_err(|e| {
            let e = e.shifted(start);
            e.at(|| out.paths.render(path))
        })?;
    }
}

fn part<'a>(
    body: &'a Bytes,
    range: std::ops::Range<usize>,
    h: headers::PartHeaders<'a>,
    path: PathId,
    limits: &Limits,
    out: &mut Out<'a>,
) -> Result<(), ParseError> {
    let content: &'a [u8] = &body.as_ref()[range.clone()];
    let kind = h
        .content_type
        .as_ref()
        .map_or(Some(BodyKind::Text), |m| m.kind(false));
    let textual = matches!(kind, Some(BodyKind::Text | BodyKind::Json | BodyKind::Xml));
    // A field (no file name) of any type is read as text by form handlers: `text/html;
    // charset=utf-7` would carry `+ADw-script+AD4-` past inspection.
    if let (None, Some(m)) = (h.filename, &h.content_type) {
        m.require_utf8()?;
    }
    if h.filename.is_some() || !textual {
        out.files.push(FilePart {
            path,
            name: Cow::Borrowed(h.name),
            filename: h.filename.map(Cow::Borrowed),
            content_type: h.content_type.map(|m| m.essence().to_owned()),
            bytes: body.slice(range),
        });
        return Ok(());
    }
    out.leaf(path, LeafKind::Key, Cow::Borrowed(h.name));
    match kind {
        Some(BodyKind::Json) => {
            json::parse_into(content, &limits.json, out, path, false)?;
        }
        Some(BodyKind::Xml) => xml::parse_into(content, &limits.xml, out, path)?,
        _ => {
            let text = std::str::from_utf8(content)
                .map_err(|e| ParseError::malformed("multipart-invalid-utf8", e.valid_up_to()))?;
            if h.name == "_charset_" {
                form_charset(text)?;
            }
            out.leaf(path, LeafKind::String, Cow::Borrowed(text));
        }
    }
    Ok(())
}

/// HTML's `_charset_` field names the charset the backend decodes every other field with
/// (`utf-7` would turn `+ADw-` into `<` after inspection): only the charsets a part's own
/// `Content-Type` may name are accepted, with the same 415.
fn form_charset(value: &str) -> Result<(), ParseError> {
    let v = value.trim_ascii();
    let token = !v.is_empty()
        && v.len() <= 40
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'));
    if !token {
        return Err(ParseError::unsupported("media-charset", value.as_bytes()));
    }
    crate::media::MediaType::parse(&format!("text/plain; charset={v}"))?.require_utf8()
}
