//! Decoders and the budget.

use super::text::{compat_folded, glued_tags_removed, html_entities, js_escapes, percent};
use super::{
    Budget, BudgetLimits, Exhaustion, b64, data_uri_payload, has_data_uri_mark, jwt_header,
    variants,
};
use crate::field::FieldKind;

#[test]
fn decodes_each_layer_kind() {
    let cases: &[(Option<String>, &str)] = &[
        (percent("%27%20or", false), "' or"),
        (percent("a+b", true), "a b"),
        (percent("a+b%2B", false), "a+b+"),
        (percent("%u003cscript", false), "<script"),
        (percent("%c0%ae%c0%ae/", false), "../"),
        (
            percent("1%20%A%N%D%20%S%L%E%E%P(5)", false),
            "1 AND SLEEP(5)",
        ),
        (percent("%S%E%L%E%C%T%20%u0031", false), "SELECT 1"),
        (html_entities("&lt;script&gt;"), "<script>"),
        (html_entities("&#60;&#x3C;&#0000060"), "<<<"),
        (html_entities("&ltscript"), "<script"),
        (html_entities("java&Tab;script&colon;"), "java\tscript:"),
        (js_escapes("\\u003cscript\\x3e"), "<script>"),
        (js_escapes("\\u{3c}\\'"), "<'"),
    ];
    for (got, want) in cases {
        assert_eq!(got.as_deref(), Some(*want));
    }
    assert_eq!(percent("100% sure", false), None);
    // Two strays before letters are typos or a format string, not ASP encoding.
    assert_eq!(percent("%s of %d", false), None);
    assert_eq!(percent("50%off %Sale", false), None);
    assert_eq!(html_entities("Tom & Jerry"), None);
    assert_eq!(js_escapes("C:\\path"), None);
}

#[test]
fn base64_only_when_plausible() {
    assert_eq!(
        b64::decode("JyBvciAnMSc9JzE=").as_deref(),
        Some("' or '1'='1")
    );
    assert_eq!(
        b64::decode("PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg").as_deref(),
        Some("<script>alert(1)</script>")
    );
    // Short payloads, paths spanning segments, and `+` turned into spaces by form decoding.
    assert_eq!(b64::decode("OyBpZA==").as_deref(), Some("; id"));
    // Vertical tab and form feed are SQL whitespace.
    assert_eq!(
        b64::decode("MScLT1ILMT0xLS0=").as_deref(),
        Some("1'\x0bOR\x0b1=1--")
    );
    assert_eq!(
        super::base64_view("/Li4vLi4vZXRjL3Bhc3N3ZA==", FieldKind::Path).as_deref(),
        Some("../../etc/passwd")
    );
    assert_eq!(
        super::base64_view("PHN2Zy9vbmxvYWQ9YWxlcnQoMSk Pg==", FieldKind::BodyValue).as_deref(),
        Some("<svg/onload=alert(1)>>")
    );
    for prose in [
        "Hello world this is fine",
        "api/v2/users",
        "/api/v2/users/42",
    ] {
        assert_eq!(
            super::base64_view(prose, FieldKind::BodyValue),
            None,
            "{prose}"
        );
        assert_eq!(super::base64_view(prose, FieldKind::Path), None, "{prose}");
    }
    for not_b64 in [
        "Supercalifragilistic",
        "deadbeefcafebabe",
        "12345678901234",
        "hello world",
        "abc",
    ] {
        assert_eq!(b64::decode(not_b64), None, "{not_b64}");
    }
}

#[test]
fn layers_stack_and_nested_json_is_walked() {
    let mut budget = Budget::default();
    let v = variants(b"%2527%2520or", FieldKind::QueryValue, &mut budget);
    assert!(v.iter().any(|v| v.text == "' or"), "{v:?}");
    let v = variants(
        br#"{"a":{"$ne":"x"},"b":["<svg onload=1>"]}"#,
        FieldKind::BodyValue,
        &mut budget,
    );
    assert!(
        v.iter()
            .any(|v| v.text == "$ne" && v.kind == FieldKind::BodyKey)
    );
    assert!(v.iter().any(|v| v.text == "<svg onload=1>"));
    assert_eq!(budget.exhausted(), None);
}

