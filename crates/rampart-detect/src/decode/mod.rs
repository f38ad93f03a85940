//! Decoding a field into the variants a browser or a server could see, under a budget.
//!
//! From the raw value, each layer applies percent-decoding (with `+` as space for query
//! kinds), HTML character references and JS escapes, until nothing changes or the layer
//! limit is reached. Whole-value base64 opens a branch of its own, as do the text left
//! after removing short tags glued inside words (`o<x>nfocus`) and the text with fullwidth
//! forms folded to ASCII (`＜ｓｃｒｉｐｔ＞`) and the decoded header of a JWT, and JSON or form data
//! found inside a string is parsed and its leaves become variants too (keys as
//! [`FieldKind::BodyKey`]). Every decoder shrinks or keeps the size of its input, the
//! number of variants per field is capped, and all decoded bytes are charged to a
//! per-request [`Budget`]: a request cannot make the engine hold more than its limits.

mod b64;
pub(crate) use b64::decode_bytes as base64_bytes;
mod nested;
#[cfg(test)]
mod tests;
mod text;

pub(crate) use text::hex;

use std::borrow::Cow;
use std::fmt;

use crate::field::FieldKind;

/// Limits for one request's decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    /// Total bytes of decoded variants over the whole request (raw values are free).
    pub max_decoded_bytes: usize,
    /// Decoding layers per branch (URL-in-URL-in-entity counts 3).
    pub max_layers: u8,
    /// Decoded variants of one value, the value itself included: of the field, and
    /// separately of each leaf of a document nested in it (bounded by
    /// [`MAX_NESTED_LEAVES`]).
    pub max_variants: usize,
    /// Depth of JSON/form found inside strings.
    pub max_nesting: u8,
}

impl Default for BudgetLimits {
    fn default() -> Self {
        BudgetLimits {
            max_decoded_bytes: 1 << 20,
            max_layers: 4,
            max_variants: 24,
            max_nesting: 2,
        }
    }
}

/// Which limit a request ran into; the caller may treat it as "could not decide".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Exhaustion {
    /// More decoded bytes than `max_decoded_bytes`.
    DecodedBytes,
    /// Still encoded after `max_layers` layers.
    Layers,
    /// More decoded variants of one value than `max_variants`.
    Variants,
    /// Structured data nested deeper than `max_nesting`.
    Nesting,
}

impl fmt::Display for Exhaustion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exhaustion::DecodedBytes => "decoded bytes limit reached",
            Exhaustion::Layers => "still encoded after the layer limit",
            Exhaustion::Variants => "too many decoded variants for one field",
            Exhaustion::Nesting => "structured data nested too deep inside a value",
        })
    }
}

/// The per-request decoding budget. Create one per request and pass it to every scan of
/// that request.
#[derive(Debug, Clone)]
pub struct Budget {
    limits: BudgetLimits,
    decoded_bytes: usize,
    exhausted: Option<Exhaustion>,
}

impl Budget {
    /// A fresh budget.
    pub fn new(limits: BudgetLimits) -> Self {
        Budget {
            limits,
            decoded_bytes: 0,
            exhausted: None,
        }
    }

    /// The first limit reached, if any.
    pub fn exhausted(&self) -> Option<Exhaustion> {
        self.exhausted
    }

    /// Decoded bytes charged so far.
    pub fn decoded_bytes(&self) -> usize {
        self.decoded_bytes
    }

    fn exhaust(&mut self, why: Exhaustion) {
        self.exhausted.get_or_insert(why);
    }

    /// Charges `n` bytes; false (and exhausted) when that would pass the limit.
    pub(crate) fn charge(&mut self, n: usize) -> bool {
        if self.decoded_bytes.saturating_add(n) > self.limits.max_decoded_bytes {
            self.exhaust(Exhaustion::DecodedBytes);
            return false;
        }
        self.decoded_bytes += n;
        true
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(BudgetLimits::default())
    }
}

