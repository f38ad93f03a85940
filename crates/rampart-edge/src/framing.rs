//! HTTP/1 message framing rules hyper does not enforce by itself (REFERENCE §1).
//!
//! The edge re-frames every request for the link, so an ambiguous request cannot be
//! smuggled past it; it is still refused, because the ambiguity itself is the attack
//! and a lenient edge hides it from the audit trail. Runs before anything is forwarded.
//! hyper itself merges identical duplicate Content-Length headers and drops
//! Content-Length next to chunked Transfer-Encoding before this check sees the head;
//! the rules for those shapes still hold for any other source of request heads.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Version};

/// Which framing rule a request broke (the `rule` of its denial).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FramingViolation {
    /// More than one Content-Length header, even with identical values.
    DuplicateContentLength,
    /// Content-Length and Transfer-Encoding together.
    LengthAndTransferEncoding,
    /// A Transfer-Encoding other than exactly one `chunked`.
    UnsupportedTransferEncoding,
    /// Transfer-Encoding on an HTTP/1.0 request (RFC 9112 §6.1).
    TransferEncodingInHttp10,
}

impl FramingViolation {
    /// Stable rule id for logs.
    pub(crate) fn rule(self) -> &'static str {
        match self {
            FramingViolation::DuplicateContentLength => "duplicate-content-length",
            FramingViolation::LengthAndTransferEncoding => "content-length-with-transfer-encoding",
            FramingViolation::UnsupportedTransferEncoding => "unsupported-transfer-encoding",
            FramingViolation::TransferEncodingInHttp10 => "transfer-encoding-in-http10",
        }
    }
}

/// Checks the framing headers of a request head.
pub(crate) fn check(version: Version, headers: &HeaderMap) -> Result<(), FramingViolation> {
    let lengths = headers.get_all(CONTENT_LENGTH).iter().count();
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
    let first_coding = codings.next();
    if lengths > 1 {
        return Err(FramingViolation::DuplicateContentLength);
    }
    let Some(coding) = first_coding else {
        return Ok(());
    };
    if lengths == 1 {
        return Err(FramingViolation::LengthAndTransferEncoding);
    }
    if version == Version::HTTP_10 {
        return Err(FramingViolation::TransferEncodingInHttp10);
    }
    let exactly_chunked = coding
        .to_str()
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
    if codings.next().is_some() || !exactly_chunked {
        return Err(FramingViolation::UnsupportedTransferEncoding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use FramingViolation::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    type Case = (
        Version,
        &'static [(&'static str, &'static str)],
        Result<(), FramingViolation>,
    );

    #[test]
    fn refuses_ambiguous_framing_and_accepts_look_alikes() {
        let table: [Case; 12] = [
            // legitimate
            (Version::HTTP_11, &[], Ok(())),
            (Version::HTTP_11, &[("content-length", "5")], Ok(())),
            (
                Version::HTTP_11,
                &[("transfer-encoding", "chunked")],
                Ok(()),
            ),
            (
                Version::HTTP_11,
                &[("transfer-encoding", "Chunked ")],
                Ok(()),
            ),
            (Version::HTTP_10, &[("content-length", "0")], Ok(())),
            (
                Version::HTTP_11,
                &[("x-transfer-encoding", "gzip"), ("content-length", "3")],
                Ok(()),
            ),
            // attacks
            (
                Version::HTTP_11,
                &[("content-length", "5"), ("content-length", "5")],
                Err(DuplicateContentLength),
            ),
            (
                Version::HTTP_11,
                &[("content-length", "5"), ("transfer-encoding", "chunked")],
                Err(LengthAndTransferEncoding),
            ),
            (
                Version::HTTP_11,
                &[("transfer-encoding", "chunked, chunked")],
                Err(UnsupportedTransferEncoding),
            ),
            (
                Version::HTTP_11,
                &[
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked"),
                ],
                Err(UnsupportedTransferEncoding),
            ),
            (
                Version::HTTP_11,
                &[("transfer-encoding", "gzip, chunked")],
                Err(UnsupportedTransferEncoding),
            ),
            (
                Version::HTTP_10,
                &[("transfer-encoding", "chunked")],
                Err(TransferEncodingInHttp10),
            ),
        ];
        for (version, pairs, want) in table {
            assert_eq!(
                check(version, &headers(pairs)),
                want,
                "{version:?} {pairs:?}"
            );
        }
    }
}