#[test]
fn a_json_document_is_decoded_leaf_by_leaf_not_as_one_text() {
    let mut budget = Budget::default();
    let doc = br#"{"query":"query {\n  id\n}","x":"\u003csvg onload=1\u003e","y":"%3Cb%3E"}"#;
    let v = variants(doc, FieldKind::QueryValue, &mut budget);
    // Unescaped whole, the document would hold a line `id` no leaf holds.
    assert!(
        !v.iter()
            .any(|v| v.text.starts_with("{\"query\":\"query {\n")),
        "{v:?}"
    );
    assert!(v.iter().any(|v| v.text == "query {\n  id\n}"), "{v:?}");
    assert!(v.iter().any(|v| v.text == "<svg onload=1>"), "{v:?}");
    assert!(v.iter().any(|v| v.text == "<b>"), "{v:?}");
    // Percent-encoded, it is decoded once to reach the document.
    let v = variants(
        b"%7B%22x%22%3A%22%5Cu003csvg%22%7D",
        FieldKind::QueryValue,
        &mut budget,
    );
    assert!(v.iter().any(|v| v.text == "<svg"), "{v:?}");
    assert_eq!(budget.exhausted(), None);
}

#[test]
fn form_inside_a_value_needs_plain_names_once_decoded() {
    let mut budget = Budget::default();
    // `a%5B0%5D=<svg onload=1>` is form data: its value is a leaf of its own.
    let v = variants(b"a%5B0%5D=%3Csvg", FieldKind::QueryValue, &mut budget);
    assert!(
        v.iter()
            .any(|v| v.text == "a[0]" && v.kind == FieldKind::BodyKey),
        "{v:?}"
    );
    // `x >= 100 and y <= 5`: the `=` belongs to `>=`, there is no value after it.
    let v = variants(
        b"x%20%3E=%20100%20and%20y%20%3C=%205",
        FieldKind::QueryValue,
        &mut budget,
    );
    assert!(!v.iter().any(|v| v.kind == FieldKind::BodyKey), "{v:?}");
}

#[test]
fn deep_encoding_is_reported_not_followed() {
    let mut s = String::from("<script>");
    for _ in 0..8 {
        s = s
            .replace('%', "%25")
            .replace('<', "%3C")
            .replace('>', "%3E");
    }
    let mut budget = Budget::default();
    let v = variants(s.as_bytes(), FieldKind::QueryValue, &mut budget);
    assert!(v.len() <= 1 + usize::from(BudgetLimits::default().max_layers));
    assert_eq!(budget.exhausted(), Some(Exhaustion::Layers));
}

#[test]
fn a_decoding_bomb_stays_within_budget() {
    // Nested base64 of JSON of base64... plus a large percent-encoded body.
    let mut payload = String::from("' or 1=1--");
    for _ in 0..6 {
        let json = serde_json::json!({ "k": payload, "k2": payload }).to_string();
        payload = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, json);
    }
    let big = "%41".repeat(400_000);
    let limits = BudgetLimits {
        max_decoded_bytes: 256 * 1024,
        ..BudgetLimits::default()
    };
    let mut budget = Budget::new(limits);
    let _ = variants(payload.as_bytes(), FieldKind::BodyValue, &mut budget);
    let _ = variants(big.as_bytes(), FieldKind::BodyValue, &mut budget);
    assert!(budget.decoded_bytes() <= limits.max_decoded_bytes);
    assert!(budget.exhausted().is_some());
}

#[test]
fn a_layer_keeps_the_server_view_when_js_escapes_change_it_further() {
    let texts = |raw: &str| -> Vec<String> {
        variants(
            raw.as_bytes(),
            FieldKind::QueryValue,
            &mut Budget::default(),
        )
        .into_iter()
        .map(|v| v.text.into_owned())
        .collect()
    };
    let v = texts("C:%5CUsers%5Cntuser.dat");
    assert!(v.iter().any(|t| t == "C:\\Users\\ntuser.dat"), "{v:?}");
    assert!(v.iter().any(|t| t == "C:\\Users\ntuser.dat"), "{v:?}");
    // Nothing extra when JS escapes are the only layer, or absent.
    assert_eq!(texts("\\u003cb"), ["\\u003cb", "<b"]);
    assert_eq!(texts("%3Cb"), ["%3Cb", "<b"]);
}