/// One decoded view of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant<'a> {
    /// The text.
    pub text: Cow<'a, str>,
    /// The kind it is inspected as (a JSON key found in a string is a body key).
    pub kind: FieldKind,
    /// Decoding layers applied (0 for the raw value and for nested leaves).
    pub layer: u8,
}

/// What the fast path already learned of a raw value, handed to [`variants_known`] so the
/// value is validated and base64-decoded once.
#[derive(Debug, Default)]
pub(crate) struct Known<'a> {
    /// The raw value, when it is valid UTF-8.
    pub(crate) text: Option<&'a str>,
    /// Its whole-value base64 view (`Some(None)`: it has none), when settled.
    pub(crate) base64: Option<Option<String>>,
}

/// Leaves of nested documents taken per field (all nesting levels together).
pub const MAX_NESTED_LEAVES: usize = 256;

/// Variants of one field in all, its nested leaves' included: each new one is compared
/// with those before it, so this bounds that work too.
const MAX_FIELD_VARIANTS: usize = 512;

/// All variants of `raw` seen as `kind`, the raw value first.
pub fn variants<'a>(raw: &'a [u8], kind: FieldKind, budget: &mut Budget) -> Vec<Variant<'a>> {
    variants_known(raw, kind, budget, Known::default())
}

/// [`variants`], reusing what `known` settled about `raw` seen as `kind`.
pub(crate) fn variants_known<'a>(
    raw: &'a [u8],
    kind: FieldKind,
    budget: &mut Budget,
    known: Known<'a>,
) -> Vec<Variant<'a>> {
    let first = Variant {
        text: known.text.map_or_else(|| lossy(raw), Cow::Borrowed),
        kind,
        layer: 0,
    };
    let mut raw_base64 = known.base64;
    // Room for the few variants most values have: one allocation instead of regrowing.
    let mut out = Vec::with_capacity(4);
    out.push(first);
    if budget.exhausted == Some(Exhaustion::DecodedBytes) {
        return out;
    }
    let mut i = 0;
    // Per variant: its nesting depth and which value it decodes (0: the field's own, n:
    // the n-th nested leaf). A JSON document in a form field (a webhook's `payload=`)
    // brings dozens of leaves, each with its own few decodings: each value has its own
    // variant budget.
    let mut nesting: Vec<(u8, u32)> = Vec::with_capacity(4);
    nesting.push((0, 0));
    let mut leaves_taken = 0u32;
    while i < out.len() {
        let (kind, layer, (depth, from)) = (out[i].kind, out[i].layer, nesting[i]);
        let mut found: Vec<(String, FieldKind, u8)> = Vec::new();
        let current: &str = &out[i].text;
        let markers = markers(current.as_bytes());
        let leaves = nested::leaves(current, kind);
        // A JSON document whose every leaf is taken: each leaf (and key) gets every
        // decoding itself, and unescaping the whole text again only glues leaves into
        // shapes none of them holds (`{"query":"query {\n  id\n}"}` unescaped has a line
        // `id`). The raw text is still inspected whole.
        let whole_json = nested::all_json_leaves(current, &leaves)
            && depth < budget.limits.max_nesting
            && leaves_taken as usize + leaves.len() <= MAX_NESTED_LEAVES;
        let (step, partial) = if whole_json {
            (None, None)
        } else {
            decode_layer(current, kind, markers)
        };
        // Base64 and the views (sanitizer-stripped tags, folded fullwidth forms, a JWT's
        // header) are not decodings, but each may uncover another layer: all count as
        // one, so nesting them cannot bypass the limit.
        let layered = [
            step,
            partial,
            // The raw value's view, when the fast path decoded it already.
            match raw_base64.take().filter(|_| i == 0) {
                Some(view) => view,
                None => base64_view(current, kind),
            },
            (markers & LT != 0)
                .then(|| text::glued_tags_removed(current))
                .flatten(),
            (markers & EF != 0)
                .then(|| text::compat_folded(current))
                .flatten(),
            jwt_header(current),
            (markers & COMMA != 0)
                .then(|| data_uri_payload(current))
                .flatten(),
        ];
        for text in layered.into_iter().flatten() {
            if layer >= budget.limits.max_layers {
                budget.exhaust(Exhaustion::Layers);
            } else {
                found.push((text, kind, layer + 1));
            }
        }
        if !leaves.is_empty() {
            if depth >= budget.limits.max_nesting {
                budget.exhaust(Exhaustion::Nesting);
            } else {
                found.extend(leaves.into_iter().map(|(t, k)| (t, k, 0)));
            }
        }
        let child_depth = depth + 1;
        for (text, kind, layer) in found {
            if out.iter().any(|v| v.text == text) {
                continue;
            }
            let o = if layer == 0 {
                // Leaves past the bound are left to the whole string's inspection, as
                // `nested::leaves` leaves those past its own.
                if leaves_taken as usize >= MAX_NESTED_LEAVES {
                    continue;
                }
                leaves_taken += 1;
                leaves_taken
            } else {
                from
            };
            let of_value = nesting.iter().filter(|(_, v)| *v == o).count();
            if of_value >= budget.limits.max_variants || out.len() >= MAX_FIELD_VARIANTS {
                budget.exhaust(Exhaustion::Variants);
                return out;
            }
            if !budget.charge(text.len()) {
                return out;
            }
            // Nested leaves are one level deeper; decoded layers stay at their depth.
            nesting.push((if layer == 0 { child_depth } else { depth }, o));
            out.push(Variant {
                text: Cow::Owned(text),
                kind,
                layer,
            });
        }
        i += 1;
    }
    out
}

