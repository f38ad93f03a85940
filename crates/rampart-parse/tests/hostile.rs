//! The hostile corpus: each seed in `tests/corpus/` is named `<expected code>__<what>.<kind>`
//! (`ok` for legitimate look-alikes), plus generated attacks too large to keep as files.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use rampart_parse::{BodyKind, Limits, Options, ParseError, Parsed, decode, parse};

fn content_type(ext: &str) -> Option<(&'static str, Options)> {
    let opts = Options {
        canonical: true,
        ..Options::default()
    };
    Some(match ext {
        "json" => ("application/json", opts),
        "xml" => ("application/soap+xml; charset=utf-8", opts),
        "form" => ("application/x-www-form-urlencoded", opts),
        "multipart" => ("multipart/form-data; boundary=XyZ", opts),
        "graphql" => ("application/graphql", opts),
        "gqljson" => (
            "application/json",
            Options {
                graphql: true,
                ..opts
            },
        ),
        _ => return None,
    })
}

fn outcome(r: &Result<Parsed<'_>, ParseError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn every_corpus_seed_gets_its_expected_outcome() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        let (want, rest) = name.split_once("__").expect("<code>__<what>.<kind>");
        let ext = rest.rsplit('.').next().expect("extension");
        let (ct, opts) = content_type(ext).expect("known corpus kind");
        let body = Bytes::from(std::fs::read(&path).expect("readable"));
        let r = parse(Some(ct), &body, &Limits::default(), opts);
        assert_eq!(outcome(&r), want, "{name}: {:?}", r.as_ref().err());
        if let Err(e) = &r {
            assert!(matches!(e.status(), 400 | 413 | 415 | 422), "{name}");
            assert!(e.to_string().len() < 300, "{name}: message stays short");
        }
        seen += 1;
    }
    assert!(seen >= 30, "corpus went missing: {seen}");
}

fn code_of(ct: &str, body: Vec<u8>) -> &'static str {
    let body = Bytes::from(body);
    outcome(&parse(
        Some(ct),
        &body,
        &Limits::default(),
        Options::default(),
    ))
}

#[test]
fn a_hundred_thousand_levels_of_nesting_are_refused_at_the_cap() {
    let n = 100_000;
    let json = [vec![b'['; n], vec![b']'; n]].concat();
    assert_eq!(code_of("application/json", json), "json-too-deep");
    let json = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)).into_bytes();
    assert_eq!(code_of("application/json", json), "json-too-deep");
    let xml = format!("{}{}", "<a>".repeat(n), "</a>".repeat(n)).into_bytes();
    assert_eq!(code_of("application/xml", xml), "xml-too-deep");
    let gql = format!("{{{}x{}}}", "a{".repeat(n), "}".repeat(n)).into_bytes();
    assert_eq!(code_of("application/graphql", gql), "graphql-too-deep");
    // The look-alike: legitimately nested, 20 levels.
    let json = format!("{}1{}", "[".repeat(20), "]".repeat(20)).into_bytes();
    assert_eq!(code_of("application/json", json), "ok");
}

#[test]
fn quadratic_attribute_lists_are_cut_at_the_cap() {
    let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"x\"")).collect();
    let xml = format!("<r{attrs}/>").into_bytes();
    assert_eq!(code_of("application/xml", xml), "xml-too-many-attributes");
    let dup = format!(
        "<r{} a0=\"y\"/>",
        (0..60).map(|i| format!(" a{i}=\"x\"")).collect::<String>()
    );
    assert_eq!(
        code_of("application/xml", dup.into_bytes()),
        "xml-duplicate-attribute"
    );
}

