#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rampart_parse::{Limits, multipart};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    if let Ok(p) = multipart::parse(&body, "XyZ", &Limits::default()) {
        for f in &p.files {
            assert!(f.bytes.len() <= data.len());
        }
    }
});