#[test]
fn glued_short_tags_are_removed_only_inside_words() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            "\"autof<x>ocus o<x>nfocus=alert<x>(1)//",
            Some("\"autofocus onfocus=alert(1)//"),
        ),
        ("un<>ion sel<>ect", Some("union select")),
        ("alert</b>(1)", Some("alert(1)")),
        ("<b>bold</b> text", None),
        ("a <br> b", None),
        ("x<y>z", Some("xz")),
        ("a<b and c>d", None),
        ("Vec<u8> and Vec<String>", None),
        ("if a<b>", None),
        ("ends with tag<x>", None),
        // A run of glued tags goes in one pass (one decoding layer).
        (
            "Shipping rates</th></tr><tr><td>Domestic</td><td>$4.99",
            Some("Shipping ratesDomestic$4.99"),
        ),
        ("sel<x></x><y>ect", Some("select")),
        ("a</b></i> next", Some("a</i> next")),
    ];
    for (input, want) in cases {
        assert_eq!(glued_tags_removed(input).as_deref(), *want, "{input}");
    }
}

#[test]
fn table_markup_stays_within_the_layer_limit() {
    let cell = "<table border=\"1\"><tr><th colspan=\"2\">Shipping rates</th></tr>\
                <tr><td>Domestic</td><td>$4.99</td></tr></table>";
    for raw in [cell.to_owned(), cell.replace(' ', "%20")] {
        let mut budget = Budget::default();
        variants(raw.as_bytes(), FieldKind::QueryValue, &mut budget);
        assert_eq!(budget.exhausted(), None, "{raw}");
    }
}

#[test]
fn fullwidth_and_small_forms_fold_to_ascii() {
    for (text, folded) in [
        ("＇ ｏｒ １＝１－－", "' or 1=1--"),
        ("﹤script﹥alert﹙1﹚", "<script>alert(1)"),
        ("；ｗｇｅｔ\u{3000}ｈｔｔｐ：／／x", ";wget http://x"),
        (
            "<ſcript> 𝐔𝐍𝐈𝐎𝐍 𝐒𝐄𝐋𝐄𝐂𝐓 //ⓐⓣⓣⓐⓒⓚⓔⓡ.ⓔⓧ ①②⑦.⓪",
            "<script> UNION SELECT //attacker.ex 127.0",
        ),
    ] {
        assert_eq!(compat_folded(text).as_deref(), Some(folded), "{text}");
    }
    // Other text with a 0xEF lead byte, emoji, typographic quotes and CJK text stay as
    // they are.
    assert_eq!(compat_folded("it’s “quoted” — fine 😀"), None);
    assert_eq!(compat_folded("\u{FEFF}BOM and \u{F8FF}"), None);
    assert_eq!(compat_folded("日本語のテキスト"), None);
}

