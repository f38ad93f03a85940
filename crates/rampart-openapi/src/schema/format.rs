//! `format` checks. Unknown formats are annotations and pass, as JSON Schema says.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The formats this validator asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    DateTime,
    Date,
    Time,
    Email,
    Uuid,
    Ipv4,
    Ipv6,
    Uri,
    UriReference,
    Hostname,
    Byte,
    Int32,
    Int64,
}

impl Format {
    pub(crate) fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "time" => Format::Time,
            "email" => Format::Email,
            "uuid" => Format::Uuid,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "uri" => Format::Uri,
            "uri-reference" => Format::UriReference,
            "hostname" => Format::Hostname,
            "byte" => Format::Byte,
            "int32" => Format::Int32,
            "int64" => Format::Int64,
            _ => return None,
        })
    }

    /// Whether a valid value of this format cannot hold free text.
    pub(crate) fn pins(self) -> bool {
        matches!(
            self,
            Format::DateTime
                | Format::Date
                | Format::Time
                | Format::Uuid
                | Format::Ipv4
                | Format::Ipv6
                | Format::Int32
                | Format::Int64
        )
    }

    /// Checks a string. Numeric formats pass strings (they apply to numbers).
    pub(crate) fn check_str(self, s: &str) -> bool {
        match self {
            Format::DateTime => date_time(s),
            Format::Date => date(s),
            Format::Time => time(s),
            Format::Email => email(s),
            Format::Uuid => uuid(s),
            Format::Ipv4 => s.parse::<Ipv4Addr>().is_ok(),
            Format::Ipv6 => s.parse::<Ipv6Addr>().is_ok(),
            Format::Uri => uri(s, true),
            Format::UriReference => uri(s, false),
            Format::Hostname => hostname(s),
            Format::Byte => base64(s),
            Format::Int32 | Format::Int64 => true,
        }
    }

    /// Checks a number. String formats pass numbers.
    pub(crate) fn check_number(self, n: &serde_json::Number) -> bool {
        let range = match self {
            Format::Int32 => i64::from(i32::MIN) as f64..=i64::from(i32::MAX) as f64,
            Format::Int64 => i64::MIN as f64..=i64::MAX as f64,
            _ => return true,
        };
        if let Some(i) = n.as_i64() {
            return self == Format::Int64 || i32::try_from(i).is_ok();
        }
        if n.is_u64() {
            // Above i64::MAX.
            return false;
        }
        n.as_f64()
            .is_some_and(|f| f.fract() == 0.0 && range.contains(&f))
    }
}

/// The value of a short run of ASCII digits. Bytes, not `str` slices: the caller's
/// fixed offsets may fall inside a multi-byte character of a hostile value.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
}

/// RFC 3339 `full-date`.
fn date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]))
    else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// RFC 3339 `full-time`: `HH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`.
fn time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (digits(&b[0..2]), digits(&b[3..5]), digits(&b[6..8]))
    else {
        return false;
    };
    if h > 23 || m > 59 || sec > 60 {
        return false;
    }
    // Bytes 0..8 are ASCII digits and colons here, so 8 is a character boundary.
    let Some(mut rest) = s.get(8..) else {
        return false;
    };
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        "Z" | "z" => true,
        offset => {
            let ob = offset.as_bytes();
            ob.len() == 6
                && matches!(ob[0], b'+' | b'-')
                && ob[3] == b':'
                && digits(&ob[1..3]).is_some_and(|h| h <= 23)
                && digits(&ob[4..6]).is_some_and(|m| m <= 59)
        }
    }
}

fn date_time(s: &str) -> bool {
    match s.find(['T', 't']) {
        Some(10) => date(&s[..10]) && time(&s[11..]),
        _ => false,
    }
}

/// A dot-atom address at a host name (or bracketed IPv4 literal). Quoted local parts
/// and comments are refused: legitimate API traffic does not need them.
fn email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|a| !a.is_empty() && a.chars().all(atext));
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(ip) => ip.parse::<Ipv4Addr>().is_ok(),
        None => hostname(domain) && domain.contains('.'),
    };
    local_ok && domain_ok && s.len() <= 254
}

/// Whether an email address uses only characters that cannot break out of a quoted
/// context (the free-text detectors can then skip it).
pub(crate) fn plain_email(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | '@'))
}

fn hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// RFC 3986 characters only, with valid percent escapes; `absolute` requires a scheme.
fn uri(s: &str, absolute: bool) -> bool {
    let b = s.as_bytes();
    let allowed = |c: u8| c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let ok = b
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
                if !ok {
                    return false;
                }
                i += 3;
            }
            c if allowed(c) => i += 1,
            _ => return false,
        }
    }
    if !absolute {
        return true;
    }
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

fn base64(s: &str) -> bool {
    let b = s.as_bytes();
    let body = b.len() - b.iter().rev().take_while(|&&c| c == b'=').count();
    b.len().is_multiple_of(4)
        && b.len() - body <= 2
        && b[..body]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/'))
}
