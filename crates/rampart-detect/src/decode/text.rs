//! Single-layer text decoders: percent-encoding, HTML character references, JS escapes,
//! the compatibility forms Unicode normalisation folds to ASCII, and the view a
//! tag-stripping sanitizer leaves.
//! Each returns `None` when it changes nothing, so callers can stop at a fixpoint. None of
//! them produces more bytes than it consumes (decoded output is never longer than input).

/// Decodes `%XX`, `%uXXXX` and (when `plus`) `+` as space. Overlong UTF-8 forms of ASCII
/// (`%c0%ae` for `.`) decode to the ASCII character, as some servers do; other invalid
/// UTF-8 becomes U+FFFD. A `%` that starts no escape stays, unless the value holds
/// [`ASP_STRAYS`] of them before letters: ASP drops those (`%S%E%L%E%C%T`, sqlmap's
/// `percentage` tamper).
pub(crate) fn percent(input: &str, plus: bool) -> Option<String> {
    let bytes = input.as_bytes();
    if memchr::memchr(b'%', bytes).is_none() && !(plus && memchr::memchr(b'+', bytes).is_some()) {
        return None;
    }
    // Nothing is copied until something decodes: most values with a `%` or `+` are
    // prose or already plain and come back as `None`.
    let mut out = Vec::new();
    let mut copied = 0;
    let mut i = 0;
    let mut buf = [0u8; 4];
    let mut drop_strays = None;
    loop {
        let next = if plus {
            memchr::memchr2(b'%', b'+', &bytes[i..])
        } else {
            memchr::memchr(b'%', &bytes[i..])
        };
        let Some(off) = next else { break };
        let at = i + off;
        let decoded: Option<(&[u8], usize)> = if bytes[at] == b'+' {
            Some((b" ", 1))
        } else if let (Some(h), Some(l)) = (hex(bytes.get(at + 1)), hex(bytes.get(at + 2))) {
            buf[0] = h << 4 | l;
            Some((&buf[..1], 3))
        } else if matches!(bytes.get(at + 1), Some(b'u' | b'U'))
            && let Some(c) = hex_char(bytes.get(at + 2..at + 6))
        {
            Some((c.encode_utf8(&mut buf).as_bytes(), 6))
        } else if *drop_strays.get_or_insert_with(|| asp_strays(bytes))
            && bytes.get(at + 1).is_some_and(u8::is_ascii_alphabetic)
        {
            Some((&b""[..], 1))
        } else {
            None
        };
        match decoded {
            Some((piece, used)) => {
                if copied == 0 {
                    out.reserve(bytes.len());
                }
                out.extend_from_slice(&bytes[copied..at]);
                out.extend_from_slice(piece);
                i = at + used;
                copied = i;
            }
            None => i = at + 1,
        }
    }
    if copied == 0 {
        return None;
    }
    out.extend_from_slice(&bytes[copied..]);
    Some(utf8_with_overlong(out))
}

/// How many `%` before a letter that start no escape make a value ASP-percent-encoded.
const ASP_STRAYS: usize = 3;

/// Whether `bytes` holds [`ASP_STRAYS`] `%` before letters that start no escape.
fn asp_strays(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'%', bytes)
        .filter(|&at| {
            bytes.get(at + 1).is_some_and(u8::is_ascii_alphabetic)
                && (hex(bytes.get(at + 1)).is_none() || hex(bytes.get(at + 2)).is_none())
                && !(matches!(bytes.get(at + 1), Some(b'u' | b'U'))
                    && hex_char(bytes.get(at + 2..at + 6)).is_some())
        })
        .nth(ASP_STRAYS - 1)
        .is_some()
}

/// UTF-8 decoding that maps overlong encodings to the character they spell and anything
/// else invalid to U+FFFD.
pub(crate) fn utf8_with_overlong(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let bytes = e.into_bytes();
            let mut out = String::with_capacity(bytes.len());
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.push_str(s);
                        break;
                    }
                    Err(e) => {
                        let (good, bad) = rest.split_at(e.valid_up_to());
                        out.push_str(std::str::from_utf8(good).unwrap_or_default());
                        let (c, used) = overlong(bad);
                        out.push(c);
                        rest = &bad[used..];
                    }
                }
            }
            out
        }
    }
}

/// Decodes an overlong 2- or 3-byte sequence at the start of `bad`.
fn overlong(bad: &[u8]) -> (char, usize) {
    let cont = |i: usize| {
        bad.get(i)
            .filter(|&&b| b & 0xC0 == 0x80)
            .map(|&b| u32::from(b & 0x3F))
    };
    match bad.first() {
        Some(&b @ (0xC0 | 0xC1)) => {
            if let Some(c1) = cont(1) {
                let v = (u32::from(b & 0x1F) << 6) | c1;
                return (char::from_u32(v).unwrap_or('\u{FFFD}'), 2);
            }
        }
        Some(0xE0) => {
            if let (Some(c1), Some(c2)) = (cont(1), cont(2))
                && c1 < 0x20
            {
                let v = (c1 << 6) | c2;
                return (char::from_u32(v).unwrap_or('\u{FFFD}'), 3);
            }
        }
        _ => {}
    }
    ('\u{FFFD}', 1)
}

