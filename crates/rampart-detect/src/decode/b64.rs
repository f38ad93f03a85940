//! Base64 (standard and URL-safe), only where a value plausibly is base64 text.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);

/// Decodes `input` (standard or URL-safe alphabet, padding optional) to bytes, whatever
/// they are: for readers of binary payloads (a gzip stream), not for text views.
pub(crate) fn decode_bytes(input: &[u8]) -> Option<Vec<u8>> {
    STANDARD
        .decode(input)
        .or_else(|_| URL_SAFE.decode(input))
        .ok()
}

/// Shortest value worth decoding (4 decoded bytes: `; id`); shorter tokens are
/// identifiers far more often than payloads.
pub(super) const MIN_LEN: usize = 6;
/// Most bytes [`binary_head`] reads: the whole quads before the last, at most eight.
const HEAD_BYTES: usize = 32;
/// Below this many decoded bytes every character must be printable ASCII or whitespace
/// (vertical tab and form feed too: `1'\vOR\v1=1--`): short random tokens decode to
/// noise that a 95% threshold would let through.
const SHORT_DECODED: usize = 12;

/// [`ALPHABET`] classes; 0 is a byte of neither alphabet.
const LOWER: u8 = 1;
const UPPER: u8 = 2;
const DIGIT: u8 = 4;
const STD_ONLY: u8 = 8;
const URL_ONLY: u8 = 16;

/// Per byte, its class in the two alphabets: one lookup per byte of the alphabet pass.
static ALPHABET: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'a'..=b'z' => LOWER,
            b'A'..=b'Z' => UPPER,
            b'0'..=b'9' => DIGIT,
            b'+' | b'/' => STD_ONLY,
            b'-' | b'_' => URL_ONLY,
            _ => 0,
        };
        i += 1;
    }
    t
};

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
    // Cheap checks first: this runs on every spaced value of a form or query. Prose fails
    // the alphabet test at its first comma or dot, a search query (words and spaces) for
    // want of a digit or `/`: one pass for both.
    memchr::memchr(b' ', t.as_bytes())?;
    // The head read with `+` for space settles most values (names, street addresses):
    // `decode_with` would refuse them on the same head, and any byte the pass below
    // refuses makes the answer `None` anyway.
    let body = t.trim_end_matches('=').as_bytes();
    let mut head = [0u8; HEAD_BYTES];
    let n = head_len(body.len());
    for (h, &b) in head.iter_mut().zip(&body[..n]) {
        *h = if b == b' ' { b'+' } else { b };
    }
    if binary_quads(&head[..n]) {
        return None;
    }
    let mut numeric = false;
    for b in t.bytes() {
        match b {
            b'0'..=b'9' | b'/' => numeric = true,
            b'a'..=b'z' | b'A'..=b'Z' | b'+' | b'=' | b' ' => {}
            _ => return None,
        }
    }
    // Two spaces in a row are `++`, which base64 of non-ASCII text holds often
    // (fullwidth `＇ｏｒ` encodes as `77yHIO+9j++9ki...`): no reason to refuse them.
    if !numeric {
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
    // Settled by its head first: random ids, tokens and blobs rarely start as UTF-8, and
    // most fail in their first quad, before any pass over the whole value.
    if binary_head(body.as_bytes()) {
        return None;
    }
    let mut seen = 0;
    for b in body.bytes() {
        let class = ALPHABET[usize::from(b)];
        if class == 0 {
            return None;
        }
        seen |= class;
    }
    let has = |bit: u8| seen & bit != 0;
    let (std_only, url_only) = (has(STD_ONLY), has(URL_ONLY));
    let (lower, upper, digit) = (has(LOWER), has(UPPER), has(DIGIT));
    // Real base64 of text mixes cases; a single-case run is a word or a hex/decimal id.
    if std_only && url_only || !(lower && upper) && !(digit && (lower || upper)) {
        return None;
    }
    let engine = if url_only { &URL_SAFE } else { &STANDARD };
    let decoded = engine.decode(body).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    if text.len() < SHORT_DECODED {
        let printable = |c: char| {
            c.is_ascii_graphic() || matches!(c, ' ' | '\n' | '\r' | '\t' | '\x0b' | '\x0c')
        };
        return text.chars().all(printable).then_some(text);
    }
    let total = text.chars().count();
    let printable = text
        .chars()
        // Vertical tab and form feed separate SQL and shell words as a space does
        // (`1'\vUNION\fSELECT`).
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0b' | '\x0c'))
        .count();
    (total > 0 && printable * 100 >= total * 95).then_some(text)
}

