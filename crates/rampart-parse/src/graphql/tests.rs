use super::*;

fn doc(src: &str) -> Result<Parsed<'_>, &'static str> {
    parse_document(src.as_bytes(), &GraphqlLimits::default()).map_err(|e| e.code())
}

fn req(body: &str) -> Result<Parsed<'_>, &'static str> {
    parse_json_request(body.as_bytes(), &Limits::default(), true).map_err(|e| e.code())
}

#[test]
fn attacks_fail_with_their_code_next_to_look_alikes_that_pass() {
    let deep = format!("{{{}x{}}}", "a{".repeat(16), "}".repeat(16));
    let legal_deep = format!("{{{}x{}}}", "a{".repeat(14), "}".repeat(14));
    let aliases: String = (0..31).map(|i| format!("a{i}: me ")).collect();
    let directives = "@a ".repeat(51);
    let legal_directives = "@include(if: $x) ".repeat(50);
    let cases: Vec<(String, &str)> = vec![
        ("{ me { name } }".into(), "ok"),
        ("query Q($id: ID! = \"1\", $l: [Int!]!) @live { user(id: $id) { ...F } } fragment F on User { name }".into(), "ok"),
        ("mutation { a(x: {y: [1, 2.5e3, true, null, ENUM, \"s\"]}) }".into(), "ok"),
        ("# comment\n{ a, b, c }".into(), "ok"),
        (legal_deep, "ok"),
        (deep, "graphql-too-deep"),
        (format!("{{ {aliases} }}"), "graphql-too-many-aliases"),
        (format!("query {{ __typename {directives}}}"), "graphql-too-many-directives"),
        (format!("query($x: Boolean) {{ a {legal_directives}}}"), "ok"),
        ("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }".into(), "graphql-fragment-cycle"),
        ("{ ...A } fragment A on Q { ...A }".into(), "graphql-fragment-cycle"),
        ("{ ...Missing }".into(), "graphql-unknown-fragment"),
        ("{ a } fragment A on Q { b } fragment A on Q { c }".into(), "graphql-duplicate-fragment"),
        ("type Query { a: Int }".into(), "graphql-not-executable"),
        ("schema { query: Q }".into(), "graphql-not-executable"),
        ("fragment A on Q { a }".into(), "graphql-missing-query"),
        ("".into(), "graphql-missing-query"),
        ("{ a ".into(), "graphql-syntax"),
        ("{ }".into(), "ok"),
        ("{ a(x: \"unterminated) }".into(), "graphql-syntax"),
        ("{ a(x: \"\\ud800\") }".into(), "graphql-syntax"),
        ("{ a(x: 01) }".into(), "graphql-syntax"),
        ("{ a(x: 1x) }".into(), "graphql-syntax"),
        ("{ a(x: \"\"\"block \\\"\"\" \"\"\") }".into(), "ok"),
        (format!("{{ a(x: {}1{}) }}", "[".repeat(70), "]".repeat(70)), "graphql-too-nested"),
    ];
    for (src, want) in &cases {
        assert_eq!(doc(src).map(|_| "ok").unwrap_or_else(|c| c), *want, "{src}");
    }
}

#[test]
fn fragment_bombs_are_counted_expanded() {
    // Each fragment spreads the previous one twice: 2^12 fields from ~300 bytes.
    let mut src = String::from("{ ...F12 } fragment F0 on Q { a }");
    for i in 1..=12 {
        src.push_str(&format!(
            " fragment F{i} on Q {{ x{i}: a b: a ...F{} ...F{} }}",
            i - 1,
            i - 1
        ));
    }
    let l = GraphqlLimits {
        max_aliases: 100,
        ..GraphqlLimits::default()
    };
    let e = parse_document(src.as_bytes(), &l).expect_err("bomb");
    assert_eq!((e.code(), e.status()), ("graphql-too-many-fields", 413));
    // Depth through fragments counts too.
    let src = "{ a { ...F } } fragment F on Q { b { c { d } } }";
    let l = GraphqlLimits {
        max_depth: 3,
        ..GraphqlLimits::default()
    };
    assert_eq!(
        parse_document(src.as_bytes(), &l)
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("graphql-too-deep")
    );
}