/// Whether `s` still holds a percent-encoded space (`%20`, `%0a`...). Neither a database
/// nor a shell reads one as a space, and every field kind gets the percent-decoded view
/// too, which the SQL and shell detectors read instead: read raw, `test;%20might%20need`
/// would be a command glued to one long word, and no prose exception would apply.
pub(crate) fn encoded_space(s: &[u8]) -> bool {
    memchr::memchr_iter(b'%', s).any(|i| match s.get(i + 1..i + 3) {
        Some([b'2', b'0']) => true,
        Some([b'0', c]) => matches!(c.to_ascii_lowercase(), b'9' | b'a'..=b'd'),
        _ => false,
    })
}

/// `String::from_utf8_lossy`, with the common valid case checked by the faster validator.
pub(crate) fn lossy(raw: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(raw),
    }
}

/// The whole value read as base64: as is, as a URL path without its leading `/` (base64
/// holds `/`, so the value spans segments), or with spaces read as `+` where form or
/// query decoding turned them into spaces.
fn base64_view(text: &str, kind: FieldKind) -> Option<String> {
    if let Some(decoded) = b64::decode(text) {
        return Some(decoded);
    }
    if kind == FieldKind::Path {
        return text.strip_prefix('/').and_then(b64::decode);
    }
    if kind.plus_is_space() {
        return b64::decode_plus_as_space(text);
    }
    None
}

/// The JOSE header of a compact JWT (`[Bearer ]eyJ….….…`), decoded: its `kid`, `jku` and
/// `x5u` are read by the server before any signature check (`kid` into a file path or SQL
/// lookup, `jku` fetched). The claims are left alone: issuer and audience URLs name
/// internal identity providers in ordinary deployments.
pub(crate) fn jwt_header(text: &str) -> Option<String> {
    let token = jwt_token(text)?;
    let [header, claims, _] = jws_segments(token)?;
    let well_formed = header.len() >= 10
        && !claims.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !well_formed {
        return None;
    }
    b64::decode(header).filter(|h| h.trim_start().starts_with('{'))
}

/// The header, claims and signature of a compact JWS: exactly three dot-separated
/// segments (an encrypted JWE has five).
pub(crate) fn jws_segments(token: &str) -> Option<[&str; 3]> {
    let mut segments = token.split('.');
    let parts = [segments.next()?, segments.next()?, segments.next()?];
    segments.next().is_none().then_some(parts)
}

