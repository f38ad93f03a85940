//! Request ids and W3C trace context.
//!
//! The edge mints a fresh 128-bit id for every request and uses it as the trace id too,
//! so an operator can follow one decision through both tiers' logs with one string.
//! Client-supplied ids and trace headers are never trusted (see [`crate::headers`]).

use std::fmt;

/// A 128-bit request id, as 32 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

/// Why a request id or traceparent was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not 32 lowercase hex digits, or all zero.
    #[error("a request id is 32 lowercase hex digits, not all zero")]
    MalformedRequestId,
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl RequestId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let n: u128 = rand::random::<u128>() | 1; // never the invalid all-zero id
        let mut id = String::with_capacity(32);
        push_hex(&mut id, n, 32);
        Self(id)
    }

    /// Accepts an id minted by another Rampart tier.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_lower_hex(s, 32) && s.bytes().any(|b| b != b'0') {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::MalformedRequestId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A `traceparent` value for a new span of this trace (trace id = request id).
    pub fn traceparent(&self) -> String {
        let span: u64 = rand::random::<u64>() | 1;
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        out.push_str(&self.0);
        out.push('-');
        push_hex(&mut out, u128::from(span), 16);
        out.push_str("-01");
        out
    }
}

/// Appends the low `digits` nibbles of `n` in lowercase hex, zero-padded. Ids are minted
/// on every request, where `format!` cost several times this.
fn push_hex(out: &mut String, n: u128, digits: usize) {
    for i in (0..digits).rev() {
        let nibble = ((n >> (4 * i)) & 0xf) as u8;
        out.push(char::from(b"0123456789abcdef"[usize::from(nibble)]));
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Extracts the trace id of a `traceparent` if it is well formed (version 00).
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let well_formed = parts.next().is_none()
        && version == "00"
        && is_lower_hex(trace, 32)
        && is_lower_hex(span, 16)
        && is_lower_hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && span.bytes().any(|b| b != b'0');
    well_formed.then_some(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert_eq!(RequestId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn hex_matches_the_formatter() {
        for n in [
            1u128,
            0xf,
            0x10,
            u128::from(u64::MAX),
            u128::MAX,
            0x0af7_6519_16cd_43dd,
        ] {
            let mut s = String::new();
            push_hex(&mut s, n, 32);
            assert_eq!(s, format!("{n:032x}"));
            let low = n & u128::from(u64::MAX);
            let mut s = String::new();
            push_hex(&mut s, low, 16);
            assert_eq!(s, format!("{low:016x}"));
        }
    }

    #[test]
    fn refuses_malformed_request_ids() {
        for bad in [
            "",
            "00000000000000000000000000000000",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdefa",
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(RequestId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn traceparent_carries_the_request_id_as_trace_id() {
        let id = RequestId::generate();
        let tp = id.traceparent();
        assert_eq!(trace_id_of(&tp), Some(id.as_str()));
        assert_eq!(
            trace_id_of("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        for bad in [
            "01-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(trace_id_of(bad), None, "{bad}");
        }
    }
}
