//! What the antivirus engines scan: each uploaded file on its own (multipart), else the
//! decoded body, plus every value that decodes as base64 (clamd does not decode base64
//! itself, so a file wrapped in a JSON string would pass unseen). Text files such as
//! EICAR are ASCII, so decoded values are scanned whether they look binary or not.

use bytes::Bytes;
use rampart_parse::{BodyKind, LeafKind, Parsed};

/// At most this many base64-decoded values are scanned per request.
const MAX_EMBEDDED: usize = 16;
/// Shorter base64 values are tokens or ids, not files.
const MIN_EMBEDDED_CHARS: usize = 32;

/// The byte strings to scan, in document order.
pub(super) fn collect(parsed: &Parsed<'_>, decoded: &Bytes) -> Vec<Bytes> {
    let mut targets = Vec::new();
    match parsed.kind {
        BodyKind::Empty => {}
        BodyKind::Multipart => {
            targets.extend(parsed.files.iter().map(|f| f.bytes.clone()));
        }
        _ => targets.push(decoded.clone()),
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