#[test]
fn emits_string_arguments_and_defaults_with_paths() {
    let p = doc(r#"query($q: String = "dflt") { search(q: "a\nb", f: {name: ["x"]}) @include(if: true) { id } u: user(id: "7") { id } }"#)
        .expect("valid");
    let got: Vec<(String, &str)> = p
        .leaves
        .iter()
        .map(|l| (p.location(l.path), l.value.as_ref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/$q".to_string(), "dflt"),
            ("/search(q)".to_string(), "a\nb"),
            ("/search(f)/name/0".to_string(), "x"),
            ("/u(id)".to_string(), "7"),
        ]
    );
    let stats = p.graphql.expect("stats");
    assert_eq!(
        (stats.operations, stats.depth, stats.fields, stats.aliases),
        (1, 2, 4, 1)
    );
}

#[test]
fn graphql_over_json_checks_the_request_shape() {
    let cases: &[(&str, &str)] = &[
        (r#"{"query":"{ me }"}"#, "ok"),
        (
            r#"{"query":"query Q { me }","operationName":"Q","variables":{"x":1},"extensions":null}"#,
            "ok",
        ),
        (
            r#"{"query":"{ me }","operationName":null,"variables":null}"#,
            "ok",
        ),
        (r#"[{"query":"{ a }"},{"query":"{ b }"}]"#, "ok"),
        (r#"{"query":"{ me }","other":1}"#, "graphql-bad-request"),
        (r#"{"query":5}"#, "graphql-bad-request"),
        (r#"{"variables":{}}"#, "graphql-missing-query"),
        (r#"{}"#, "graphql-missing-query"),
        (r#""{ me }""#, "graphql-bad-request"),
        (r#"[{"query":"{ a }"},1]"#, "graphql-bad-request"),
        (
            r#"[{"query":"{ a }"},[{"query":"{ b }"}]]"#,
            "graphql-bad-request",
        ),
        (r#"[{"query":"{ a }"},{}]"#, "graphql-missing-query"),
        (
            r#"{"query":"{ me }","query":"{ admin }"}"#,
            "json-duplicate-key",
        ),
        (r#"{"query":"type Q { a: Int }"}"#, "graphql-not-executable"),
    ];
    for (body, want) in cases {
        assert_eq!(
            req(body).map(|_| "ok").unwrap_or_else(|c| c),
            *want,
            "{body}"
        );
    }
    let batch: String = format!("[{}]", [r#"{"query":"{ a }"}"#; 11].join(","));
    assert_eq!(req(&batch).map(|_| ()), Err("graphql-batch-too-large"));
}

#[test]
fn graphql_over_json_leaves_cover_variables_and_escaped_queries() {
    let body = r#"{"query":"query($id: ID) {\n user(id: $id, note: \"hi\") { name } }","variables":{"id":"1 OR 1=1"}}"#;
    let p = req(body).expect("valid");
    let find = |v: &str| {
        p.leaves
            .iter()
            .find(|l| l.value == v)
            .map(|l| p.location(l.path))
    };
    assert_eq!(find("1 OR 1=1").as_deref(), Some("/variables/id"));
    assert_eq!(find("hi").as_deref(), Some("/query#/user(note)"));
    assert_eq!(p.graphql.map(|s| s.batch), Some(1));
    assert!(p.canonical.is_some());
}

#[test]
fn url_query_documents_meet_the_body_limits() {
    let url = |q: &str| {
        parse_url_query(q.as_bytes(), &Limits::default())
            .map(|p| p.map(|p| p.leaves.len()))
            .map_err(|e| e.code())
    };
    let deep = format!("query={{{}x{}}}", "a{".repeat(16), "}".repeat(16));
    let aliases: String = (0..31).map(|i| format!("a{i}:me+")).collect();
    let cases: Vec<(String, Result<Option<usize>, &str>)> = vec![
        ("page=2&sort=name".into(), Ok(None)),
        ("".into(), Ok(None)),
        ("query=%7B+me+%7B+name+%7D+%7D".into(), Ok(Some(0))),
        (
            "query={user(id:%227%22){name}}&variables=%7B%7D".into(),
            Ok(Some(1)),
        ),
        (deep, Err("graphql-too-deep")),
        (
            format!("query={{{aliases}}}"),
            Err("graphql-too-many-aliases"),
        ),
        (
            format!("query={{__typename+{}}}", "@a+".repeat(51)),
            Err("graphql-too-many-directives"),
        ),
        ("query={a}&query={b}".into(), Err("graphql-repeated-query")),
        ("query=".into(), Err("graphql-missing-query")),
        ("query=type+Q+{a:Int}".into(), Err("graphql-not-executable")),
    ];
    for (q, want) in &cases {
        assert_eq!(&url(q), want, "{q}");
    }
    // The argument leaf sits below the parameter, where a hit names it.
    let p = parse_url_query(b"query={user(id:%227%27%22){name}}", &Limits::default())
        .expect("valid")
        .expect("a document");
    assert_eq!(p.leaves[0].value, "7'");
    assert_eq!(p.location(p.leaves[0].path), "#/user(id)");
    assert_eq!(p.graphql.map(|s| s.mutations), Some(0));
    let p = parse_url_query(b"query=mutation{drop}", &Limits::default())
        .expect("valid")
        .expect("a document");
    assert_eq!(p.graphql.map(|s| s.mutations), Some(1));
}

#[test]
fn graphql_shaped_json_meets_the_graphql_limits_when_sniffed() {
    let deep = format!(
        r#"{{"query":"{{ {}x{} }}"}}"#,
        "a { ".repeat(20),
        " }".repeat(20)
    );
    let aliases: String = (0..40).map(|i| format!("a{i}: me ")).collect();
    let aliased = format!(r#"{{"query":"{{ {aliases} }}"}}"#);
    let batch = format!("[{}]", [r#"{"query":"{ a }"}"#; 11].join(","));
    let parse = |body: &str, sniff_graphql: bool| {
        let body = bytes::Bytes::copy_from_slice(body.as_bytes());
        let options = crate::Options {
            sniff_graphql,
            ..Default::default()
        };
        crate::parse(Some("application/json"), &body, &Limits::default(), options)
            .map(|p| p.kind)
            .map_err(|e| e.code())
    };
    let cases: &[(&str, Result<BodyKind, &str>)] = &[
        (&deep, Err("graphql-too-deep")),
        (&aliased, Err("graphql-too-many-aliases")),
        (&batch, Err("graphql-batch-too-large")),
        (
            r#"{"query":"{ p { ...A } } fragment A on P { o { ...B } } fragment B on P { o { ...A } }"}"#,
            Err("graphql-fragment-cycle"),
        ),
        (r#"{"query":"{ me { name } }"}"#, Ok(BodyKind::Graphql)),
        // JSON that only has a "query" key stays JSON.
        (
            r#"{"query":"wireless headphones","page":2}"#,
            Ok(BodyKind::Json),
        ),
        (r#"{"query":{"bool":{"must":[]}}}"#, Ok(BodyKind::Json)),
        (r#"{"query":"type Q { a: Int }"}"#, Ok(BodyKind::Json)),
    ];
    for (body, want) in cases {
        assert_eq!(parse(body, true), *want, "{body}");
        assert!(
            parse(body, false).is_ok_and(|k| k == BodyKind::Json),
            "{body}"
        );
    }
}
