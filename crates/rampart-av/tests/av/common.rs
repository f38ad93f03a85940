//! Bodies and configs shared by the scenarios.

use std::io::Write;
use std::time::Duration;

use rampart_av::{CacheConfig, ClamdAddress, ClamdConfig, IcapConfig};
use rampart_core::units::ByteSize;
pub(crate) use rampart_test_support::antivirus::{AvServices, EICAR, TEST_MARKER};

/// The fixture's clamd StreamMaxLength.
pub(crate) const CLAMD_LIMIT: ByteSize = ByteSize::mib(8);
pub(crate) const TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn clamd_config(address: ClamdAddress) -> ClamdConfig {
    ClamdConfig {
        address,
        timeout: TIMEOUT,
        connect_timeout: Duration::from_millis(500),
        max_concurrency: 4,
        stream_max_length: CLAMD_LIMIT,
    }
}

pub(crate) fn icap_config(url: &str) -> IcapConfig {
    IcapConfig {
        url: url.parse().unwrap(),
        timeout: TIMEOUT,
        connect_timeout: Duration::from_millis(500),
        max_connections: 4,
    }
}

pub(crate) fn cache_config() -> CacheConfig {
    CacheConfig {
        ttl: Duration::from_secs(60),
        entries: 100,
        signature_check: Duration::from_secs(60),
    }
}

/// Deterministic text-like bytes that match no signature.
pub(crate) fn clean_body(len: usize) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"order ",
        b"items ",
        b"{\"id\":",
        b"42, ",
        b"name ",
        b"price\n",
        b"total ",
        b"ok ",
    ];
    let mut out = Vec::with_capacity(len + 8);
    let mut x: u32 = 0x1234_5678;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(words[(x % 8) as usize]);
    }
    out.truncate(len);
    out
}

pub(crate) fn json_with(text: &str) -> Vec<u8> {
    serde_json::json!({"user": "alice", "comment": text, "items": [1, 2, 3]})
        .to_string()
        .into_bytes()
}

pub(crate) fn eicar_text() -> &'static str {
    std::str::from_utf8(EICAR).unwrap()
}

pub(crate) fn zip_with(name: &str, content: &[u8], deflate: bool) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        name,
        SimpleFileOptions::default().compression_method(method),
    )
    .unwrap();
    zip.write_all(content).unwrap();
    zip.finish().unwrap().into_inner()
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Bodies every engine must block, each next to a look-alike that must pass.
pub(crate) fn infected_and_look_alikes() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let near_marker = TEST_MARKER.replace("7f3a", "7f3b");
    let mut big_marker = clean_body(300 * 1024);
    big_marker.extend_from_slice(TEST_MARKER.as_bytes());
    vec![
        (
            "raw EICAR",
            EICAR.to_vec(),
            b"EICAR is a test file standard".to_vec(),
        ),
        (
            "raw marker",
            TEST_MARKER.as_bytes().to_vec(),
            near_marker.as_bytes().to_vec(),
        ),
        (
            "EICAR in JSON",
            json_with(eicar_text()),
            json_with("see the EICAR anti-virus test file"),
        ),
        (
            "marker in JSON",
            json_with(TEST_MARKER),
            json_with(&near_marker),
        ),
        (
            "marker after 300 KiB",
            big_marker,
            clean_body(300 * 1024 + 32),
        ),
        (
            "EICAR in a stored zip",
            zip_with("eicar.com", EICAR, false),
            zip_with("readme.txt", b"EICAR test instructions", false),
        ),
        (
            "marker in a deflated zip",
            zip_with(
                "data.txt",
                &clean_body(50_000)
                    .into_iter()
                    .chain(TEST_MARKER.bytes())
                    .collect::<Vec<_>>(),
                true,
            ),
            zip_with("data.txt", &clean_body(50_000), true),
        ),
        (
            "marker in gzip",
            gzip(TEST_MARKER.as_bytes()),
            gzip(near_marker.as_bytes()),
        ),
        (
            "EICAR in gzip",
            gzip(EICAR),
            gzip(b"plain text about EICAR"),
        ),
    ]
}
