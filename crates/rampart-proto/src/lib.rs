//! The gRPC contract between `rampart-edge` and `rampart-inner`, generated from
//! `proto/rampart/v1/forward.proto`, and the signature format of pushed policy bundles
//! ([`push`]), and the HTTP/2 plumbing both tiers speak it with ([`h2link`]). See the
//! proto file for the meaning of each field.

#![allow(missing_docs, unreachable_pub, clippy::all)]

/// Version 1 of the contract.
pub mod v1 {
    tonic::include_proto!("rampart.v1");
}

/// The signature format of pushed policy bundles.
pub mod push;

#[warn(missing_docs, unreachable_pub, clippy::all)]
pub mod h2link;

/// Conversions between HTTP header maps and their wire form, shared by both tiers.
pub mod wire {
    use bytes::Bytes;
    use http::{HeaderMap, HeaderName, HeaderValue};

    use crate::v1::Header;

    /// Headers in their wire form, in order, repeated names kept.
    pub fn headers_to_wire(headers: &HeaderMap) -> Vec<Header> {
        headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_owned(),
                value: Bytes::copy_from_slice(value.as_bytes()),
            })
            .collect()
    }

    /// Wire headers back as a map. Entries that are not valid HTTP are dropped: a
    /// compromised peer must not make this tier emit them.
    pub fn headers_from_wire(wire: Vec<Header>) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(wire.len());
        for h in wire {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(h.name.as_bytes()),
                HeaderValue::from_maybe_shared(h.value),
            ) {
                headers.append(name, value);
            }
        }
        headers
    }
}