/// The value of a hex digit.
pub(crate) fn hex(b: Option<&u8>) -> Option<u8> {
    match *b? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn hex_char(digits: Option<&[u8]>) -> Option<char> {
    let digits = digits?;
    let mut v = 0u32;
    for d in digits {
        v = v << 4 | u32::from(hex(Some(d))?);
    }
    char::from_u32(v)
}

/// Named references browsers resolve; the first four also without a semicolon.
const NAMED: &[(&str, char)] = &[
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("tab", '\t'),
    ("newline", '\n'),
    ("colon", ':'),
    ("semi", ';'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("lpar", '('),
    ("rpar", ')'),
    ("lsqb", '['),
    ("rsqb", ']'),
    ("lcub", '{'),
    ("rcub", '}'),
    ("lbrace", '{'),
    ("rbrace", '}'),
    ("comma", ','),
    ("period", '.'),
    ("excl", '!'),
    ("quest", '?'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("equals", '='),
    ("plus", '+'),
    ("ast", '*'),
    ("commat", '@'),
    ("verbar", '|'),
    ("grave", '`'),
    ("hat", '^'),
    ("lowbar", '_'),
];

/// Decodes HTML character references: named (common ones), decimal and hex, with or
/// without the final semicolon.
pub(crate) fn html_entities(input: &str) -> Option<String> {
    splice(input, b'&', reference)
}

/// Replaces each `marker` whose following bytes `decode` reads as a character (returning
/// it and how many bytes after the marker it used); `None` when nothing decoded, so a
/// value without escapes is never copied.
fn splice(
    input: &str,
    marker: u8,
    decode: impl Fn(&[u8]) -> Option<(char, usize)>,
) -> Option<String> {
    let bytes = input.as_bytes();
    memchr::memchr(marker, bytes)?;
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr(marker, &bytes[i..]) {
        let at = i + off;
        i = at + 1;
        if let Some((c, used)) = decode(&bytes[at + 1..]) {
            if copied == 0 {
                out.reserve(input.len());
            }
            out.push_str(&input[copied..at]);
            out.push(c);
            i = at + 1 + used;
            copied = i;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&input[copied..]);
    Some(out)
}

/// Parses the reference after `&`; returns the character and the bytes consumed.
fn reference(rest: &[u8]) -> Option<(char, usize)> {
    if let Some(num) = rest.strip_prefix(b"#") {
        let (radix, digits_at) = match num.first() {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let digits = rest[digits_at..]
            .iter()
            .take_while(|b| char::from(**b).is_digit(radix))
            .count();
        if digits == 0 {
            return None;
        }
        let text = std::str::from_utf8(&rest[digits_at..digits_at + digits]).ok()?;
        // Leading zeros are legal and used for evasion: strip them before the range check.
        let trimmed = text.trim_start_matches('0');
        let value = if trimmed.is_empty() {
            0
        } else if trimmed.len() > 8 {
            0xFFFD
        } else {
            u32::from_str_radix(trimmed, radix).ok()?
        };
        let c = char::from_u32(value).unwrap_or('\u{FFFD}');
        let mut used = digits_at + digits;
        if rest.get(used) == Some(&b';') {
            used += 1;
        }
        return Some((c, used));
    }
    let name_len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if name_len == 0 {
        return None;
    }
    let name = &rest[..name_len];
    let semi = rest.get(name_len) == Some(&b';');
    for (i, (n, c)) in NAMED.iter().enumerate() {
        if name.eq_ignore_ascii_case(n.as_bytes()) {
            if semi {
                return Some((*c, name_len + 1));
            }
            return (i < 4).then_some((*c, name_len));
        }
    }
    // `&ltscript`: browsers resolve the legacy names as a prefix too.
    for (n, c) in &NAMED[..4] {
        if name.len() > n.len() && name[..n.len()].eq_ignore_ascii_case(n.as_bytes()) {
            return Some((*c, n.len()));
        }
    }
    None
}

/// Decodes JavaScript/JSON escapes: `\uXXXX`, `\u{X...}`, `\xXX`, and the single-character
/// escapes (`\n`, `\'`, `\\`...).
pub(crate) fn js_escapes(input: &str) -> Option<String> {
    splice(input, b'\\', js_escape)
}

/// One escape after its backslash: the character and the bytes it used.
fn js_escape(rest: &[u8]) -> Option<(char, usize)> {
    match rest.first() {
        Some(b'u') if rest.get(1) == Some(&b'{') => {
            let n = rest[2..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if (1..=6).contains(&n) && rest.get(2 + n) == Some(&b'}') {
                hex_char(rest.get(2..2 + n)).map(|c| (c, 3 + n))
            } else {
                None
            }
        }
        Some(b'u') => hex_char(rest.get(1..5)).map(|c| (c, 5)),
        Some(b'x') => hex_char(rest.get(1..3)).map(|c| (c, 3)),
        Some(b'n') => Some(('\n', 1)),
        Some(b'r') => Some(('\r', 1)),
        Some(b't') => Some(('\t', 1)),
        Some(&c @ (b'\'' | b'"' | b'\\' | b'/' | b'`')) => Some((char::from(c), 1)),
        _ => None,
    }
}

/// Removes empty or short tags glued inside a word (`o<x>nfocus`, `sel<>ect`, `alert</b>(1)`):
/// what an application that strips tags before output leaves of a payload split by them.
/// Only tags without attributes, right after a letter or digit and before a non-space.
/// A run of glued tags (`rates</th></tr><tr><td>Domestic`) goes in one pass: tag by tag
/// it took a decoding layer each, and a table cell ran out of layers.
pub(crate) fn glued_tags_removed(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    memchr::memchr(b'<', bytes)?;
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &bytes[i..]) {
        let at = i + off;
        i = at + 1;
        // Right after a removed tag, what precedes is what was kept before it.
        let before = if at == copied && copied > 0 {
            out.as_bytes().last()
        } else {
            at.checked_sub(1).map(|p| &bytes[p])
        };
        let glued_after = before.is_some_and(u8::is_ascii_alphanumeric);
        let Some(len) = short_tag_len(&bytes[at..]).filter(|_| glued_after) else {
            continue;
        };
        let next = bytes.get(at + len);
        if next.is_none_or(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if copied == 0 {
            out.reserve(input.len());
        }
        out.push_str(&input[copied..at]);
        i = at + len;
        copied = i;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&input[copied..]);
    Some(out)
}

/// Length of `<>`, `</>`, `<x>`, `</abc>` (at most 3 letters or digits) at the start.
fn short_tag_len(rest: &[u8]) -> Option<usize> {
    let mut n = 1;
    if rest.get(n) == Some(&b'/') {
        n += 1;
    }
    let name = rest[n..]
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    (name <= 3 && rest.get(n + name) == Some(&b'>')).then_some(n + name + 1)
}

/// Folds fullwidth ASCII (`＇ｏｒ１＝１`, U+FF01..U+FF5E), the small form variants
/// (`﹤script﹥`, U+FE50..U+FE6B), the ideographic space, circled and mathematical
/// letters and digits (`ⓐⓣⓣⓐⓒⓚ`, `𝐔𝐍𝐈𝐎𝐍`), the long s (`ſcript`) and the Kelvin sign to
/// the ASCII they stand for, as NFKC normalisation in a backend (or a best-fit code page,
/// or a hostname's IDNA mapping) does. `None` when the text holds none of them.
pub(crate) fn compat_folded(input: &str) -> Option<String> {
    let b = input.as_bytes();
    memchr::memchr3(0xEF, 0xE3, 0xE2, b).or_else(|| memchr::memchr2(0xC5, 0xF0, b))?;
    let mut changed = false;
    let out: String = input
        .chars()
        .map(|c| {
            let folded = compat_ascii(c);
            changed |= folded.is_some();
            folded.unwrap_or(c)
        })
        .collect();
    changed.then_some(out)
}

fn compat_ascii(c: char) -> Option<char> {
    let u = u32::from(c);
    // Mathematical alphanumerics: 13 alphabets of A-Z then a-z, then 5 sets of digits.
    let letter = |i: u32| char::from_u32(if i < 26 { 0x41 + i } else { 0x61 + i - 26 });
    match u {
        0xFF01..=0xFF5E => char::from_u32(u - 0xFF01 + 0x21),
        0x3000 => Some(' '),
        0x017F => Some('s'),
        0x212A => Some('k'),
        0x24B6..=0x24CF => char::from_u32(u - 0x24B6 + 0x41),
        0x24D0..=0x24E9 => char::from_u32(u - 0x24D0 + 0x61),
        0x2460..=0x2468 => char::from_u32(u - 0x2460 + 0x31),
        0x24EA => Some('0'),
        0x1D400..=0x1D6A3 => letter((u - 0x1D400) % 52),
        0x1D7CE..=0x1D7FF => char::from_u32((u - 0x1D7CE) % 10 + 0x30),
        0xFE50..=0xFE6B => match u - 0xFE50 {
            0 => Some(','),
            2 => Some('.'),
            4 => Some(';'),
            5 => Some(':'),
            6 => Some('?'),
            7 => Some('!'),
            9 => Some('('),
            10 => Some(')'),
            11 => Some('{'),
            12 => Some('}'),
            15 => Some('#'),
            16 => Some('&'),
            17 => Some('*'),
            18 => Some('+'),
            19 => Some('-'),
            20 => Some('<'),
            21 => Some('>'),
            22 => Some('='),
            24 => Some('\\'),
            25 => Some('$'),
            26 => Some('%'),
            27 => Some('@'),
            _ => None,
        },
        _ => None,
    }
}
