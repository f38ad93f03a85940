//! What the antivirus engines scan: the body the backend will receive (or each uploaded
//! file on its own, for multipart), the parsed text values joined unescaped (a JSON
//! `\u0061`, a form `%61` or an XML `&#97;` is what the backend reads as `a`, and
//! multipart text fields are not files), plus every value that decodes as base64 (clamd
//! does not decode base64 itself). Text files such as EICAR are ASCII, so decoded values
//! are scanned whether they look binary or not.

use bytes::Bytes;
use rampart_parse::{BodyKind, LeafKind, Parsed};

/// At most this many base64-decoded values are scanned per request.
const MAX_EMBEDDED: usize = 16;
/// Shorter base64 values are tokens or ids, not files.
const MIN_EMBEDDED_CHARS: usize = 32;

/// The byte strings to scan, in document order.
/// `scans` says whether content of a declared media type is scanned on the route.
pub(super) fn collect(
    parsed: &Parsed<'_>,
    forwarded: &Bytes,
    content_type: Option<&str>,
    scans: &dyn Fn(Option<&str>) -> bool,
) -> Vec<Bytes> {
    let mut targets = Vec::new();
    match parsed.kind {
        BodyKind::Empty => {}
        BodyKind::Multipart => {
            let files = parsed.files.iter();
            let wanted = files.filter(|f| scans(f.content_type.as_deref()));
            targets.extend(wanted.map(|f| f.bytes.clone()));
        }
        _ if scans(content_type) => targets.push(forwarded.clone()),
        _ => {}
    }
    if parsed.kind != BodyKind::Multipart && !scans(content_type) {
        return targets;
    }
    let mut text = Vec::new();
    for leaf in &parsed.leaves {
        if matches!(
            leaf.kind,
            LeafKind::Key | LeafKind::String | LeafKind::Text | LeafKind::Attribute
        ) {
            text.extend_from_slice(leaf.value.as_bytes());
            text.push(b'\n');
        }
    }
    // Skip it when it is the forwarded body itself (a text/plain body).
    if !text.is_empty() && text[..text.len() - 1] != forwarded[..] {
        targets.push(Bytes::from(text));
    }
    let embedded = parsed
        .leaves
        .iter()
        .filter(|l| {
            matches!(
                l.kind,
                LeafKind::String | LeafKind::Text | LeafKind::Attribute
            )
        })
        .filter(|l| l.value.len() >= MIN_EMBEDDED_CHARS && looks_like_base64(&l.value))
        .filter_map(|l| super::decode_base64(l.value.trim()))
        .take(MAX_EMBEDDED)
        .map(Bytes::from);
    targets.extend(embedded);
    targets
}

fn looks_like_base64(value: &str) -> bool {
    let value = value.trim();
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='))
}