#[test]
fn a_jwt_shows_its_header_and_only_its_header() {
    use base64::Engine as _;
    let b64u = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let token = |h: &str| {
        format!(
            "{}.{}.sig",
            b64u(h),
            b64u(r#"{"iss":"http://10.0.0.5/realm"}"#)
        )
    };
    let kid = r#"{"alg":"HS256","kid":"x' union select 'k'--"}"#;
    assert_eq!(jwt_header(&token(kid)).as_deref(), Some(kid));
    assert_eq!(
        jwt_header(&format!("Bearer {}", token(kid))).as_deref(),
        Some(kid)
    );
    // Two segments, four segments, a non-JSON header, other dotted values.
    let two = format!("{}.{}", b64u(kid), b64u("{}"));
    let four = format!("{}.x", token(kid));
    for v in [
        two.as_str(),
        four.as_str(),
        "eyJhbGciOi.not base64.x",
        "www.example.com",
        "e.g. this",
    ] {
        assert_eq!(jwt_header(v), None, "{v}");
    }
}

#[test]
fn a_data_uri_shows_its_text_payload() {
    let cases = [
        (
            "data:text/plain;base64,PD9waHAgc3lzdGVtKCdpZCcpOyA/Pg==",
            Some("<?php system('id'); ?>"),
        ),
        (
            "<object data=\"DATA:text/html;BASE64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
            Some("<script>alert(1)</script>"),
        ),
        // The first payload that is text: an image before it is skipped.
        (
            "a,b;base64,iVBORw0KGgoAAAANSUhEUg, data:,x;base64,SGVsbG8gd29ybGQh",
            Some("Hello world!"),
        ),
        (
            "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB",
            None,
        ),
        ("text/plain;charset=utf-8,hello", None),
        ("no marker, SGVsbG8gd29ybGQh", None),
        (";base64,", None),
    ];
    for (value, want) in cases {
        assert_eq!(data_uri_payload(value).as_deref(), want, "{value}");
        // The fast path's check admits every value with a payload.
        if want.is_some() {
            assert!(has_data_uri_mark(value), "{value}");
        }
    }
    assert!(!has_data_uri_mark("text/html,application/xhtml+xml;q=0.9"));
}

/// The marker gates of a decoding layer are exact: gated, it decodes as the steps called
/// one after another do, and the views it skips find nothing without their byte.
#[test]
fn marker_gates_skip_only_what_finds_nothing() {
    use super::{decode_layer, markers};
    let ungated = |input: &str, kind: FieldKind| {
        let plus = kind.plus_is_space() || (kind == FieldKind::HeaderValue && input.contains('%'));
        let a = percent(input, plus);
        let s = a.as_deref().unwrap_or(input);
        let b = html_entities(s);
        let s = b.as_deref().unwrap_or(s);
        match js_escapes(s) {
            Some(c) => (Some(c), b.or(a)),
            None => (b.or(a), None),
        }
    };
    let pieces = [
        "%", "%2", "%25", "%26", "%5C", "%3C", "+", "&", "&amp;", "&lt;", "&#92;", "\\", "\\u0025",
        "\\x26", "<", "<b>", "ｓ", "a", "Z", "7", " ", ";", "=",
    ];
    let mut seed = 0x6a09_e667_f3bc_c908u64;
    for _ in 0..30_000 {
        seed = crate::testing::xorshift(seed);
        let text: String = (0..1 + seed % 7)
            .map(|k| pieces[((seed >> (k * 8)) % pieces.len() as u64) as usize])
            .collect();
        let m = markers(text.as_bytes());
        for kind in FieldKind::ALL {
            assert_eq!(
                decode_layer(&text, kind, m),
                ungated(&text, kind),
                "{text:?}"
            );
        }
        if memchr::memchr(b'<', text.as_bytes()).is_none() {
            assert_eq!(glued_tags_removed(&text), None, "{text:?}");
        }
        if !text
            .bytes()
            .any(|b| matches!(b, 0xEF | 0xE3 | 0xE2 | 0xC5 | 0xF0))
        {
            assert_eq!(compat_folded(&text), None, "{text:?}");
        }
    }
}

#[test]
fn a_json_document_in_a_field_gets_a_variant_budget_per_leaf() {
    // A webhook's `payload=` form field: one JSON document with ~60 leaves.
    let mut doc = String::from("{");
    for i in 0..30 {
        doc.push_str(&format!("\"key{i}\": \"value number {i}\","));
    }
    doc.push_str("\"last\": \"https://hooks.example.com/actions/T1/1/abc%20x\"}");
    let mut budget = Budget::default();
    let out = variants(doc.as_bytes(), FieldKind::BodyValue, &mut budget);
    assert_eq!(budget.exhausted(), None);
    assert!(out.iter().any(|v| v.text == "value number 29"));
    assert!(
        out.iter().any(|v| v.text.ends_with("abc x")),
        "a leaf's own decoding"
    );
    // Past the bound, leaves are left to the whole string; decodings still run out.
    let mut big = String::from("[");
    for i in 0..600 {
        big.push_str(&format!("\"v{i}\","));
    }
    big.push_str("\"end\"]");
    let mut budget = Budget::default();
    let out = variants(big.as_bytes(), FieldKind::BodyValue, &mut budget);
    assert!(out.len() <= 512, "{}", out.len());
}
