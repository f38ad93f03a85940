#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_pass_by_value,
    clippy::type_complexity
)]

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::{Body, Class, Contract, FieldValue, FormField, LoadError, LoadLimits, Request};

fn contract(doc: Value) -> Contract {
    Contract::from_value(&doc, &LoadLimits::default()).unwrap()
}

/// A contract with one `POST /t` taking JSON validated by `schema`, plus components.
fn body_contract(version: &str, schema: Value, components: Value) -> Contract {
    contract(json!({
        "openapi": version,
        "paths": {"/t": {"post": {"requestBody": {"required": true,
            "content": {"application/json": {"schema": schema}}}}}},
        "components": {"schemas": components},
    }))
}

pub(crate) fn post_json(c: &Contract, body: &Value) -> crate::Outcome {
    let bytes = serde_json::to_vec(body).unwrap();
    let headers = HeaderMap::new();
    c.check(&Request {
        method: "POST",
        path: "/t",
        query: None,
        headers: &headers,
        content_type: Some("application/json"),
        body: Body::Json(&bytes),
    })
}

fn get(c: &Contract, path: &str, query: Option<&str>, headers: &HeaderMap) -> crate::Outcome {
    c.check(&Request {
        method: "GET",
        path,
        query,
        headers,
        content_type: None,
        body: Body::Empty,
    })
}

