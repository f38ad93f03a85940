#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rampart_parse::{DecodeLimits, decode};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let coding = ["gzip", "deflate", "br", "zstd"][usize::from(selector % 4)];
    let limits = DecodeLimits::default();
    let body = Bytes::copy_from_slice(rest);
    if let Ok(out) = decode::decode(Some(coding), &body, &limits) {
        let cap = (rest.len() * limits.max_ratio).max(limits.ratio_grace_bytes);
        assert!(out.len() <= cap.min(limits.max_output_bytes) + (32 << 10));
    }
});
