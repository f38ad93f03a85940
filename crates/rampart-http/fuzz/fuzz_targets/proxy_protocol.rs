//! The PROXY protocol parser is incremental: readers call it on a growing buffer, so
//! every prefix must agree with the whole. Shorter than the header: "need more"; the
//! header's own bytes: the same header and length; an error stays an error. A v1 header
//! fits 107 bytes and any buffer as long as the longest header is decided.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_http::proxy_protocol::{
    Command, MAX_TLV_BYTES, ProxyError, ProxyHeader, V1_MAX_BYTES, parse_proxy_header,
};

/// The longest header: v2 with UNIX addresses (216 bytes) and capped TLVs.
const MAX_HEADER_BYTES: usize = 16 + 216 + MAX_TLV_BYTES;
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

type Parsed = Result<Option<(ProxyHeader, usize)>, ProxyError>;

fn same(a: &Parsed, b: &Parsed) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = parse_proxy_header(data);
    if data.len() >= MAX_HEADER_BYTES {
        // read_proxy_header stops reading here: the parser must have decided.
        assert!(
            !matches!(whole, Ok(None)),
            "undecided at {} bytes",
            data.len()
        );
    }
    if let Ok(Some((header, n))) = &whole {
        let n = *n;
        assert!(n <= data.len(), "consumed {n} of {}", data.len());
        match header.version {
            1 => {
                assert!(n <= V1_MAX_BYTES, "v1 header of {n} bytes");
                assert!(data.starts_with(b"PROXY ") && data[..n].ends_with(b"\r\n"));
                assert_eq!(header.command, Command::Proxy);
            }
            2 => assert!(n >= 16 && n <= MAX_HEADER_BYTES && data.starts_with(V2_SIGNATURE)),
            v => panic!("version {v}"),
        }
    }
    // Every prefix up to the point where the whole is decided (bounded, so a long input
    // costs no more than a long header).
    let mut err_at = None;
    for len in 0..=data.len().min(MAX_HEADER_BYTES + 1) {
        let part = parse_proxy_header(&data[..len]);
        if let Some(first) = err_at {
            assert!(part.is_err(), "error at {first} bytes, {part:?} at {len}");
        }
        if part.is_err() && err_at.is_none() {
            err_at = Some(len);
        }
        match &whole {
            Ok(Some((_, n))) if len < *n => {
                assert!(
                    matches!(part, Ok(None)),
                    "{part:?} at {len} of a {n}-byte header"
                );
            }
            Ok(Some(_)) => assert!(same(&part, &whole), "{part:?} at {len}, {whole:?}"),
            Ok(None) => assert!(
                matches!(part, Ok(None)),
                "{part:?} at {len}, need more at all"
            ),
            Err(_) => {}
        }
    }
    // Past MAX_HEADER_BYTES every prefix is decided, so a refused whole shows up above.
    assert_eq!(
        whole.is_err(),
        err_at.is_some(),
        "{whole:?}, first error at {err_at:?}"
    );
});
