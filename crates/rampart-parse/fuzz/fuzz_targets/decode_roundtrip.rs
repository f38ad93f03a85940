//! Content-Encoding on valid streams: whatever is compressed (one or two layers, any
//! codec) decodes back to exactly the original, and every truncation of the stream is
//! refused (partial output is never returned).
//!
//! Input: `[codings selector][cut][payload...]`.
#![no_main]
use std::io::Write;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rampart_parse::{DecodeLimits, decode};

const NAMES: [&str; 4] = ["gzip", "deflate", "br", "zstd"];

fn encode(coding: usize, data: &[u8], level: u8) -> Vec<u8> {
    match coding {
        0 => {
            let level = flate2::Compression::new(u32::from(level % 10));
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            e.write_all(data).expect("in memory");
            e.finish().expect("in memory")
        }
        1 => {
            let level = flate2::Compression::new(u32::from(level % 10));
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            e.write_all(data).expect("in memory");
            e.finish().expect("in memory")
        }
        2 => {
            let mut out = Vec::new();
            {
                let mut w =
                    brotli::CompressorWriter::new(&mut out, 4096, u32::from(level % 12), 22);
                w.write_all(data).expect("in memory");
            }
            out
        }
        _ => {
            let level = if level % 2 == 0 {
                ruzstd::encoding::CompressionLevel::Uncompressed
            } else {
                ruzstd::encoding::CompressionLevel::Fastest
            };
            ruzstd::encoding::compress_to_vec(data, level)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, cut, payload @ ..] = data else {
        return;
    };
    let first = usize::from(*selector % 4);
    let second = usize::from((*selector >> 2) % 5);
    let level = *selector >> 5;
    let mut encoded = encode(first, payload, level);
    let mut header = NAMES[first].to_owned();
    let mut limits = DecodeLimits::default();
    if let Some(name) = NAMES.get(second) {
        encoded = encode(second, &encoded, level);
        header = format!("{}, {name}", NAMES[first]);
        limits.max_layers = 2;
    }
    let body = Bytes::from(encoded);
    let out = decode::decode(Some(&header), &body, &limits)
        .unwrap_or_else(|e| panic!("{header} of {} bytes refused: {e:?}", payload.len()));
    assert_eq!(out.as_ref(), payload, "{header} changed the payload");
    let keep = body.len().saturating_sub(usize::from(*cut).max(1));
    let truncated = body.slice(..keep);
    assert!(
        decode::decode(Some(&header), &truncated, &limits).is_err(),
        "{header} truncated to {keep} of {} bytes was accepted",
        body.len()
    );
});