#[test]
fn media_types_and_charsets_map_to_415() {
    let body = Bytes::from_static(b"{}");
    let l = Limits::default();
    for ct in [
        "application/octet-stream",
        "application/json; charset=utf-16",
        "text/html",
    ] {
        let e = parse(Some(ct), &body, &l, Options::default()).expect_err(ct);
        assert_eq!(e.status(), 415, "{ct}");
    }
    let e = parse(None, &body, &l, Options::default()).expect_err("no type");
    assert_eq!((e.code(), e.status()), ("media-missing", 415));
    let allow = Options {
        allow_opaque: true,
        ..Options::default()
    };
    let p = parse(Some("application/octet-stream"), &body, &l, allow).expect("opaque");
    assert_eq!((p.kind, p.leaves.len()), (BodyKind::Opaque, 0));
    let empty = Bytes::new();
    let p = parse(None, &empty, &l, Options::default()).expect("no body");
    assert_eq!(p.kind, BodyKind::Empty);
    // A declared type over zero bytes describes nothing: no parser error, no 415.
    for ct in [
        "application/json",
        "application/xml",
        "text/html; charset=UTF-8",
        "multipart/form-data; boundary=something",
        "application/x-www-form-urlencoded",
    ] {
        let p = parse(Some(ct), &empty, &l, Options::default()).expect(ct);
        assert_eq!((p.kind, p.leaves.len()), (BodyKind::Empty, 0), "{ct}");
    }
    let e = parse(
        Some("application/json; charset"),
        &empty,
        &l,
        Options::default(),
    )
    .expect_err("a malformed type is refused even without a body");
    assert_eq!(e.status() / 100, 4);
    let e =
        parse(Some("multipart/form-data"), &body, &l, Options::default()).expect_err("no boundary");
    assert_eq!(e.code(), "multipart-bad-boundary");
    let hi = Bytes::from_static(b"hi");
    let p = parse(Some("text/plain"), &hi, &l, Options::default()).expect("text");
    assert_eq!(p.leaves[0].value, "hi");
}

#[test]
fn what_is_inspected_after_decoding_is_what_the_backend_gets() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(br#"{"role":"user","role":"admin"}"#)
        .expect("in memory");
    let raw = Bytes::from(e.finish().expect("in memory"));
    let l = Limits::default();
    let body = decode::decode(Some("gzip"), &raw, &l.decode).expect("decodes");
    let err = parse(Some("application/json"), &body, &l, Options::default()).expect_err("dup");
    assert_eq!(err.code(), "json-duplicate-key");
}

/// Held memory (path nodes, leaf records, owned text, canonical copy) stays a fixed
/// multiple of the input however the input is shaped: no shape is quadratic. The worst
/// case is the smallest leaf, `0,`: 2 bytes in, a 32-byte leaf and a 16-byte node held,
/// plus up to half again in vector growth slack.
#[test]
fn held_memory_is_a_small_multiple_of_the_input() {
    let long_key = "k".repeat(100_000);
    let many_under_long_key = format!("{{\"{long_key}\":[{}1]}}", "1,".repeat(9_000));
    let escaped = format!("[{}]", vec![r#""\u0041\n\u0042""#; 5_000].join(","));
    let tiny_leaves = format!("[{}0]", "0,".repeat(9_999));
    let deep_keys = format!(
        "{}1{}",
        format!("{{\"{}\":", "x".repeat(1000)).repeat(30),
        "}".repeat(30)
    );
    let l = Limits::default();
    let opts = Options {
        canonical: true,
        ..Options::default()
    };
    for (what, body) in [
        ("many leaves under a long key", many_under_long_key),
        ("escaped strings", escaped),
        ("tiny leaves", tiny_leaves),
        ("long keys, deep", deep_keys),
    ] {
        let body = Bytes::from(body);
        let p = parse(Some("application/json"), &body, &l, opts).expect(what);
        let held = p.heap_bytes();
        assert!(
            held <= 32 * body.len() + 4096,
            "{what}: {held} bytes held for {} in",
            body.len()
        );
        eprintln!(
            "{what}: {} bytes in, {held} held ({:.1}x)",
            body.len(),
            held as f64 / body.len() as f64
        );
    }
}