/// The decoded claims (second segment) of a JWT in `text`, when it has a JSON header.
pub(crate) fn jwt_claims(text: &str) -> Option<String> {
    jwt_header(text)?;
    let claims = jwt_token(text)?.split('.').nth(1)?;
    b64::decode(claims).filter(|c| c.trim_start().starts_with('{'))
}

/// The payload of the first base64 `data:` URI in `text` that decodes to text
/// (`<object data="data:text/html;base64,PHNjcmlwdD4…">`, PHP's `data://text/plain;base64,`):
/// browsers and include wrappers decode it, so what it carries is inspected. Found by its
/// `;base64,` marker, in any case.
pub(crate) fn data_uri_payload(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    data_uri_starts(bytes).find_map(|from| {
        let end = bytes[from..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b"+/=-_".contains(&b)))
            .map_or(bytes.len(), |n| from + n);
        b64::decode(&text[from..end])
    })
}

/// Whether [`data_uri_payload`] could find something: a `;base64,` marker.
pub(crate) fn has_data_uri_mark(text: &str) -> bool {
    data_uri_starts(text.as_bytes()).next().is_some()
}

/// Where each payload marked `;base64,` starts: just after the comma.
fn data_uri_starts(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b',', bytes)
        .filter(|&comma| {
            comma
                .checked_sub(DATA_MARK.len())
                .is_some_and(|start| bytes[start..comma].eq_ignore_ascii_case(DATA_MARK))
        })
        .map(|comma| comma + 1)
}

const DATA_MARK: &[u8] = b";base64";

/// The token of a value that may be a JWT: after an optional `Bearer ` scheme, starting
/// with `ey` (base64 of `{"` or `{ `) and holding a dot. Cheap: the fast path asks it of
/// every mixed-case value with a dot.
pub(crate) fn jwt_token(text: &str) -> Option<&str> {
    // Most values are settled by their first byte, without trimming when it is visible.
    let first = *text.as_bytes().first()?;
    if first.is_ascii_graphic() && !matches!(first, b'e' | b'b' | b'B') {
        return None;
    }
    let t = text.trim();
    if !matches!(t.as_bytes().first(), Some(b'e' | b'b' | b'B')) {
        return None;
    }
    let t = match t.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => t[7..].trim_start(),
        _ => t,
    };
    (t.starts_with("ey") && memchr::memchr(b'.', t.as_bytes()).is_some()).then_some(t)
}

/// [`markers`] bits: the byte each text decoder looks for first (`%` and `+` for percent
/// escapes, `&` for character references, `\` for JS escapes, `<` for glued tags, 0xEF
/// for fullwidth forms). A decoder finds nothing in a text without its byte.
const PERCENT: u8 = 1;
const PLUS: u8 = 2;
const AMP: u8 = 4;
const BACKSLASH: u8 = 8;
const LT: u8 = 16;
const EF: u8 = 32;
/// Every `data:` URI payload follows a comma.
const COMMA: u8 = 64;

/// Per byte, its [`markers`] bit.
static MARKERS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'%' as usize] = PERCENT;
    t[b'+' as usize] = PLUS;
    t[b'&' as usize] = AMP;
    t[b'\\' as usize] = BACKSLASH;
    t[b'<' as usize] = LT;
    // Lead bytes of what `compat_folded` maps: fullwidth and small forms (0xEF), the
    // ideographic space (0xE3), circled letters and the Kelvin sign (0xE2), the long s
    // (0xC5) and mathematical letters (0xF0).
    t[0xEF] = EF;
    t[0xE3] = EF;
    t[0xE2] = EF;
    t[0xC5] = EF;
    t[0xF0] = EF;
    t[b',' as usize] = COMMA;
    t
};

/// Which decoders' marker bytes `s` holds: one table pass instead of a search per decoder,
/// for every variant.
fn markers(s: &[u8]) -> u8 {
    s.iter().fold(0, |acc, &b| acc | MARKERS[usize::from(b)])
}

