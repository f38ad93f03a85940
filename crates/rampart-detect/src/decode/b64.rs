//! Base64 (standard and URL-safe), only where a value plausibly is base64 text.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);

/// Shortest value worth decoding (4 decoded bytes: `; id`); shorter tokens are
/// identifiers far more often than payloads.
const MIN_LEN: usize = 6;
/// Below this many decoded bytes every character must be printable ASCII: short random
/// tokens decode to noise that a 95% threshold would let through.
const SHORT_DECODED: usize = 12;

/// Decodes `input` if the whole (trimmed) value is base64 that decodes to mostly printable
/// UTF-8 text. Plain words and hex ids are skipped: they would decode to noise.
pub(crate) fn decode(input: &str) -> Option<String> {
    decode_with(input, false)
}

/// [`decode`], also reading spaces as `+`: form and query decoding turn the `+` of a raw
/// base64 value into spaces before the value reaches us.
pub(crate) fn decode_plus_as_space(input: &str) -> Option<String> {
    // Trimming and `+` for space keep or shorten the value: too short stays too short.
    if input.len() < MIN_LEN {
        return None;
    }
    let t = trim(input);
    // Cheap checks first: this runs on every spaced value of a form or query.
    // Prose fails the alphabet test at its first comma or dot: run it before the
    // two-space search.
    if memchr::memchr(b' ', t.as_bytes()).is_none()
        || !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b' '))
        || t.as_bytes().windows(2).any(|w| w == b"  ")
        || !t.bytes().any(|b| b.is_ascii_digit() || b == b'/')
    {
        return None;
    }
    decode_with(&t.replace(' ', "+"), true)
}

fn decode_with(input: &str, spaced: bool) -> Option<String> {
    // Most values reach here on the fast path; trimming only shortens them.
    if input.len() < MIN_LEN {
        return None;
    }
    let s = trim(input);
    let body = s.trim_end_matches('=');
    if body.len() < MIN_LEN || s.len() - body.len() > 2 {
        return None;
    }
    // A sentence read as base64 (`a+b+c`) is long runs of letters between `+`: real
    // base64 of text has its `+` far apart and mixed with digits or `/`.
    if spaced && !body.bytes().any(|b| b.is_ascii_digit() || b == b'/') {
        return None;
    }
    let (mut std_only, mut url_only) = (false, false);
    let (mut lower, mut upper, mut digit) = (false, false, false);
    for b in body.bytes() {
        match b {
            b'a'..=b'z' => lower = true,
            b'A'..=b'Z' => upper = true,
            b'0'..=b'9' => digit = true,
            b'+' | b'/' => std_only = true,
            b'-' | b'_' => url_only = true,
            _ => return None,
        }
    }
    // Real base64 of text mixes cases; a single-case run is a word or a hex/decimal id.
    if std_only && url_only || !(lower && upper) && !(digit && (lower || upper)) {
        return None;
    }
    let engine = if url_only { &URL_SAFE } else { &STANDARD };
    // Ids, keys and binary blobs are rarely UTF-8 for long: whole quads before the last
    // decode to the same bytes the full decode starts with, so a prefix that is not UTF-8
    // settles it without decoding (and allocating) the rest.
    let quads = (body.len() / 4).saturating_sub(1).min(8);
    let mut head = [0u8; 24];
    if let Ok(n) = engine.decode_slice(&body.as_bytes()[..quads * 4], &mut head)
        && let Err(e) = std::str::from_utf8(&head[..n])
        && e.error_len().is_some()
    {
        return None;
    }
    let decoded = engine.decode(body).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    if text.len() < SHORT_DECODED {
        let printable = |c: char| c.is_ascii_graphic() || matches!(c, ' ' | '\n' | '\r' | '\t');
        return text.chars().all(printable).then_some(text);
    }
    let total = text.chars().count();
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    (total > 0 && printable * 100 >= total * 95).then_some(text)
}

/// `str::trim`, without its per-character walk when both ends are visible ASCII (values
/// on the fast path mostly are).
fn trim(s: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
    if visible(s.as_bytes().first()) && visible(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}
