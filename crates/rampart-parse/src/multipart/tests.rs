use super::*;

const B: &str = "XyZ";

fn run(body: &str) -> Result<Parsed<'static>, ParseError> {
    let body: &'static Bytes = Box::leak(Box::new(Bytes::from(body.replace('|', "\r\n"))));
    parse(body, B, &Limits::default())
}

fn code(body: &str) -> &'static str {
    run(body).map_or_else(|e| e.code(), |_| "ok")
}

const FIELD: &str = "--XyZ|Content-Disposition: form-data; name=\"a\"||1|";

#[test]
fn attacks_fail_with_their_code_next_to_look_alikes_that_pass() {
    let cases: &[(String, &str)] = &[
        (format!("{FIELD}--XyZ--"), "ok"),
        (format!("{FIELD}--XyZ--|"), "ok"),
        (format!("{FIELD}--XyZ--|epilogue"), "multipart-epilogue"),
        (format!("preamble|{FIELD}--XyZ--"), "multipart-preamble"),
        ("no boundary here".to_string(), "multipart-missing-boundary"),
        (FIELD.to_string(), "multipart-missing-close"),
        (FIELD.trim_end_matches('|').to_string(), "multipart-missing-close"),
        (format!("{FIELD}--XyZ"), "multipart-missing-close"),
        ("--XyZ\nContent-Disposition: form-data; name=\"a\"||1|--XyZ--".into(), "multipart-bare-lf"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"\n|1|--XyZ--".into(), "multipart-bare-lf"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||1\n--XyZ--".into(), "multipart-bare-lf"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||1--XyZ|--XyZ--".into(), "multipart-boundary-in-body"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||1 --XyZ is fine|--XyZ--".into(), "multipart-boundary-in-body"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||1|--XyZ-not|--XyZ--".into(), "multipart-bad-delimiter"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||--XyZ--".into(), "multipart-boundary-in-body"),
        ("--XyZ |Content-Disposition: form-data; name=\"a\"||1|--XyZ--".into(), "multipart-bad-delimiter"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||a\nb\rc|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||XyZ--Xy|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Type: text/plain||1|--XyZ--".into(), "multipart-missing-disposition"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|Content-Disposition: form-data; name=\"b\"||1|--XyZ--".into(), "multipart-duplicate-header"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|content-type: text/plain|Content-Type: text/html||1|--XyZ--".into(), "multipart-duplicate-header"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"| folded||1|--XyZ--".into(), "multipart-bad-header"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|Content-Transfer-Encoding: base64||MQ==|--XyZ--".into(), "multipart-transfer-encoding"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"; name=\"b\"||1|--XyZ--".into(), "multipart-bad-disposition"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\\\"; x=\"\"||1|--XyZ--".into(), "multipart-bad-disposition"),
        ("--XyZ|Content-Disposition: attachment; name=\"a\"||1|--XyZ--".into(), "multipart-bad-disposition"),
        ("--XyZ|Content-Disposition: form-data; filename=\"a.txt\"||1|--XyZ--".into(), "multipart-bad-disposition"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''a.txt||1|--XyZ--".into(), "multipart-bad-disposition"),
        ("--XyZ|Content-Disposition: form-data; name=a; filename=report.v2.pdf||%PDF|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"\u{e9}t\u{e9}.txt\"||1|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"\"|||--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"||1|--XyZ--".into(), "multipart-bad-filename"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"..\"||1|--XyZ--".into(), "multipart-bad-filename"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"a/b.txt\"||1|--XyZ--".into(), "multipart-bad-filename"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"a\u{0}.php\"||1|--XyZ--".into(), "multipart-bad-header"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"a\t.php\"||1|--XyZ--".into(), "multipart-bad-filename"),
        ("--XyZ|Content-Disposition: form-data; name=\"f\"; filename=\"--XyZ.txt\"||1|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"||\u{e9}|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|Content-Type: text/plain; charset=latin1||1|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|Content-Type: text/plain; charset=utf-7||+ADw-|--XyZ--".into(), "media-charset-evasive"),
        ("--XyZ|Content-Disposition: form-data; name=\"_charset_\"||utf-7|--XyZ--".into(), "media-charset-evasive"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|Content-Type: text/html; charset=utf-7||+ADw-script+AD4-|--XyZ--".into(), "media-charset-evasive"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|Content-Type: application/octet-stream; charset=utf-16||x|--XyZ--".into(), "media-charset-evasive"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"; filename=\"a.txt\"|Content-Type: text/plain; charset=utf-16||x|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"a\"|Content-Type: text/html; charset=utf-8||<b>hi</b>|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"_charset_\"||UTF-16LE|--XyZ--".into(), "media-charset-evasive"),
        ("--XyZ|Content-Disposition: form-data; name=\"_charset_\"||utf|--XyZ--".into(), "media-charset"),
        ("--XyZ|Content-Disposition: form-data; name=\"_charset_\"||utf-8; x|--XyZ--".into(), "media-charset"),
        ("--XyZ|Content-Disposition: form-data; name=\"_charset_\"||utf-8|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"_charset_\"||ISO-8859-1|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"charset\"||utf-7 is a charset|--XyZ--".into(), "ok"),
        ("--XyZ|Content-Disposition: form-data; name=\"j\"|Content-Type: application/json||{\"a\":1,\"a\":2}|--XyZ--".into(), "json-duplicate-key"),
        ("--XyZ|Content-Disposition: form-data; name=\"x\"|Content-Type: text/xml||<!DOCTYPE x><x/>|--XyZ--".into(), "xml-doctype"),
    ];
    for (body, want) in cases {
        assert_eq!(code(body), *want, "{}", body.escape_debug());
    }
    let text = Bytes::from_static(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\r\n--XyZ--",
    );
    let e = parse(&text, B, &Limits::default()).expect_err("not UTF-8");
    assert_eq!(e.code(), "multipart-invalid-utf8");
    let file = Bytes::from_static(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"x.bin\"\r\n\r\n\xff\r\n--XyZ--",
    );
    let p = parse(&file, B, &Limits::default()).expect("binary file part");
    assert_eq!(p.files[0].bytes.as_ref(), b"\xff");
}

#[test]
fn rejects_bad_boundaries_and_accepts_legal_ones() {
    for (b, ok) in [
        ("XyZ", true),
        ("----WebKitFormBoundary7MA4YWxkTrZu0gW", true),
        ("a'()+_,-./:=? b", true),
        (&"a".repeat(70), true),
        (&"a".repeat(71), false),
        ("", false),
        ("ends ", false),
        ("semi;colon", false),
        ("quote\"", false),
    ] {
        assert_eq!(check_boundary(b).is_ok(), ok, "{b:?}");
    }
}

#[test]
fn emits_fields_json_parts_and_files() {
    let body = "--XyZ|Content-Disposition: form-data; name=\"title\"||Q3 report|\
--XyZ|Content-Disposition: form-data; name=\"meta\"|Content-Type: application/json||{\"tags\":[\"x\"]}|\
--XyZ|Content-Disposition: form-data; name=\"doc\"; filename=\"report.v2.pdf\"|Content-Type: application/pdf||%PDF-1.7\n\0bin|\
--XyZ|Content-Disposition: form-data; name=\"title\"||again|\
--XyZ--|";
    let p = run(body).expect("valid");
    let got: Vec<(String, LeafKind, &str)> = p
        .leaves
        .iter()
        .map(|l| (p.location(l.path), l.kind, l.value.as_ref()))
        .collect();
    let want = [
        ("part:title", LeafKind::Key, "title"),
        ("part:title", LeafKind::String, "Q3 report"),
        ("part:meta", LeafKind::Key, "meta"),
        ("part:meta/tags", LeafKind::Key, "tags"),
        ("part:meta/tags/0", LeafKind::String, "x"),
        ("part:title[2]", LeafKind::Key, "title"),
        ("part:title[2]", LeafKind::String, "again"),
    ];
    let want: Vec<(String, LeafKind, &str)> = want
        .iter()
        .map(|(p, k, v)| (p.to_string(), *k, *v))
        .collect();
    assert_eq!(got, want);
    assert_eq!(p.files.len(), 1);
    let f = &p.files[0];
    assert_eq!(f.name, "doc");
    assert_eq!(f.filename.as_deref(), Some("report.v2.pdf"));
    assert_eq!(f.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(f.bytes.as_ref(), b"%PDF-1.7\n\0bin");
    assert_eq!(p.notes[0].code, "multipart-repeated-name");
}

#[test]
fn enforces_each_limit_next_to_the_largest_legal_input() {
    let mut limits = Limits::default();
    limits.multipart.max_parts = 2;
    limits.multipart.max_part_bytes = 4;
    limits.multipart.max_header_bytes = 60;
    limits.multipart.max_name_bytes = 3;
    let part = |name: &str, v: &str| {
        format!("--XyZ|Content-Disposition: form-data; name=\"{name}\"||{v}|")
    };
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{}{}--XyZ--", part("a", "1234"), part("b", "")),
            "ok",
        ),
        (
            format!(
                "{}{}{}--XyZ--",
                part("a", "1"),
                part("b", "2"),
                part("c", "3")
            ),
            "multipart-too-many-parts",
        ),
        (
            format!("{}--XyZ--", part("a", "12345")),
            "multipart-part-too-large",
        ),
        (format!("{}--XyZ--", part("abc", "1")), "ok"),
        (
            format!("{}--XyZ--", part("abcd", "1")),
            "multipart-name-too-long",
        ),
        (
            format!(
                "--XyZ|Content-Disposition: form-data; name=\"a\"|X-Pad: {}||1|--XyZ--",
                "p".repeat(6)
            ),
            "ok",
        ),
        (
            format!(
                "--XyZ|Content-Disposition: form-data; name=\"a\"|X-Pad: {}||1|--XyZ--",
                "p".repeat(20)
            ),
            "multipart-header-too-long",
        ),
    ];
    for (body, want) in cases {
        let body = Bytes::from(body.replace('|', "\r\n"));
        let got = parse(&body, B, &limits).map_or_else(|e| e.code(), |_| "ok");
        assert_eq!(got, want, "{}", body.escape_ascii());
    }
}

/// The fields a contract sees: text fields with their text, a JSON part and a file as
/// present without text, and none of the JSON part's own keys.
#[test]
fn top_level_fields_are_parts_not_the_keys_inside_them() {
    let body = "--XyZ|Content-Disposition: form-data; name=\"qty\"||3|\
--XyZ|Content-Disposition: form-data; name=\"meta\"|Content-Type: application/json||{\"qty\":\"x\",\"tags\":[\"a\"]}|\
--XyZ|Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"|Content-Type: text/plain||hello|\
--XyZ--";
    let parsed = run(body).unwrap();
    let fields: Vec<(&str, Option<&str>, String)> = parsed
        .top_level_fields()
        .into_iter()
        .map(|f| (f.name, f.text, f.location))
        .collect();
    assert_eq!(
        fields,
        [
            ("qty", Some("3"), "part:qty".to_owned()),
            ("meta", None, "part:meta".to_owned()),
            ("doc", None, "part:doc".to_owned()),
        ]
    );
}