/// Whether the whole quads before the last (at most 8) decode to bytes that are not
/// UTF-8: they are what the full decode starts with, so the value is binary and the rest
/// need not be read. Both alphabets decode a quad without `+/-_` alike; a head holding
/// both kinds, or a byte of neither, is refused by the alphabet check of [`decode_with`]
/// anyway.
fn binary_head(body: &[u8]) -> bool {
    binary_quads(&body[..head_len(body.len())])
}

/// The bytes of a body of `len` bytes that [`binary_head`] reads.
fn head_len(len: usize) -> usize {
    (len / 4).saturating_sub(1).min(HEAD_BYTES / 4) * 4
}

/// [`binary_head`] of a head already cut to whole quads.
fn binary_quads(head: &[u8]) -> bool {
    // A first quad without `+/-_` decodes alike in both alphabets: most values are
    // settled there, before the alphabet of the whole head is looked for.
    if let Some(first) = head.first_chunk::<4>()
        && !first.iter().any(|b| matches!(b, b'+' | b'/' | b'-' | b'_'))
        && quad(first, false).is_some_and(head_not_utf8)
    {
        return true;
    }
    let url = head.iter().any(|b| matches!(b, b'-' | b'_'));
    // Quads decoded by hand, as the crate decodes them, without its per-call setup.
    let mut decoded = [0u8; 24];
    let mut n = 0;
    for q in head.chunks_exact(4) {
        let Some(bytes) = quad(q, url) else {
            // A byte of neither alphabet fails the crate's decode too; padding is left to it.
            if !q.contains(&b'=') {
                return false;
            }
            let engine = if url { &URL_SAFE } else { &STANDARD };
            return engine
                .decode_slice(head, &mut decoded)
                .is_ok_and(|len| not_utf8(&decoded[..len]));
        };
        if let Some(out) = decoded.get_mut(n..n + 3) {
            out.copy_from_slice(&bytes);
        }
        n += 3;
        // Random ids and tokens fail in their first bytes (bytes that are not UTF-8 there
        // are not UTF-8 in any longer head).
        if n == 3 && head_not_utf8([decoded[0], decoded[1], decoded[2]]) {
            return true;
        }
    }
    not_utf8(&decoded[..n.min(decoded.len())])
}

/// [`not_utf8`] of three bytes, without the call: the test most base64 attempts end on.
fn head_not_utf8(b: [u8; 3]) -> bool {
    let mut i = 0;
    while let Some(&lead) = b.get(i) {
        // The sequence length and the range of its second byte (RFC 3629 table).
        let (len, second) = match lead {
            0x00..=0x7F => {
                i += 1;
                continue;
            }
            0xC2..=0xDF => (2, 0x80..=0xBF),
            0xE0 => (3, 0xA0..=0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
            0xED => (3, 0x80..=0x9F),
            0xF0 => (4, 0x90..=0xBF),
            0xF1..=0xF3 => (4, 0x80..=0xBF),
            0xF4 => (4, 0x80..=0x8F),
            _ => return true,
        };
        for k in 1..len {
            // Cut short at the end is not invalid: more bytes may complete it.
            let Some(&next) = b.get(i + k) else {
                return false;
            };
            let fits = if k == 1 {
                second.contains(&next)
            } else {
                (0x80..=0xBF).contains(&next)
            };
            if !fits {
                return true;
            }
        }
        i += len;
    }
    false
}

/// Whether `bytes` hold an invalid UTF-8 sequence (not merely one cut short at the end).
fn not_utf8(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_some())
}

