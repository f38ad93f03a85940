use std::io::Write;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

use super::*;

const JSON: &[u8] = br#"{"user":"alice","roles":["reader"],"note":"hello hello hello"}"#;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

fn br(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).expect("in memory");
    }
    out
}

fn zst(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

fn run(ce: &str, body: Vec<u8>, limits: &DecodeLimits) -> Result<Bytes, &'static str> {
    decode(Some(ce), &Bytes::from(body), limits).map_err(|e| e.code())
}

#[test]
fn each_coding_round_trips() {
    let l = DecodeLimits::default();
    for (ce, body) in [
        ("gzip", gz(JSON)),
        ("x-gzip", gz(JSON)),
        ("GZIP", gz(JSON)),
        ("deflate", zlib(JSON)),
        ("br", br(JSON)),
        ("zstd", zst(JSON)),
        ("identity", JSON.to_vec()),
        ("identity, gzip", gz(JSON)),
    ] {
        assert_eq!(run(ce, body, &l).as_deref(), Ok(JSON), "{ce}");
    }
    let same = Bytes::from_static(JSON);
    assert_eq!(
        decode(None, &same, &l).expect("no coding").as_ptr(),
        same.as_ptr()
    );
}

#[test]
fn attacks_fail_with_their_code() {
    let l = DecodeLimits::default();
    let mut two_members = gz(b"{\"a\":");
    two_members.extend(gz(b"1}"));
    let mut gz_trailing = gz(JSON);
    gz_trailing.extend_from_slice(b"junk");
    let mut zlib_trailing = zlib(JSON);
    zlib_trailing.push(0);
    let mut br_trailing = br(JSON);
    br_trailing.extend_from_slice(b"x");
    let mut zst_two = zst(b"{\"a\":");
    zst_two.extend(zst(b"1}"));
    let cut = |v: Vec<u8>, n: usize| v[..v.len() - n].to_vec();
    // A zstd frame header asking for a 2 GiB window.
    let zst_window = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, (21 << 3) as u8, 0, 0, 0];
    let mut zst_dict = zst(JSON);
    zst_dict[4] |= 1;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("gzip", two_members, "encoding-trailing-data"),
        ("gzip", gz_trailing, "encoding-trailing-data"),
        ("gzip", cut(gz(JSON), 4), "encoding-truncated"),
        ("gzip", cut(gz(JSON), 30), "encoding-truncated"),
        ("gzip", JSON.to_vec(), "encoding-corrupt"),
        ("deflate", raw_deflate(JSON), "encoding-corrupt"),
        ("deflate", zlib_trailing, "encoding-trailing-data"),
        ("deflate", cut(zlib(JSON), 6), "encoding-truncated"),
        ("br", br_trailing, "encoding-trailing-data"),
        ("br", cut(br(JSON), 3), "encoding-truncated"),
        ("zstd", zst_two, "encoding-trailing-data"),
        ("zstd", cut(zst(JSON), 3), "encoding-truncated"),
        ("zstd", zst_window, "encoding-zstd-window"),
        ("zstd", zst_dict, "encoding-corrupt"),
        ("gzip, gzip", gz(&gz(JSON)), "encoding-too-many-layers"),
        ("compress", JSON.to_vec(), "encoding-unsupported"),
        ("gzip,", gz(JSON), "encoding-malformed"),
    ];
    for (ce, body, want) in cases {
        assert_eq!(run(ce, body, &l).map(|_| ()), Err(want), "{ce} {want}");
    }
}

#[test]
fn gzip_of_gzip_decodes_one_layer_unless_more_are_allowed() {
    let nested = gz(&gz(JSON));
    let one = run("gzip", nested.clone(), &DecodeLimits::default()).expect("one layer");
    assert_eq!(one.as_ref(), gz(JSON).as_slice());
    let two = DecodeLimits {
        max_layers: 2,
        ..DecodeLimits::default()
    };
    assert_eq!(run("gzip, gzip", nested, &two).as_deref(), Ok(JSON));
}

/// Streams `len` zeros through `w` without holding them.
fn zeros(mut w: impl Write, len: usize) {
    let block = vec![0u8; 1 << 20];
    for _ in 0..len / block.len() {
        w.write_all(&block).expect("in memory");
    }
}

#[test]
fn a_gigabyte_of_zeros_is_refused_without_being_inflated() {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    zeros(&mut e, 1 << 30);
    let bomb = e.finish().expect("in memory");
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let e = decode(Some("gzip"), &Bytes::from(bomb), &DecodeLimits::default()).expect_err("bomb");
    assert_eq!((e.code(), e.status()), ("encoding-bomb", 413));
}

#[test]
fn the_ratio_cap_applies_past_the_grace_size_for_every_coding() {
    let l = DecodeLimits::default();
    let data = vec![b'a'; 4 << 20];
    for (ce, body) in [
        ("gzip", gz(&data)),
        ("deflate", zlib(&data)),
        ("br", br(&data)),
        ("zstd", zst(&data)),
    ] {
        assert!(
            body.len() * l.max_ratio < data.len(),
            "{ce} compresses well"
        );
        assert_eq!(run(ce, body, &l).map(|_| ()), Err("encoding-bomb"), "{ce}");
    }
    // Small bodies compress far beyond the ratio and stay legal under the grace size.
    let small = vec![b' '; 32 << 10];
    for (ce, body) in [
        ("gzip", gz(&small)),
        ("br", br(&small)),
        ("zstd", zst(&small)),
    ] {
        assert!(body.len() * l.max_ratio < small.len(), "{ce}");
        assert_eq!(run(ce, body, &l).map(|b| b.len()), Ok(small.len()), "{ce}");
    }
}

#[test]
fn output_buffers_grow_to_at_most_the_cap_plus_one_chunk() {
    // Doubling would take a buffer that has just passed half the cap to twice the cap.
    for (cap, len) in [
        (100 << 10, 60 << 10),
        (1 << 20, (1 << 20) - 1),
        (1 << 20, 600 << 10),
    ] {
        let data = vec![b'a'; len];
        let out = read_capped(&mut &data[..], cap).expect("under the cap");
        assert_eq!(out.len(), len);
        assert!(
            out.capacity() <= cap + CHUNK,
            "{cap} {len}: {}",
            out.capacity()
        );
        let out = inflate(&zlib(&data), true, cap).expect("under the cap");
        assert!(
            out.capacity() <= cap + CHUNK,
            "inflate {cap} {len}: {}",
            out.capacity()
        );
    }
    let data = vec![b'a'; 200 << 10];
    assert_eq!(
        read_capped(&mut &data[..], 100 << 10)
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("encoding-bomb")
    );
}