/// (schema, valid value, invalid look-alike, keyword the look-alike fails)
fn keyword_cases() -> Vec<(Value, Value, Value, &'static str)> {
    vec![
        (json!({"type": "integer"}), json!(7), json!(7.5), "type"),
        (json!({"type": "integer"}), json!(7.0), json!("7"), "type"),
        (json!({"type": "number"}), json!(7.5), json!("7.5"), "type"),
        (json!({"type": "string"}), json!("x"), json!(null), "type"),
        (
            json!({"type": "boolean"}),
            json!(false),
            json!("false"),
            "type",
        ),
        (json!({"type": "array"}), json!([]), json!({}), "type"),
        (json!({"type": "object"}), json!({}), json!([]), "type"),
        (
            json!({"type": ["string", "null"]}),
            json!(null),
            json!(1),
            "type",
        ),
        (
            json!({"enum": ["open", "closed"]}),
            json!("open"),
            json!("opened"),
            "enum",
        ),
        (json!({"enum": [1, 2]}), json!(2.0), json!(3), "enum"),
        (json!({"const": "v1"}), json!("v1"), json!("v2"), "const"),
        (
            json!({"minLength": 2}),
            json!("ab"),
            json!("a"),
            "minLength",
        ),
        // Characters, not bytes: "éé" is 4 bytes.
        (
            json!({"maxLength": 2}),
            json!("éé"),
            json!("abc"),
            "maxLength",
        ),
        (
            json!({"pattern": "^[a-z]+$"}),
            json!("abc"),
            json!("abc1"),
            "pattern",
        ),
        // ECMA \d is ASCII only.
        (
            json!({"pattern": "^\\d+$"}),
            json!("123"),
            json!("١٢٣"),
            "pattern",
        ),
        (json!({"minimum": 1}), json!(1), json!(0), "minimum"),
        (json!({"maximum": 100}), json!(100), json!(100.5), "maximum"),
        (
            json!({"exclusiveMinimum": 0}),
            json!(0.1),
            json!(0),
            "exclusiveMinimum",
        ),
        (
            json!({"exclusiveMaximum": 10}),
            json!(9),
            json!(10),
            "exclusiveMaximum",
        ),
        (
            json!({"multipleOf": 0.01}),
            json!(19.99),
            json!(19.995),
            "multipleOf",
        ),
        (json!({"multipleOf": 5}), json!(15), json!(16), "multipleOf"),
        (json!({"minItems": 1}), json!([1]), json!([]), "minItems"),
        (
            json!({"maxItems": 1}),
            json!([1]),
            json!([1, 2]),
            "maxItems",
        ),
        (
            json!({"uniqueItems": true}),
            json!([1, "1", {"a": 1}]),
            json!([{"a": 1, "b": 2}, {"b": 2, "a": 1.0}]),
            "uniqueItems",
        ),
        (
            json!({"items": {"type": "integer"}}),
            json!([1, 2]),
            json!([1, "2"]),
            "type",
        ),
        (
            json!({"prefixItems": [{"type": "string"}, {"type": "integer"}]}),
            json!(["a", 1, null]),
            json!([1, "a"]),
            "type",
        ),
        (
            json!({"contains": {"const": "x"}}),
            json!(["a", "x"]),
            json!(["a", "b"]),
            "contains",
        ),
        (
            json!({"required": ["id"]}),
            json!({"id": 1}),
            json!({"ID": 1}),
            "required",
        ),
        (
            json!({"properties": {"a": {"type": "string"}}, "additionalProperties": false}),
            json!({"a": "x"}),
            json!({"a": "x", "role": "admin"}),
            "additionalProperties",
        ),
        (
            json!({"additionalProperties": {"type": "integer"}}),
            json!({"a": 1}),
            json!({"a": "1"}),
            "type",
        ),
        (
            json!({"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false}),
            json!({"x-a": "1"}),
            json!({"y-a": "1"}),
            "additionalProperties",
        ),
        (
            json!({"patternProperties": {"^x-": {"type": "string"}}}),
            json!({"x-a": "1"}),
            json!({"x-a": 1}),
            "type",
        ),
        (
            json!({"propertyNames": {"maxLength": 3}}),
            json!({"abc": 1}),
            json!({"abcd": 1}),
            "propertyNames",
        ),
        (
            json!({"minProperties": 1}),
            json!({"a": 1}),
            json!({}),
            "minProperties",
        ),
        (
            json!({"maxProperties": 1}),
            json!({"a": 1}),
            json!({"a": 1, "b": 2}),
            "maxProperties",
        ),
        (
            json!({"dependentRequired": {"card": ["cvv"]}}),
            json!({"card": 1, "cvv": 2}),
            json!({"card": 1}),
            "dependentRequired",
        ),
        (
            json!({"allOf": [{"type": "integer"}, {"minimum": 5}]}),
            json!(5),
            json!(4),
            "minimum",
        ),
        (
            json!({"anyOf": [{"type": "integer"}, {"format": "uuid", "type": "string"}]}),
            json!("4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f"),
            json!("4f1c2a9e"),
            "anyOf",
        ),
        (
            json!({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]}),
            json!(5),
            json!(12),
            "oneOf",
        ),
        (
            json!({"not": {"type": "string"}}),
            json!(1),
            json!("1"),
            "not",
        ),
        (
            json!({"if": {"properties": {"kind": {"const": "card"}}}, "then": {"required": ["pan"]}}),
            json!({"kind": "cash"}),
            json!({"kind": "card"}),
            "required",
        ),
        (
            json!({"properties": {"id": {"type": "integer", "readOnly": true}}, "required": ["id"]}),
            json!({}),
            json!({"id": 1}),
            "readOnly",
        ),
        (
            json!({"format": "date-time"}),
            json!("2026-02-28T23:59:60.5+01:00"),
            json!("2026-02-29T10:00:00Z"),
            "format",
        ),
        (
            json!({"format": "date"}),
            json!("2024-02-29"),
            json!("2024-13-01"),
            "format",
        ),
        (
            json!({"format": "time"}),
            json!("10:00:00Z"),
            json!("24:00:00Z"),
            "format",
        ),
        (
            json!({"format": "email"}),
            json!("o.reilly+x@example.com"),
            json!("a@b@example.com"),
            "format",
        ),
        (
            json!({"format": "uuid"}),
            json!("4F1C2A9E-8A1B-4C2D-9E3F-0A1B2C3D4E5F"),
            json!("4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5g"),
            "format",
        ),
        (
            json!({"format": "ipv4"}),
            json!("192.168.0.1"),
            json!("192.168.0.01"),
            "format",
        ),
        (
            json!({"format": "ipv6"}),
            json!("2001:db8::1"),
            json!("2001:db8::1::"),
            "format",
        ),
        (
            json!({"format": "uri"}),
            json!("https://example.com/a?b=c"),
            json!("https://example.com/a b"),
            "format",
        ),
        (
            json!({"format": "int32"}),
            json!(2147483647),
            json!(2147483648_i64),
            "format",
        ),
        (
            json!({"format": "int64"}),
            json!(-9223372036854775807_i64),
            json!(18446744073709551615_u64),
            "format",
        ),
        (
            json!({"format": "x-unknown"}),
            json!("anything"),
            json!(1),
            "",
        ),
        (json!(false), json!(null), json!(null), ""),
    ]
}

/// Found by the `check` fuzz target: a date-time whose seconds end inside a two-byte
/// character panicked on a `str` slice at a fixed offset. Every such value is refused.
#[test]
fn fuzz_regressions_date_and_time_formats_refuse_multibyte_characters_at_fixed_offsets() {
    let ascii = ["2024-05-01T10:00:00Z", "2024-05-01", "10:00:00+01:00"];
    for (format, good) in ["date-time", "date", "time"].into_iter().zip(ascii) {
        let c = body_contract(
            "3.1.0",
            json!({"properties": {"v": {"type": "string", "format": format}}}),
            json!({}),
        );
        assert!(post_json(&c, &json!({"v": good})).conforms(), "{format}");
        // Each position of the value in turn holds a two-byte and a three-byte character.
        for i in 0..good.len() {
            for ch in ["\u{1e5}", "\u{20ac}"] {
                let mut v = good[..i].to_owned();
                v.push_str(ch);
                v.push_str(&good[i + 1..]);
                let out = post_json(&c, &json!({"v": v}));
                assert_eq!(
                    out.first().map(|e| e.keyword),
                    Some("format"),
                    "{format} {v:?}"
                );
            }
        }
    }
}

#[test]
fn each_schema_keyword_accepts_the_value_and_refuses_its_look_alike() {
    for (schema, good, bad, keyword) in keyword_cases() {
        let c = body_contract("3.1.0", json!({"properties": {"v": schema}}), json!({}));
        let ok = post_json(&c, &json!({"v": good}));
        if schema == json!(false) {
            assert_eq!(ok.first().unwrap().keyword, "false", "{schema}");
            continue;
        }
        assert!(
            ok.conforms(),
            "{schema} should accept {good}: {:?}",
            ok.violations
        );
        let refused = post_json(&c, &json!({"v": bad}));
        if keyword.is_empty() {
            assert!(refused.conforms(), "{schema} should accept {bad}");
            continue;
        }
        let first = refused
            .first()
            .unwrap_or_else(|| panic!("{schema} should refuse {bad}"));
        assert_eq!(
            first.keyword, keyword,
            "{schema} on {bad}: {:?}",
            refused.violations
        );
        assert_eq!(first.class, Class::Body);
        assert!(first.location.starts_with("json:/v"), "{first:?}");
        // Never the value itself.
        assert!(!format!("{:?}", refused.violations).contains("admin"));
    }
}

#[test]
fn openapi_3_0_dialect_nullable_and_boolean_exclusive_bounds() {
    let schema = json!({"properties": {
        "n": {"type": "string", "nullable": true},
        "e": {"type": "string", "enum": ["a"], "nullable": true},
        "x": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": false},
    }});
    let c = body_contract("3.0.3", schema, json!({}));
    let cases = [
        (json!({"n": null, "e": null, "x": 0.5}), None),
        (json!({"x": 1}), None),
        (json!({"x": 0}), Some("exclusiveMinimum")),
        (json!({"n": 1}), Some("type")),
        (json!({"e": "b"}), Some("enum")),
    ];
    for (body, keyword) in cases {
        let out = post_json(&c, &body);
        assert_eq!(out.first().map(|v| v.keyword), keyword, "{body}");
    }
}

#[test]
fn refs_resolve_recursive_schemas_and_refuse_cycles_and_external_targets() {
    // A tree: recursion through `properties` consumes the value, so it is finite.
    let c = body_contract(
        "3.1.0",
        json!({"$ref": "#/components/schemas/Node"}),
        json!({"Node": {"type": "object", "additionalProperties": false,
            "properties": {"name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}),
    );
    let deep = json!({"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]});
    assert!(post_json(&c, &deep).conforms());
    let bad = json!({"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]});
    assert_eq!(
        post_json(&c, &bad).first().unwrap().location,
        "json:/children/0/children/0/name"
    );

    let load = |schemas: Value| {
        Contract::from_value(
            &json!({"openapi": "3.1.0",
                "paths": {"/t": {"post": {"requestBody": {"content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
                "components": {"schemas": schemas}}),
            &LoadLimits::default(),
        )
    };
    let refused = [
        (
            json!({"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}),
            "cycle",
        ),
        (json!({"A": {"$ref": "#/components/schemas/A"}}), "cycle"),
        (
            json!({"A": {"allOf": [{"$ref": "#/components/schemas/B"}]}, "B": {"anyOf": [{"$ref": "#/components/schemas/A"}]}}),
            "cycle",
        ),
        (json!({"A": {"$ref": "other.yaml#/Order"}}), "external"),
        (
            json!({"A": {"$ref": "https://example.com/s.json"}}),
            "external",
        ),
        (
            json!({"A": {"$ref": "#/components/schemas/Missing"}}),
            "dangling",
        ),
        (
            json!({"A": {"unevaluatedProperties": false}}),
            "unsupported",
        ),
        (json!({"A": {"pattern": "^(?=a)"}}), "pattern"),
        (json!({"A": {"pattern": "(a)\\1"}}), "pattern"),
    ];
    for (schemas, kind) in refused {
        let err = load(schemas.clone()).expect_err(&schemas.to_string());
        let matches = match kind {
            "cycle" => matches!(err, LoadError::RefCycle { .. }),
            "external" => matches!(err, LoadError::ExternalRef { .. }),
            "dangling" => matches!(err, LoadError::DanglingRef { .. }),
            "unsupported" => matches!(err, LoadError::Unsupported { .. }),
            _ => matches!(err, LoadError::Pattern { .. }),
        };
        assert!(matches, "{schemas}: {err}");
    }
    // A non-schema reference cycle (parameters) is refused too.
    let err = Contract::from_value(
        &json!({"openapi": "3.0.0", "paths": {"/t": {"get": {"parameters": [
            {"$ref": "#/components/parameters/P"}]}}},
            "components": {"parameters": {"P": {"$ref": "#/components/parameters/Q"},
                "Q": {"$ref": "#/components/parameters/P"}}}}),
        &LoadLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::RefCycle { .. }), "{err}");
}

#[test]
fn documents_are_loaded_from_yaml_or_json_and_others_are_refused() {
    let yaml = b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        200: {description: ok}\n";
    assert_eq!(
        Contract::from_bytes(yaml, &LoadLimits::default())
            .unwrap()
            .operations(),
        1
    );
    let refused: [&[u8]; 5] = [
        b"swagger: '2.0'\npaths: {}\n",
        b"openapi: 4.0.0\n",
        b"{\"openapi\": \"3.1.0\", \"paths\": {\"/a\": {\"get\": {}}},}",
        b"openapi: 3.1.0\npaths: {}\npaths: {}\n",
        b"openapi: 3.1.0\npaths: {}\nx-a: &a [x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n",
    ];
    for doc in refused {
        assert!(
            Contract::from_bytes(doc, &LoadLimits::default()).is_err(),
            "{}",
            String::from_utf8_lossy(doc)
        );
    }
    let small = LoadLimits {
        max_spec_bytes: 10,
        ..LoadLimits::default()
    };
    assert!(matches!(
        Contract::from_bytes(yaml, &small),
        Err(LoadError::TooLarge { .. })
    ));
}

fn paths_contract() -> Contract {
    let op = |id: &str| json!({"get": {"operationId": id}});
    contract(json!({
        "openapi": "3.1.0",
        "servers": [{"url": "https://api.example.com/{v}", "variables": {"v": {"default": "v1"}}}],
        "paths": {
            "/orders/{id}": op("byId"),
            "/orders/mine": op("mine"),
            "/orders/{id}/items/{item}": op("item"),
            "/files/{name}.json": op("file"),
            "/orders": {"post": {}, "get": {}},
        },
    }))
}

#[test]
fn literal_segments_win_over_templates_and_undocumented_requests_are_classified() {
    let c = paths_contract();
    let h = HeaderMap::new();
    let cases = [
        ("/v1/orders/mine", Some("GET /orders/mine"), None),
        ("/v1/orders/42", Some("GET /orders/{id}"), None),
        ("/v1/orders/m%69ne", Some("GET /orders/mine"), None),
        (
            "/v1/orders/42/items/7",
            Some("GET /orders/{id}/items/{item}"),
            None,
        ),
        (
            "/v1/files/report.json",
            Some("GET /files/{name}.json"),
            None,
        ),
        ("/v1/files/.json", None, Some(Class::UndocumentedPath)),
        ("/v1/orders/42/items", None, Some(Class::UndocumentedPath)),
        ("/orders/42", None, Some(Class::UndocumentedPath)),
        ("/v1/admin", None, Some(Class::UndocumentedPath)),
        ("/v1/orders/", None, Some(Class::UndocumentedPath)),
        ("/v10/orders/42", None, Some(Class::UndocumentedPath)),
    ];
    for (path, op, class) in cases {
        let out = get(&c, path, None, &h);
        assert_eq!(out.operation.as_deref(), op, "{path}");
        assert_eq!(out.first().map(|v| v.class), class, "{path}");
    }
    let out = c.check(&Request {
        method: "DELETE",
        path: "/v1/orders",
        query: None,
        headers: &h,
        content_type: None,
        body: Body::Empty,
    });
    assert_eq!(out.first().unwrap().class, Class::UndocumentedMethod);
    assert_eq!(out.allow.as_deref(), Some("GET, POST"));
}

fn params_contract() -> Contract {
    contract(json!({
        "openapi": "3.0.3",
        "paths": {"/s/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "get": {"parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                {"name": "q", "in": "query", "schema": {"type": "string"}},
                {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}},
                {"name": "ids", "in": "query", "explode": false, "schema": {"type": "array", "items": {"type": "integer"}}},
                {"name": "pipe", "in": "query", "style": "pipeDelimited", "schema": {"type": "array", "items": {"type": "integer"}}},
                {"name": "filter", "in": "query", "style": "deepObject", "schema": {"type": "object", "additionalProperties": false, "properties": {"min": {"type": "integer"}}}},
                {"name": "X-Version", "in": "header", "required": true, "schema": {"type": "string", "enum": ["1", "2"]}},
                {"name": "sid", "in": "cookie", "schema": {"type": "string", "format": "uuid"}},
                {"name": "flag", "in": "query", "schema": {"type": "boolean"}},
                {"name": "json", "in": "query", "content": {"application/json": {"schema": {"type": "object", "required": ["k"]}}}},
            ]},
        }},
    }))
}

#[test]
fn parameters_are_decoded_by_style_typed_and_validated() {
    let c = params_contract();
    let mut h = HeaderMap::new();
    h.insert("x-version", HeaderValue::from_static("2"));
    h.insert(
        "cookie",
        HeaderValue::from_static("sid=4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f; other=x"),
    );
    let cases: [(&str, Option<&str>, Option<(&str, &str)>); 18] = [
        ("/s/7", None, None),
        ("/s/7", Some("limit=10&q=it%27s+fine&flag=true"), None),
        ("/s/7", Some("tags=a&tags=b"), None),
        (
            "/s/7",
            Some("tags=a&tags=c"),
            Some(("enum", "query:tags/1")),
        ),
        ("/s/7", Some("ids=1,2,3"), None),
        ("/s/7", Some("ids=1,x"), Some(("type", "query:ids/1"))),
        ("/s/7", Some("pipe=1|2"), None),
        ("/s/7", Some("filter%5Bmin%5D=3"), None),
        (
            "/s/7",
            Some("filter[min]=x"),
            Some(("type", "query:filter/min")),
        ),
        (
            "/s/7",
            Some("filter[max]=3"),
            Some(("additionalProperties", "query:filter/max")),
        ),
        ("/s/x", None, Some(("type", "path:id"))),
        ("/s/7", Some("limit=0"), Some(("minimum", "query:limit"))),
        (
            "/s/7",
            Some("limit=1%20OR%201=1"),
            Some(("type", "query:limit")),
        ),
        (
            "/s/7",
            Some("limit=5&limit=6"),
            Some(("repeated", "query:limit")),
        ),
        ("/s/7", Some("limit=%ZZ"), Some(("encoding", "query"))),
        ("/s/7", Some("flag=yes"), Some(("type", "query:flag"))),
        ("/s/7", Some("json=%7B%22k%22%3A1%7D"), None),
        (
            "/s/7",
            Some("json=%7B%7D"),
            Some(("required", "query:json/k")),
        ),
    ];
    for (path, query, expected) in cases {
        let out = get(&c, path, query, &h);
        let got = out.first().map(|v| (v.keyword, v.location.as_str()));
        assert_eq!(got, expected, "{path}?{query:?}: {:?}", out.violations);
        if let Some(v) = out.first() {
            assert_eq!(v.class, Class::Parameter);
        }
    }
    let mut missing = h.clone();
    missing.remove("x-version");
    let out = get(&c, "/s/7", None, &missing);
    assert_eq!(
        out.first().map(|v| (v.keyword, v.location.as_str())),
        Some(("required", "header:x-version"))
    );
    let mut bad_cookie = h.clone();
    bad_cookie.insert("cookie", HeaderValue::from_static("sid=1' or '1'='1"));
    let out = get(&c, "/s/7", None, &bad_cookie);
    assert_eq!(
        out.first().map(|v| (v.keyword, v.location.as_str())),
        Some(("format", "cookie:sid"))
    );
}

#[test]
fn pinned_values_are_those_a_strict_schema_validated() {
    let c = params_contract();
    let mut h = HeaderMap::new();
    h.insert("x-version", HeaderValue::from_static("2"));
    h.insert(
        "cookie",
        HeaderValue::from_static("sid=4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f"),
    );
    let out = get(&c, "/s/7", Some("limit=10&q=free+text&tags=a&tags=b"), &h);
    assert!(out.conforms(), "{:?}", out.violations);
    let p = &out.pinned;
    assert!(p.query("limit") && p.query("tags") && p.header("x-version") && p.cookie("sid"));
    assert!(!p.query("q"), "free text stays inspected");

    let c = body_contract(
        "3.1.0",
        json!({"type": "object", "properties": {
            "id": {"type": "string", "format": "uuid"},
            "qty": {"type": "integer"},
            "sku": {"type": "string", "pattern": "^[A-Z]{2}-\\d{4}$"},
            "loose": {"type": "string", "pattern": "^.+$"},
            "mail": {"type": "string", "format": "email"},
            "note": {"type": "string", "maxLength": 64},
            "kind": {"enum": ["a", "b"]},
            "any": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "anytext": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "one": {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "integer"}]},
            "onetext": {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 9}]},
            "neg": {"not": {"type": "integer"}},
            "rec": {"oneOf": [
                {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}, "t": {"type": "string"}}},
                {"type": "object", "required": ["b"], "properties": {"b": {"type": "integer"}}},
            ]},
        }}),
        json!({}),
    );
    let body = json!({"id": "4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f", "qty": 3, "sku": "AB-1234",
        "loose": "x", "mail": "o'reilly@example.com", "note": "hi", "kind": "a", "any": 1,
        "anytext": "1 or 1=1", "one": "4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f", "onetext": "hi there",
        "neg": "x", "rec": {"a": 1, "t": "free"}, "extra": 1});
    let out = post_json(&c, &body);
    assert!(out.conforms());
    // A branch that decided an anyOf, or the one branch of a oneOf that held, pins what
    // its strict schemas validated; failed branches and `not` pin nothing.
    let value = |pointer| out.pinned.json_value(leaf_index(&body, pointer, false));
    let key = |pointer| out.pinned.json_key(leaf_index(&body, pointer, true));
    for pinned in ["/id", "/qty", "/sku", "/kind", "/any", "/one", "/rec/a"] {
        assert!(value(pinned), "{pinned}");
    }
    let free = [
        "/loose", "/mail", "/note", "/anytext", "/onetext", "/neg", "/rec/t", "/extra",
    ];
    for free in free {
        assert!(!value(free), "{free}");
    }
    assert!(key("/note") && !key("/extra"));
    assert!(key("/rec/a") && key("/rec/t"));
}

/// The leaf index (position among keys and scalars in document order) of the value at
/// `pointer` in `body` as serde_json writes it, or of its key when `key`.
fn leaf_index(body: &Value, pointer: &str, key: bool) -> usize {
    fn walk(v: &Value, at: &str, want: (&str, bool), n: &mut usize) -> Option<usize> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{at}/{i}"), want, n)),
            Value::Object(map) => map.iter().find_map(|(k, item)| {
                let here = format!("{at}/{k}");
                if want == (here.as_str(), true) {
                    return Some(*n);
                }
                *n += 1;
                walk(item, &here, want, n)
            }),
            _ if want == (at, false) => Some(*n),
            _ => {
                *n += 1;
                None
            }
        }
    }
    walk(body, "", (pointer, key), &mut 0).unwrap()
}

#[test]
fn request_bodies_are_matched_by_media_type_and_forms_are_typed() {
    let c = contract(json!({
        "openapi": "3.1.0",
        "paths": {
            "/f": {"post": {"requestBody": {"required": true, "content": {
                "application/x-www-form-urlencoded": {"schema": {"type": "object",
                    "required": ["qty"], "additionalProperties": false,
                    "properties": {"qty": {"type": "integer", "maximum": 9}, "tag": {"type": "array", "items": {"type": "string"}}}}},
                "application/*": {},
            }}}},
            "/n": {"post": {}},
        },
    }));
    let h = HeaderMap::new();
    let field = |name: &'static str, v: &'static str, loc: &str| FormField {
        name,
        value: FieldValue::Text(v),
        location: loc.to_owned(),
    };
    let post = |path, ct, body| {
        c.check(&Request {
            method: "POST",
            path,
            query: None,
            headers: &h,
            content_type: ct,
            body,
        })
    };
    let good = [field("qty", "3", "form:qty"), field("tag", "x", "form:tag")];
    let out = post(
        "/f",
        Some("application/x-www-form-urlencoded"),
        Body::Fields(&good),
    );
    assert!(out.conforms(), "{:?}", out.violations);
    assert!(out.pinned.body_value("form:qty") && !out.pinned.body_value("form:tag"));
    let cases: Vec<(&str, Option<&str>, Body<'_>, Option<(Class, &str)>)> = vec![
        (
            "/f",
            Some("application/x-www-form-urlencoded"),
            Body::Fields(&[]),
            Some((Class::Body, "required")),
        ),
        (
            "/f",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            Body::Empty,
            Some((Class::Parameter, "body-required")),
        ),
        ("/f", Some("application/octet-stream"), Body::Other, None),
        (
            "/f",
            Some("text/plain"),
            Body::Other,
            Some((Class::UnsupportedMediaType, "media-type")),
        ),
        (
            "/n",
            Some("application/json"),
            Body::Json(b"{}"),
            Some((Class::UnsupportedMediaType, "media-type")),
        ),
        ("/n", None, Body::Empty, None),
    ];
    for (path, ct, body, expected) in cases {
        let out = post(path, ct, body);
        assert_eq!(
            out.first().map(|v| (v.class, v.keyword)),
            expected,
            "{path} {ct:?}"
        );
    }
    let bad = [
        field("qty", "30", "form:qty"),
        field("role", "admin", "form:role"),
    ];
    let out = post(
        "/f",
        Some("application/x-www-form-urlencoded"),
        Body::Fields(&bad),
    );
    let got: Vec<_> = out
        .violations
        .iter()
        .map(|v| (v.keyword, v.location.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("maximum", "form:/qty"),
            ("additionalProperties", "form:/role")
        ]
    );
}

#[test]
fn validation_work_is_bounded() {
    let c = body_contract(
        "3.1.0",
        json!({"type": "array", "items": {"anyOf": [{"type": "string", "pattern": "^a+$"}, {"type": "integer"}]}}),
        json!({}),
    );
    let big: Vec<Value> = (0..5000).map(|_| json!("aaaa")).collect();
    let c = c.with_limits(crate::ValidateLimits {
        max_work: 1000,
        ..crate::ValidateLimits::default()
    });
    let out = post_json(&c, &Value::Array(big));
    assert_eq!(out.first().map(|v| v.keyword), Some("budget"));
    // Error count is capped.
    let c = body_contract("3.1.0", json!({"items": {"type": "integer"}}), json!({}));
    let out = post_json(&c, &Value::Array(vec![json!("a"); 100]));
    assert_eq!(
        out.violations.len(),
        crate::ValidateLimits::default().max_errors
    );
}

#[test]
fn a_large_spec_loads_fast() {
    let mut paths = serde_json::Map::new();
    for i in 0..2000 {
        paths.insert(
            format!("/r{i}/{{id}}/items"),
            json!({"post": {"parameters": [{"name": "id", "in": "path", "schema": {"type": "integer"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}),
        );
    }
    let doc = json!({"openapi": "3.1.0", "paths": paths, "components": {"schemas": {"Item": {
        "type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{2}-\\d{4}$"}}}}}});
    let text = serde_json::to_vec(&doc).unwrap();
    let start = std::time::Instant::now();
    let c = Contract::from_bytes(&text, &LoadLimits::default()).unwrap();
    assert_eq!(c.operations(), 2000);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let h = HeaderMap::new();
    let out = c.check(&Request {
        method: "POST",
        path: "/r1999/5/items",
        query: None,
        headers: &h,
        content_type: Some("application/json"),
        body: Body::Json(br#"{"sku":"AB-1234"}"#),
    });
    assert!(out.conforms(), "{:?}", out.violations);
}

/// A query array of thousands of items (`ids=1,1,...` fits in 8 KiB) is pinned only when
/// every item is, read in one pass over the pins (a search per item took a second of
/// CPU for such a query: the check has no timing, the one-pass code has this shape).
#[test]
fn a_long_query_array_is_pinned_only_when_every_item_is() {
    let c = params_contract();
    let mut h = HeaderMap::new();
    h.insert("x-version", HeaderValue::from_static("2"));
    let check = |q: &str| {
        c.check(&Request {
            method: "GET",
            path: "/s/7",
            query: Some(q),
            headers: &h,
            content_type: None,
            body: Body::Empty,
        })
    };
    let ones = vec!["1"; 4000].join(",");
    let out = check(&format!("ids={ones}"));
    assert!(
        out.conforms() && out.pinned.query("ids"),
        "{:?}",
        out.violations
    );
    // One item that is not an integer: refused, and nothing of it pinned.
    let out = check(&format!("ids={ones},x"));
    assert_eq!(
        out.first().map(|v| v.location.as_str()),
        Some("query:ids/4000")
    );
    assert!(!out.pinned.query("ids"));
}

/// Pins land on the text fields the value was built from, counted without the files
/// between them, and a thousand distinct names are looked up, not scanned per name.
#[test]
fn form_pins_name_the_text_fields_the_value_holds() {
    let c = body_contract_form();
    let part = |name: &'static str, value, at: usize| FormField {
        name,
        value,
        location: format!("part:{name}[{at}]"),
    };
    let fields = vec![
        part("ids", FieldValue::Text("1"), 0),
        part("ids", FieldValue::Opaque, 1),
        part("ids", FieldValue::Text("2"), 2),
    ];
    let headers = HeaderMap::new();
    let out = c.check(&Request {
        method: "POST",
        path: "/t",
        query: None,
        headers: &headers,
        content_type: Some("multipart/form-data; boundary=x"),
        body: Body::Fields(&fields),
    });
    assert!(out.conforms(), "{:?}", out.violations);
    assert!(out.pinned.body_value("part:ids[0]") && out.pinned.body_value("part:ids[2]"));
    assert!(!out.pinned.body_value("part:ids[1]"));

    let names: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let fields: Vec<FormField<'_>> = names
        .iter()
        .map(|n| FormField {
            name: n,
            value: FieldValue::Text(if n == "f999" { "x" } else { "1" }),
            location: format!("form:{n}"),
        })
        .collect();
    let out = c.check(&Request {
        method: "POST",
        path: "/t",
        query: None,
        headers: &headers,
        content_type: Some("application/x-www-form-urlencoded"),
        body: Body::Fields(&fields),
    });
    assert_eq!(out.first().map(|v| v.location.as_str()), Some("form:/f999"));
    assert!(out.pinned.body_value("form:f0") && !out.pinned.body_value("form:f999"));
}

/// `POST /t` taking a form or multipart body: `ids` an integer array, any other
/// field an integer.
fn body_contract_form() -> Contract {
    let schema = json!({"schema": {"type": "object",
        "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
        "additionalProperties": {"type": "integer"}}});
    contract(json!({
        "openapi": "3.1.0",
        "paths": {"/t": {"post": {"requestBody": {"required": true, "content": {
            "application/x-www-form-urlencoded": schema,
            "multipart/form-data": schema,
        }}}}},
    }))
}