/// Per alphabet (standard, URL-safe), each byte's sextet, or 0xFF outside the alphabet.
static SEXTETS: [[u8; 256]; 2] = {
    let mut t = [[0xFFu8; 256]; 2];
    let mut i = 0;
    while i < 26 {
        t[0][b'A' as usize + i] = i as u8;
        t[0][b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    i = 0;
    while i < 10 {
        t[0][b'0' as usize + i] = 52 + i as u8;
        i += 1;
    }
    t[1] = t[0];
    t[0][b'+' as usize] = 62;
    t[0][b'/' as usize] = 63;
    t[1][b'-' as usize] = 62;
    t[1][b'_' as usize] = 63;
    t
};

/// The three bytes of one base64 quad in the standard (or `url`-safe) alphabet.
fn quad(q: &[u8], url: bool) -> Option<[u8; 3]> {
    let t = &SEXTETS[usize::from(url)];
    let [a, b, c, d] = *q.first_chunk::<4>()?;
    let (a, b, c, d) = (
        t[usize::from(a)],
        t[usize::from(b)],
        t[usize::from(c)],
        t[usize::from(d)],
    );
    if (a | b | c | d) & 0x80 != 0 {
        return None;
    }
    let v = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
    let [_, x, y, z] = v.to_be_bytes();
    Some([x, y, z])
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

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::{
        ALPHABET, DIGIT, LOWER, MIN_LEN, SHORT_DECODED, STANDARD, STD_ONLY, UPPER, URL_ONLY,
        URL_SAFE, binary_head, decode, decode_plus_as_space, head_not_utf8, not_utf8, quad, trim,
    };

    /// The decoder before its head checks moved first: every check in its order, the
    /// head last for short values.
    fn reference(input: &str, spaced: bool) -> Option<String> {
        let s = input.trim();
        let body = s.trim_end_matches('=');
        if input.len() < MIN_LEN || body.len() < MIN_LEN || s.len() - body.len() > 2 {
            return None;
        }
        if spaced && !body.bytes().any(|b| b.is_ascii_digit() || b == b'/') {
            return None;
        }
        let mut seen = 0;
        for b in body.bytes() {
            let class = ALPHABET[usize::from(b)];
            if class == 0 {
                return None;
            }
            seen |= class;
        }
        let has = |bit: u8| seen & bit != 0;
        let url_only = has(URL_ONLY);
        if has(STD_ONLY) && url_only
            || !(has(LOWER) && has(UPPER)) && !(has(DIGIT) && (has(LOWER) || has(UPPER)))
        {
            return None;
        }
        let engine = if url_only { &URL_SAFE } else { &STANDARD };
        let text = String::from_utf8(engine.decode(body).ok()?).ok()?;
        if text.len() < SHORT_DECODED {
            let printable = |c: char| {
                c.is_ascii_graphic() || matches!(c, ' ' | '\n' | '\r' | '\t' | '\x0b' | '\x0c')
            };
            return text.chars().all(printable).then_some(text);
        }
        let total = text.chars().count();
        let printable = text
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0b' | '\x0c'))
            .count();
        (total > 0 && printable * 100 >= total * 95).then_some(text)
    }

    fn reference_spaced(input: &str) -> Option<String> {
        let t = trim(input);
        let allowed = t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'=' | b' '));
        let numeric = t.bytes().any(|b| b.is_ascii_digit() || b == b'/');
        if input.len() < MIN_LEN || !t.contains(' ') || !allowed || !numeric {
            return None;
        }
        reference(&t.replace(' ', "+"), true)
    }

    /// The early head checks refuse only what the full decode refuses: random values
    /// built from base64 of text (cut, spaced, padded, mixed with noise) decode alike.
    #[test]
    fn head_checks_first_change_no_outcome() {
        let texts = [
            "; cat /etc/passwd",
            "<script>alert(1)</script>",
            "' or 1=1 --",
            "héllo wörld",
        ];
        let noise = b"Aa0+/-_= .Zz9\xc3";
        let mut seed = 0x5eed_cafe_u64;
        let mut decoded = 0;
        for round in 0..60_000 {
            seed = crate::testing::xorshift(seed);
            let mut value = if round % 2 == 0 {
                let text = texts[(seed % 4) as usize];
                let engine = if seed & 16 == 0 { &STANDARD } else { &URL_SAFE };
                engine.encode(text)
            } else {
                String::new()
            };
            // Mutate: cut, add noise bytes, swap `+` for space.
            let cut = (seed >> 8) as usize % (value.len() + 1);
            if seed & 32 != 0 {
                value.truncate(cut.max(value.len() / 2));
            }
            for k in 0..((seed >> 16) % 12) {
                let b = noise[((seed >> (20 + k)) as usize + k as usize) % noise.len()];
                let at = ((seed >> 40) as usize + k as usize * 7) % (value.len() + 1);
                if value.is_char_boundary(at) {
                    value.insert(at, char::from(b));
                }
            }
            if seed & 64 != 0 {
                value = value.replace('+', " ");
            }
            let ours = (decode(&value), decode_plus_as_space(&value));
            let want = (reference(&value, false), reference_spaced(&value));
            decoded += usize::from(want.0.is_some() || want.1.is_some());
            assert_eq!(ours, want, "{value:?}");
        }
        assert!(decoded > 1_000, "too few decodable cases: {decoded}");
    }

    /// The hand decoder of one quad agrees with the crate, and a quad that is not UTF-8
    /// keeps any longer head from being UTF-8 (what lets `binary_head` stop early).
    #[test]
    fn one_quad_by_hand_matches_the_crate() {
        let alphabet = b"ABCXYZabcxyz0189+/-_.";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..50_000 {
            seed = crate::testing::xorshift(seed);
            let text: Vec<u8> = (0..8)
                .map(|k| alphabet[((seed >> (k * 6)) % alphabet.len() as u64) as usize])
                .collect();
            for (url, engine) in [(false, &STANDARD), (true, &URL_SAFE)] {
                let mut out = [0u8; 6];
                let ours = quad(&text[..4], url);
                let crate_quad = engine.decode_slice(&text[..4], &mut out).ok().map(|n| {
                    assert_eq!(n, 3);
                    [out[0], out[1], out[2]]
                });
                assert_eq!(ours, crate_quad, "{:?}", String::from_utf8_lossy(&text));
                if let (Some(first), Ok(n)) = (ours, engine.decode_slice(&text, &mut out))
                    && not_utf8(&first)
                {
                    assert!(not_utf8(&out[..n]), "{:?}", String::from_utf8_lossy(&text));
                }
            }
        }
    }

    /// The three-byte check answers as the standard library's UTF-8 validation.
    #[test]
    fn head_check_is_std_validation() {
        let thirds = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF,
        ];
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for &c in &thirds {
                    let want = not_utf8(&[a, b, c]);
                    assert_eq!(head_not_utf8([a, b, c]), want, "{a:02x} {b:02x} {c:02x}");
                    let want = not_utf8(&[c, a, b]);
                    assert_eq!(head_not_utf8([c, a, b]), want, "{c:02x} {a:02x} {b:02x}");
                }
            }
        }
    }

    /// The head decoded quad by quad answers as the crate's decode of the whole head.
    #[test]
    fn binary_head_matches_the_crate() {
        let alphabet = b"AQgwz09+/-_=.";
        let mut seed = 0x0dd_ba11_u64;
        let mut outcomes = [0u32; 2];
        for _ in 0..100_000 {
            seed = crate::testing::xorshift(seed);
            let len = 4 + (seed % 40) as usize;
            let body: String = (0..len)
                .map(|k| {
                    let pick = (seed >> (k % 10 * 6)) as usize + k;
                    char::from(alphabet[pick % alphabet.len()])
                })
                .collect();
            let quads = (body.len() / 4).saturating_sub(1).min(8);
            let head = &body.as_bytes()[..quads * 4];
            let url = head.iter().any(|b| matches!(b, b'-' | b'_'));
            let engine = if url { &URL_SAFE } else { &STANDARD };
            let mut out = [0u8; 24];
            let first = head.get(..4).and_then(|q| quad(q, url));
            let want = first.is_some_and(|f| not_utf8(&f))
                || engine
                    .decode_slice(head, &mut out)
                    .is_ok_and(|n| not_utf8(&out[..n]));
            assert_eq!(binary_head(body.as_bytes()), want, "{body:?}");
            outcomes[usize::from(want)] += 1;
        }
        assert!(outcomes.iter().all(|n| *n > 10_000), "{outcomes:?}");
    }
}
