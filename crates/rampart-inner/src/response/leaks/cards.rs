//! Payment card numbers: 13 to 19 digits, optionally grouped by single spaces or
//! dashes (one kind per number), with an issuer prefix whose length fits, and a
//! valid Luhn check digit. The prefix and length rules keep order ids, timestamps
//! and phone numbers out: a random 16-digit id passes Luhn one time in ten.

use std::ops::Range;

/// Byte ranges of card numbers in `text`, separators included.
pub(crate) fn find(text: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() || (i > 0 && attached(text[i - 1])) {
            i += 1;
            continue;
        }
        let (end, digits) = candidate(text, i);
        // A period after the number ends a sentence; a period and a digit make a decimal.
        let followed = text.get(end).is_some_and(|&b| {
            b.is_ascii_alphanumeric()
                || b == b'_'
                || (b == b'.' && text.get(end + 1).is_some_and(u8::is_ascii_digit))
        });
        if !followed && (13..=19).contains(&digits.len()) && issuer_fits(&digits) && luhn(&digits) {
            out.push(i..end);
        }
        i = end.max(i + 1);
    }
    out
}

/// Characters that make a digit run part of something else (an id, a decimal, a
/// phone number in `+` form, a hex string).
fn attached(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'_' || b == b'.'
}

/// The run of digits starting at `start`, with single separators of one kind between
/// digits: its end and its digits.
fn candidate(text: &[u8], start: usize) -> (usize, Vec<u8>) {
    let mut digits = Vec::new();
    let mut separator = None;
    let mut end = start;
    let mut i = start;
    while i < text.len() && digits.len() <= 19 {
        let b = text[i];
        if b.is_ascii_digit() {
            digits.push(b - b'0');
            i += 1;
            end = i;
            continue;
        }
        let next_is_digit = text.get(i + 1).is_some_and(u8::is_ascii_digit);
        if (b == b' ' || b == b'-') && next_is_digit && separator.is_none_or(|s| s == b) {
            separator = Some(b);
            i += 1;
            continue;
        }
        break;
    }
    (end, digits)
}

/// Issuer prefixes (IIN ranges) with the lengths their numbers have.
fn issuer_fits(d: &[u8]) -> bool {
    let prefix = |n: usize| {
        d.iter()
            .take(n)
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
    };
    let len = d.len();
    match d.first() {
        // Visa.
        Some(4) => matches!(len, 13 | 16 | 19),
        // Mastercard 51-55 and 2221-2720.
        Some(5) => (51..=55).contains(&prefix(2)) && len == 16,
        Some(2) => (2221..=2720).contains(&prefix(4)) && len == 16,
        // Amex 34, 37; Diners 300-305, 36, 38; JCB 3528-3589.
        Some(3) => match prefix(2) {
            34 | 37 => len == 15,
            36 | 38 => len == 14,
            30 => (300..=305).contains(&prefix(3)) && len == 14,
            35 => (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&len),
            _ => false,
        },
        // Discover 6011, 644-649, 65; UnionPay 62.
        Some(6) => {
            (prefix(4) == 6011
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 65
                || prefix(2) == 62)
                && (16..=19).contains(&len)
        }
        _ => false,
    }
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Masks every digit of `range` in `body` except the last four, keeping separators
/// and the length (so offsets and Content-Length stay valid).
pub(crate) fn mask(body: &mut [u8], range: Range<usize>) {
    let digits = body[range.clone()]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .count();
    let mut left = digits.saturating_sub(4);
    for b in &mut body[range] {
        if left == 0 {
            break;
        }
        if b.is_ascii_digit() {
            *b = b'*';
            left -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        find(text.as_bytes())
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn finds_luhn_valid_card_numbers_and_not_look_alike_digit_strings() {
        let cards = [
            ("4111111111111111", "4111111111111111"),
            (r#"{"pan":"4111 1111 1111 1111"}"#, "4111 1111 1111 1111"),
            ("card: 5500-0000-0000-0004.", "5500-0000-0000-0004"),
            ("amex 3782 822463 10005 on file", "3782 822463 10005"),
            ("2223000048400011", "2223000048400011"),
            ("6011111111111117", "6011111111111117"),
            ("diners 30569309025904", "30569309025904"),
            ("jcb=3530111333300000", "3530111333300000"),
            ("visa13 4222222222222", "4222222222222"),
        ];
        for (text, card) in cards {
            assert_eq!(found(text), [card], "{text}");
        }
        let legitimate = [
            // Luhn-invalid.
            "4111111111111112",
            "5500 0000 0000 0005",
            // Order ids and references without an issuer prefix (some pass Luhn).
            "order 9876543210123452",
            "ORD-1234567812345670",
            "ref 0000000000000000",
            // Ids with letters attached, hex, decimals.
            "id=A4111111111111111",
            "4111111111111111abc",
            "3.4111111111111111",
            "4111111111111111.25",
            // Timestamps: unix milliseconds, compact dates, microseconds.
            "1700000000000",
            "\"ts\": 1732855512123",
            "20231129043512000",
            // Phone numbers.
            "+1 415 555 2671",
            "+44 20 7946 0958 or +49 30 1234567890",
            "call 0800-555-0199-1234",
            // Mixed separators, doubled separators, too short, too long.
            "4111 1111-1111 1111",
            "4111  1111  1111  1111",
            "411111111111",
            "41111111111111111111111",
        ];
        for text in legitimate {
            assert_eq!(found(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn masking_keeps_the_last_four_digits_separators_and_length() {
        let mut body = br#"{"pan":"4111-1111-1111-1111","n":1}"#.to_vec();
        let ranges = find(&body);
        assert_eq!(ranges.len(), 1);
        mask(&mut body, ranges[0].clone());
        assert_eq!(body, br#"{"pan":"****-****-****-1111","n":1}"#);
    }
}
