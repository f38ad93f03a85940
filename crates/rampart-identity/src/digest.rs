//! SHA-256 and constant-time comparison, in one place.

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 over several parts, fed in order.
pub(crate) fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Equality whose time does not depend on where the inputs differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Parses `sha256:<64 hex digits>` (lowercase or uppercase hex).
pub(crate) fn parse_sha256(text: &str) -> Result<[u8; 32], &'static str> {
    let hex = text
        .strip_prefix("sha256:")
        .ok_or("expected \"sha256:\" followed by 64 hex digits")?;
    if hex.len() != 64 {
        return Err("expected 64 hex digits after \"sha256:\"");
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0]).ok_or("not a hex digit")?;
        let lo = hex_val(pair[1]).ok_or("not a hex digit")?;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_a_known_vector_and_hex_round_trips() {
        let d = sha256(b"abc");
        let text = format!("sha256:{}", hex(&d));
        assert_eq!(
            text,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(parse_sha256(&text), Ok(d));
        assert_eq!(
            parse_sha256(&text.to_uppercase().replace("SHA256", "sha256")),
            Ok(d)
        );
        assert_eq!(sha256_parts(&[b"a", b"bc"]), d);
        for bad in ["ba78", "sha256:", "sha256:zz", "md5:00", &text[..70]] {
            assert!(parse_sha256(bad).is_err(), "{bad}");
        }
        assert!(ct_eq(&d, &d) && !ct_eq(&d, &[0u8; 32]) && !ct_eq(&d, &d[..31]));
    }
}
