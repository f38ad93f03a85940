use super::*;
use crate::tree::Leaf;

fn limits() -> JsonLimits {
    JsonLimits::default()
}

fn code(input: &[u8]) -> &'static str {
    match parse(input, &limits(), true) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn attacks_fail_with_their_code_next_to_look_alikes_that_pass() {
    let cases: &[(&[u8], &str)] = &[
        (br#"{"role":"user","role":"admin"}"#, "json-duplicate-key"),
        (
            br#"{"role":"user","r\u006fle":"admin"}"#,
            "json-duplicate-key",
        ),
        (br#"{"a":1,"\u0061":2}"#, "json-duplicate-key"),
        (br#"{"a":{"a":1},"b":{"a":2}}"#, "ok"),
        (br#"{"a":1,"A":2,"a ":3}"#, "ok"),
        // Keys alike in length and first bytes (the duplicate scan's first test) differ
        // further on; long keys repeat past them.
        (
            br#"{"shipping_city":1,"shipping_code":2,"shipping_cit":3}"#,
            "ok",
        ),
        (
            br#"{"shipping_city":1,"shipping_code":2,"shipping_city":3}"#,
            "json-duplicate-key",
        ),
        (
            br#"{"shipping_city":1,"shipping_city":2}"#,
            "json-duplicate-key",
        ),
        (b"\xEF\xBB\xBF{}", "json-bom"),
        (b"{} {}", "json-trailing-data"),
        (b"{}x", "json-trailing-data"),
        (b" {} \n", "ok"),
        (b"[NaN]", "json-non-finite"),
        (b"[Infinity]", "json-non-finite"),
        (b"[-Infinity]", "json-non-finite"),
        (b"[0, -0, 0.5, -1e10, 1E+2, 2e-3]", "ok"),
        // Numbers too large for a double are infinity by another name (fuzz find: the
        // contract's reader refused what the strict parser passed).
        (b"[1e999]", "json-non-finite"),
        (b"[-66666666666666e666666666633]", "json-non-finite"),
        (b"[1.8e308]", "json-non-finite"),
        (
            b"[1.7e308, 1e-999, 0e999999, -4.9e-324, 123456789012345678901234567890]",
            "ok",
        ),
        (b"[01]", "json-leading-zero"),
        (b"[-01]", "json-leading-zero"),
        (b"[1.]", "json-bad-number"),
        (b"[.5]", "json-syntax"),
        (b"[+1]", "json-syntax"),
        (b"[1e]", "json-bad-number"),
        (b"[0x10]", "json-syntax"),
        (b"[1,]", "json-syntax"),
        (b"{\"a\":1,}", "json-syntax"),
        (b"[1 2]", "json-syntax"),
        (b"{'a':1}", "json-syntax"),
        (b"{a:1}", "json-syntax"),
        (b"[tru]", "json-syntax"),
        (b"[True]", "json-syntax"),
        (b"", "json-unexpected-end"),
        (b"[1", "json-unexpected-end"),
        (b"{\"a\":", "json-unexpected-end"),
        (b"\"abc", "json-unexpected-end"),
        (b"\"a\xff\"", "json-invalid-utf8"),
        (b"\"\xed\xa0\x80\"", "json-invalid-utf8"),
        (b"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "ok"),
        (br#""\ud800""#, "json-lone-surrogate"),
        (br#""\udc00""#, "json-lone-surrogate"),
        (br#""\ud800\u0041""#, "json-lone-surrogate"),
        (br#""\ud83d\ude00""#, "ok"),
        (br#""\x41""#, "json-bad-escape"),
        (br#""\u12g4""#, "json-bad-escape"),
        (br#""\u12""#, "json-bad-escape"),
        (b"\"a\tb\"", "json-control-char"),
        (b"\"a\nb\"", "json-control-char"),
        (br#""a\tb\n\u0000""#, "ok"),
        (b"// c\n{}", "json-syntax"),
    ];
    for (input, want) in cases {
        assert_eq!(code(input), *want, "{}", input.escape_ascii());
    }
}

#[test]
fn enforces_each_limit_next_to_the_largest_legal_input() {
    let l = JsonLimits {
        max_depth: 4,
        max_keys: 3,
        max_array_len: 3,
        max_string_bytes: 5,
        max_number_bytes: 4,
    };
    let cases: &[(&[u8], &str)] = &[
        (b"[[[[1]]]]", "ok"),
        (b"[[[[[1]]]]]", "json-too-deep"),
        (br#"{"a":{"b":{"c":[]}}}"#, "ok"),
        (br#"{"a":{"b":{"c":{"d":1}}}}"#, "json-too-many-keys"),
        (br#"{"a":{"b":{"c":{}}}}"#, "ok"),
        (br#"[{"a":{"b":{"c":{}}}}]"#, "json-too-deep"),
        (b"[1,2,3]", "ok"),
        (b"[1,2,3,4]", "json-array-too-long"),
        (br#"["12345"]"#, "ok"),
        (br#"["123456"]"#, "json-string-too-long"),
        (br#"{"123456":1}"#, "json-string-too-long"),
        (b"[1234]", "ok"),
        (b"[12345]", "json-number-too-long"),
        (b"[-1.5]", "ok"),
    ];
    for (input, want) in cases {
        let got = match parse(input, &l, false) {
            Ok(_) => "ok",
            Err(e) => {
                if e.code() != "json-syntax" {
                    assert_eq!(e.status(), 413, "{}", input.escape_ascii());
                }
                e.code()
            }
        };
        assert_eq!(got, *want, "{}", input.escape_ascii());
    }
}

#[test]
fn emits_leaves_with_pointers_and_borrows_unescaped_values() {
    let body = br#"{"a/b":[1,"x\"y",true,null],"c~":{"d":"plain"}}"#;
    let p = parse(body, &limits(), true).expect("valid");
    let got: Vec<(String, LeafKind, &str)> = p
        .leaves
        .iter()
        .map(|l: &Leaf<'_>| (p.location(l.path), l.kind, l.value.as_ref()))
        .collect();
    let want = [
        ("/a~1b", LeafKind::Key, "a/b"),
        ("/a~1b/0", LeafKind::Number, "1"),
        ("/a~1b/1", LeafKind::String, "x\"y"),
        ("/a~1b/2", LeafKind::Bool, "true"),
        ("/a~1b/3", LeafKind::Null, "null"),
        ("/c~0", LeafKind::Key, "c~"),
        ("/c~0/d", LeafKind::Key, "d"),
        ("/c~0/d", LeafKind::String, "plain"),
    ];
    let want: Vec<(String, LeafKind, &str)> = want
        .iter()
        .map(|(p, k, v)| (p.to_string(), *k, *v))
        .collect();
    assert_eq!(got, want);
    assert!(matches!(p.leaves[7].value, Cow::Borrowed(_)));
    assert!(matches!(p.leaves[2].value, Cow::Owned(_)));
}

#[test]
fn canonical_output_is_compact_minimal_and_reparses_to_the_same_leaves() {
    let cases: &[(&[u8], &[u8])] = &[
        (
            b" { \"a\" : [ 1 , 2.5e3 ] ,\n\"b\":{} }",
            br#"{"a":[1,2.5e3],"b":{}}"#,
        ),
        (
            br#"["\u0061\/\t\u0000\u001f\ud83d\ude00"]"#,
            "[\"a/\\t\\u0000\\u001f\u{1F600}\"]".as_bytes(),
        ),
        (br#""\"\\""#, br#""\"\\""#),
        (b"[]", b"[]"),
        (b"null", b"null"),
    ];
    for (input, want) in cases {
        let p = parse(input, &limits(), true).expect("valid");
        let canon = p.canonical.clone().expect("asked for");
        assert_eq!(canon.as_ref(), *want, "{}", input.escape_ascii());
        assert!(canon.len() <= input.len());
        let again = parse(&canon, &limits(), true).expect("canonical parses");
        let values = |p: &Parsed<'_>| -> Vec<String> {
            p.leaves.iter().map(|l| l.value.to_string()).collect()
        };
        assert_eq!(values(&again), values(&p));
        assert_eq!(again.canonical.as_deref(), Some(canon.as_ref()));
    }
}

#[test]
fn word_at_a_time_scan_stops_exactly_where_a_byte_scan_would() {
    // Bytes that must stop the scan, next to neighbours that must not.
    // Pairs too: a match borrows into the bytes above it (`!` and `#` next to `"`, `]`
    // next to `\`, a space above a control byte), which must not move the stop.
    let stops = [b'"', b'\\', 0x00, 0x01, 0x09, 0x0a, 0x1f];
    let passes = [b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xa2, 0xdc, 0xff];
    let filler = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let bytes: Vec<u8> = stops.iter().chain(&passes).copied().collect();
    for len in 0..filler.len() {
        for at in 0..=len {
            for &b in &bytes {
                for (next, &c) in bytes.iter().enumerate() {
                    let mut buf = filler[..len].to_vec();
                    buf.insert(at, b);
                    buf.insert((at + 1 + next % 3).min(buf.len()), c);
                    let want = buf
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                        .unwrap_or(buf.len());
                    assert_eq!(string::skip_plain(&buf, 0), want, "{}", buf.escape_ascii());
                }
            }
        }
    }
}

#[test]
fn control_characters_deep_in_long_strings_are_refused() {
    let long = "x".repeat(40);
    for (at, c, want) in [
        (9, '\t', "json-control-char"),
        (17, '\u{1f}', "json-control-char"),
        (39, '\u{0}', "json-control-char"),
        (9, ' ', "ok"),
        (17, '\u{7f}', "ok"),
        (39, 'é', "ok"),
    ] {
        let mut s = long.clone();
        s.insert(at, c);
        let body = format!(r#"{{"k":"{s}","{s}":1}}"#);
        assert_eq!(code(body.as_bytes()), want, "{}", body.escape_default());
    }
}

#[test]
fn canonical_copy_drops_whitespace_between_escaped_and_plain_runs() {
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"\r\n\t {\"a\\u0041\" :\t\"x\\/y\" , \"plain\":[ \"\\n\" ,2 ]}\n",
            b"{\"aA\":\"x/y\",\"plain\":[\"\\n\",2]}",
        ),
        (
            br#"{"long":"0123456789abcdef\u00e9 and \"quoted\" text"}"#,
            "{\"long\":\"0123456789abcdef\u{e9} and \\\"quoted\\\" text\"}".as_bytes(),
        ),
        (
            br#"{"a":[],"b":{},"c":"","d":-0.5e-3}"#,
            br#"{"a":[],"b":{},"c":"","d":-0.5e-3}"#,
        ),
    ];
    for (input, want) in cases {
        let p = parse(input, &limits(), true).expect("valid");
        let canon = p.canonical.clone().expect("asked for");
        assert_eq!(
            canon.escape_ascii().to_string(),
            want.escape_ascii().to_string()
        );
    }
}

#[test]
fn canonical_input_is_shared_and_anything_else_is_rewritten() {
    // (input, already canonical): minimal escapes stay, any other spelling is rewritten.
    let cases: &[(&[u8], bool)] = &[
        (
            br#"{"bio":"a\nb \"q\" \\ \u0000","n":[1,-0.5e3,true,null]}"#,
            true,
        ),
        (br#"{"a":"x\/y"}"#, false),
        (br#"{"a":"\u0041"}"#, false),
        (br#"{"a":"\u001F"}"#, false),
        (br#"{"a" :1}"#, false),
        (b"{\"a\":1}\n", false),
        (b"\t[]", false),
    ];
    for &(input, same) in cases {
        let body = Bytes::copy_from_slice(input);
        let opts = crate::Options {
            canonical: true,
            ..Default::default()
        };
        let p = crate::parse(
            Some("application/json"),
            &body,
            &crate::Limits::default(),
            opts,
        )
        .expect("valid");
        let canon = p.canonical.clone().expect("asked for");
        let copy = parse(input, &limits(), true).expect("valid").canonical;
        assert_eq!(Some(&canon), copy.as_ref(), "{}", input.escape_ascii());
        assert_eq!(canon == body, same, "{}", input.escape_ascii());
        // Canonical input is forwarded without a copy.
        assert_eq!(
            canon.as_ptr() == body.as_ptr(),
            same,
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn reports_the_pointer_of_the_offending_member() {
    let e = parse(br#"{"x":[{"k":1,"k":2}]}"#, &limits(), false).expect_err("dup");
    assert_eq!(e.path(), Some("/x/0/k"));
    assert_eq!(e.status(), 422);
    let e = parse(br#"{"x":[1,2,x]}"#, &limits(), false).expect_err("syntax");
    assert_eq!(e.path(), Some("/x/2"));
    assert_eq!(e.offset(), Some(10));
}

#[test]
fn finds_duplicates_in_large_objects_and_after_nested_objects() {
    let mut body = String::from("{");
    for i in 0..100 {
        body.push_str(&format!("\"k{i}\":{{\"k{i}\":1,\"z\":[]}},"));
    }
    body.push_str("\"k50\":0}");
    let e = parse(body.as_bytes(), &limits(), false).expect_err("dup");
    assert_eq!((e.code(), e.path()), ("json-duplicate-key", Some("/k50")));
    let ok = body.replace("\"k50\":0}", "\"k100\":0}");
    parse(ok.as_bytes(), &limits(), false).expect("distinct keys");
}

#[test]
fn notes_nul_characters() {
    let p = parse(br#"{"a":"x\u0000.php"}"#, &limits(), false).expect("legal");
    assert_eq!(p.notes.len(), 1);
    assert_eq!(p.notes[0].code, "json-nul-char");
}

#[test]
fn legitimately_nested_twenty_levels_parse() {
    let body = format!("{}1{}", "{\"a\":[".repeat(10), "]}".repeat(10));
    let p = parse(body.as_bytes(), &limits(), false).expect("20 levels");
    let last = p.leaves.last().expect("leaf");
    assert_eq!(p.location(last.path), "/a/0".repeat(10));
}

#[test]
fn locations_render_every_array_index_and_reuse_the_shared_prefix() {
    let items: Vec<String> = (0..12).map(|i| format!(r#"{{"k":{i}}}"#)).collect();
    let body = format!(r#"{{"a/b":[{}],"z":1}}"#, items.join(","));
    let p = parse(body.as_bytes(), &limits(), false).expect("legal");
    let mut cache = crate::Locations::default();
    let rendered: Vec<String> = p
        .leaves
        .iter()
        .filter(|l| l.kind == LeafKind::Number)
        .map(|l| p.location_into(l.path, &mut cache).to_owned())
        .collect();
    let mut expected: Vec<String> = (0..12).map(|i| format!("/a~1b/{i}/k")).collect();
    expected.push("/z".to_owned());
    assert_eq!(rendered, expected);
    // The incremental renderer and the one-shot one agree.
    for l in &p.leaves {
        assert_eq!(p.location_into(l.path, &mut cache), p.location(l.path));
    }
}
