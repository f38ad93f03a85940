//! Serialized objects hidden by compression: a gzip stream in base64 (`H4sI…`) that
//! inflates to a Java serialization stream (`AC ED 00 05`), as unencrypted JSF client
//! state and exploit tools carry gadget chains past byte-pattern rules. Bounded: at most
//! 64 KiB of base64 is decoded and 256 KiB inflated per value.

use std::io::Read as _;

const MAX_BASE64: usize = 64 * 1024;
const MAX_INFLATED: u64 = 256 * 1024;
const JAVA_MAGIC: [u8; 4] = [0xac, 0xed, 0x00, 0x05];

/// The `H4sI…` run of `text` when it inflates to a Java serialized object.
pub(crate) fn gzip_java(text: &str) -> Option<String> {
    let s = text.as_bytes();
    let start = memchr::memmem::find_iter(s, b"H4sI").find(|&i| i == 0 || !is_base64(s[i - 1]))?;
    // A form or query decoding turned the base64 `+` into spaces.
    let len = s[start..]
        .iter()
        .take(MAX_BASE64)
        .take_while(|&&b| is_base64(b) || b == b'=' || b == b' ')
        .count();
    let run = s[start..start + len].trim_ascii_end();
    let plus: Vec<u8>;
    let run = if run.contains(&b' ') {
        plus = run
            .iter()
            .map(|&b| if b == b' ' { b'+' } else { b })
            .collect();
        &plus[..]
    } else {
        run
    };
    let bytes = crate::decode::base64_bytes(run)?;
    let mut inflated = Vec::new();
    // A truncated stream still shows its first bytes; what it holds is what counts.
    let _ = flate2::read::GzDecoder::new(bytes.as_slice())
        .take(MAX_INFLATED)
        .read_to_end(&mut inflated);
    memchr::memmem::find(&inflated, &JAVA_MAGIC)
        .map(|_| String::from_utf8_lossy(&run[..run.len().min(32)]).into_owned())
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}