/// One decoding layer: percent, then character references, then JS escapes. When JS
/// escapes changed a text the earlier steps had already decoded, that text comes second:
/// it is what a server sees (`C:%5Cusers%5Cntuser.dat` is a path, not a line break).
/// `markers` are the [`markers`] of `input`: a step whose byte is missing is skipped
/// while the text is still `input`.
fn decode_layer(input: &str, kind: FieldKind, markers: u8) -> (Option<String>, Option<String>) {
    // A header value that carries percent escapes was URL-encoded by its sender, and a
    // server that decodes it (as ModSecurity's `urlDecodeUni` does) reads `+` as a space.
    let plus = kind.plus_is_space() || (kind == FieldKind::HeaderValue && markers & PERCENT != 0);
    let a = if markers & PERCENT != 0 || plus && markers & PLUS != 0 {
        text::percent(input, plus)
    } else {
        None
    };
    let b = match &a {
        Some(s) => text::html_entities(s),
        None if markers & AMP != 0 => text::html_entities(input),
        None => None,
    };
    let s = b.as_deref().or(a.as_deref()).unwrap_or(input);
    let js = if a.is_some() || b.is_some() || markers & BACKSLASH != 0 {
        text::js_escapes(s)
    } else {
        None
    };
    match js {
        Some(c) => (Some(c), b.or(a)),
        None => (b.or(a), None),
    }
}

/// Detection normalisation: lowercase, SQL and HTML comments removed (replaced by one
/// space), runs of whitespace collapsed to one space.
pub fn compact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    compact_into(s, &mut out);
    out
}

/// [`compact`] into a reused buffer (cleared first).
pub(crate) fn compact_into(s: &str, out: &mut String) {
    out.clear();
    let mut rest = s;
    let mut space = false;
    while let Some(c) = rest.chars().next() {
        let skip = if rest.starts_with("/*") {
            Some(rest.find("*/").map_or(rest.len(), |e| e + 2))
        } else if rest.starts_with("<!--") {
            Some(rest.find("-->").map_or(rest.len(), |e| e + 3))
        } else {
            None
        };
        if let Some(n) = skip {
            rest = &rest[n..];
            if !space {
                out.push(' ');
                space = true;
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace() || c == '\u{0b}' {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.extend(c.to_lowercase());
            space = false;
        }
    }
}

/// Bytes without one of which [`variants`] of a `kind` value is the raw value alone, base64
/// aside ([`has_base64_view`]): `%`, `&`, `\` and 0xEF start a decoding layer, `+` too where it
/// means a space, `{` and `[` a nested JSON document, `<` a lone XML element, `=` form data
/// where forms are read.
pub(crate) fn trigger_bytes(kind: FieldKind) -> Vec<u8> {
    // Lead bytes of the characters `compat_folded` maps to ASCII ([`MARKERS`]).
    let mut bytes = b"%&\\{[<\xEF\xE3\xE2\xC5\xF0".to_vec();
    if kind.plus_is_space() {
        bytes.push(b'+');
    }
    if nested::form_kind(kind) {
        bytes.push(b'=');
    }
    bytes
}

/// Whether an ASCII byte may occur in a value that has a base64 view (alphabet, padding,
/// and the whitespace that is trimmed or read as `+`).
pub(crate) fn base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=-_".contains(&b) || char::from(b).is_whitespace()
}

/// The whole-value base64 view [`variants`] finds for `text` seen as `kind`.
pub(crate) fn raw_base64_view(text: &str, kind: FieldKind) -> Option<String> {
    // Most values on the fast path are short; every view needs `MIN_LEN` bytes.
    if text.len() < b64::MIN_LEN {
        return None;
    }
    base64_view(text, kind)
}

/// Whether the whole-value base64 branch of [`variants`] decodes `text` seen as `kind`.
#[cfg(test)]
pub(crate) fn has_base64_view(text: &str, kind: FieldKind) -> bool {
    raw_base64_view(text, kind).is_some()
}
