//! Part headers: the header block, `Content-Disposition` and file-name rules.

use crate::error::ParseError;
use crate::media::MediaType;

/// The headers of one part that matter.
#[derive(Debug, Default)]
pub(super) struct PartHeaders<'a> {
    pub(super) name: &'a str,
    pub(super) filename: Option<&'a str>,
    pub(super) content_type: Option<MediaType>,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Reads the header block starting at `pos`; returns the headers and the index of the
/// content. Lines must end in CRLF; bare LF, bare CR, folding and repeated headers are
/// refused, as is `Content-Transfer-Encoding` (backends disagree on decoding it).
pub(super) fn read<'a>(
    b: &'a [u8],
    mut pos: usize,
    max_bytes: usize,
    max_name: usize,
) -> Result<(PartHeaders<'a>, usize), ParseError> {
    let start = pos;
    let mut disposition: Option<&'a [u8]> = None;
    let mut content_type: Option<&'a [u8]> = None;
    let mut seen: Vec<&'a [u8]> = Vec::new();
    loop {
        let window = &b[pos..b.len().min(start + max_bytes + 2)];
        let Some(nl) = memchr::memchr(b'\n', window) else {
            return Err(if b.len() > start + max_bytes {
                ParseError::exceed("multipart-header-too-long", max_bytes, start)
            } else {
                ParseError::malformed("multipart-unexpected-end", b.len())
            });
        };
        if nl == 0 || window[nl - 1] != b'\r' {
            return Err(ParseError::malformed("multipart-bare-lf", pos + nl));
        }
        let line = &window[..nl - 1];
        let line_at = pos;
        pos += nl + 1;
        if line.is_empty() {
            break;
        }
        let bad = ParseError::malformed("multipart-bad-header", line_at);
        if line.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            return Err(bad);
        }
        let colon = line.iter().position(|&c| c == b':').ok_or(bad.clone())?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
            return Err(bad);
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(ParseError::malformed("multipart-duplicate-header", line_at));
        }
        seen.push(name);
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-disposition") {
            disposition = Some(value);
        } else if name.eq_ignore_ascii_case(b"content-type") {
            content_type = Some(value);
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            return Err(ParseError::unsupported(
                "multipart-transfer-encoding",
                value,
            ));
        }
    }
    let disposition = disposition.ok_or(ParseError::malformed(
        "multipart-missing-disposition",
        start,
    ))?;
    let mut headers = parse_disposition(disposition, start, max_name)?;
    if let Some(ct) = content_type {
        let ct =
            std::str::from_utf8(ct).map_err(|_| ParseError::malformed("media-malformed", start))?;
        headers.content_type = Some(MediaType::parse(ct).map_err(|e| e.shifted(start))?);
    }
    Ok((headers, pos))
}

/// `form-data; name="..."; filename="..."`. Quoted strings may hold UTF-8 but no
/// backslash: parsers disagree on whether it escapes the next quote.
fn parse_disposition(v: &[u8], at: usize, max_name: usize) -> Result<PartHeaders<'_>, ParseError> {
    let bad = || ParseError::malformed("multipart-bad-disposition", at);
    let token_end = |i: usize| i + v[i..].iter().take_while(|&&c| is_tchar(c)).count();
    let skip_ows = |mut i: usize| {
        while matches!(v.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    };
    let mut i = token_end(0);
    if !v[..i].eq_ignore_ascii_case(b"form-data") {
        return Err(bad());
    }
    let mut name = None;
    let mut filename = None;
    let mut seen: Vec<&[u8]> = Vec::new();
    loop {
        i = skip_ows(i);
        match v.get(i) {
            None => break,
            Some(b';') => i = skip_ows(i + 1),
            Some(_) => return Err(bad()),
        }
        let k0 = i;
        i = token_end(i);
        let key = &v[k0..i];
        if key.is_empty() || v.get(i) != Some(&b'=') {
            return Err(bad());
        }
        i += 1;
        let value = if v.get(i) == Some(&b'"') {
            let len = v[i + 1..].iter().position(|&c| c == b'"').ok_or_else(bad)?;
            let q = &v[i + 1..i + 1 + len];
            if q.contains(&b'\\') {
                return Err(bad());
            }
            i += len + 2;
            q
        } else {
            let v0 = i;
            i = token_end(i);
            if i == v0 {
                return Err(bad());
            }
            &v[v0..i]
        };
        if seen.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            return Err(bad());
        }
        seen.push(key);
        if value.len() > max_name {
            return Err(ParseError::exceed("multipart-name-too-long", max_name, at));
        }
        if key.eq_ignore_ascii_case(b"name") {
            name = Some(std::str::from_utf8(value).map_err(|_| bad())?);
        } else if key.eq_ignore_ascii_case(b"filename") {
            filename = Some(std::str::from_utf8(value).map_err(|_| bad())?);
        } else if key.eq_ignore_ascii_case(b"filename*") {
            // RFC 7578 §4.2: not to be used; backends differ on decoding it.
            return Err(bad());
        }
    }
    let name = name.filter(|n| !n.is_empty()).ok_or_else(bad)?;
    if let Some(f) = filename
        && !is_safe_filename(f)
    {
        return Err(ParseError::ambiguous("multipart-bad-filename", at));
    }
    Ok(PartHeaders {
        name,
        filename,
        content_type: None,
    })
}

/// No path separators, no `..`, no NUL or other control characters. Empty is allowed:
/// browsers send it for an empty file input.
fn is_safe_filename(f: &str) -> bool {
    !f.contains("..") && !f.chars().any(|c| matches!(c, '/' | '\\') || c.is_control())
}
