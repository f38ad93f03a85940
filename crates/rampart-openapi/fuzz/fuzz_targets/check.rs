#![no_main]
//! A request (first line `METHOD path?query`, the rest a JSON body, or a form body when
//! the method is `FORM`, sent as a PUT) checked against a contract using most of what
//! the validator knows. Besides "no panic, bounded":
//! - a body the strict parser accepts is never refused as unreadable JSON by the
//!   contract (the two readers agree on what JSON is);
//! - its canonical copy, which is what the backend gets, validates the same way;
//! - a JSON pin (a value the detectors skip) names a leaf of the parsed body by its
//!   position, and of the right kind: a value pin a scalar, a key pin a key;
//! - a form pin names a field that holds text (what the value was built from).
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rampart_openapi::{Body, Contract, FieldValue, FormField, LoadLimits, Outcome, Request};
use rampart_parse::{FormLimits, JsonLimits, LeafKind, form, json};

const SPEC: &str = r##"
openapi: 3.1.0
info: {title: fuzz, version: "1"}
paths:
  /items/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
    put:
      parameters:
        - {name: tags, in: query, style: form, explode: false, schema: {type: array, items: {type: string, enum: [a, b, c]}}}
        - {name: q, in: query, schema: {type: string, pattern: "^[a-z ]{0,20}$"}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Item"}
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                ids: {type: array, items: {type: integer}}
                name: {type: string, maxLength: 8}
                at: {type: string, format: date-time}
              additionalProperties: {type: [integer, boolean]}
  /batch:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: array
              maxItems: 64
              uniqueItems: true
              items:
                oneOf:
                  - {$ref: "#/components/schemas/Item"}
                  - {$ref: "#/components/schemas/Node"}
                  - {type: string, format: uuid}
components:
  schemas:
    Item:
      type: object
      additionalProperties: false
      required: [id, name]
      properties:
        id: {type: integer, multipleOf: 3}
        name: {type: string, minLength: 1, maxLength: 40}
        "a/b~c": {type: string, format: date-time}
        email: {type: string, format: email}
        ip: {anyOf: [{type: string, format: ipv4}, {type: string, format: ipv6}]}
        kind: {enum: [x, y, 1, null]}
        price: {type: number, exclusiveMinimum: 0, maximum: 1e6}
        meta:
          type: object
          patternProperties: {"^x-": {type: string}}
          propertyNames: {maxLength: 16}
          additionalProperties: {type: boolean}
        list: {type: array, contains: {const: 7}, minContains: 1, maxContains: 2}
        pick:
          if: {type: string}
          then: {format: uuid}
          else: {not: {type: "null"}}
        all: {allOf: [{type: string}, {pattern: "^[0-9a-f]+$"}]}
    Node:
      type: object
      additionalProperties: false
      properties:
        value: {type: [string, integer]}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
"##;

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    Contract::from_bytes(SPEC.as_bytes(), &LoadLimits::default()).expect("fuzz spec loads")
});

fn check(method: &str, target: &str, body: &[u8]) -> Outcome {
    request(method, target, "application/json", Body::Json(body))
}

fn request(method: &str, target: &str, content_type: &str, body: Body<'_>) -> Outcome {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let headers = http::HeaderMap::new();
    CONTRACT.check(&Request {
        method,
        path,
        query,
        headers: &headers,
        content_type: Some(content_type),
        body,
    })
}

/// Form fields as the inner builds them.
fn form_fields<'p>(parsed: &'p rampart_parse::Parsed<'_>) -> Vec<FormField<'p>> {
    parsed
        .top_level_fields()
        .into_iter()
        .map(|f| FormField::new(f.name, f.text, f.location))
        .collect()
}

fn check_form(target: &str, body: &[u8]) {
    let Ok(parsed) = form::parse(body, &FormLimits::default()) else {
        return;
    };
    let fields = form_fields(&parsed);
    let content_type = "application/x-www-form-urlencoded";
    let outcome = request("PUT", target, content_type, Body::Fields(&fields));
    for f in &fields {
        if outcome.pinned.body_value(&f.location) {
            assert!(matches!(f.value, FieldValue::Text(_)), "pin on a field without text");
        }
    }
}

fn summary(o: &Outcome) -> Vec<(String, &'static str)> {
    o.violations
        .iter()
        .map(|v| (v.location.clone(), v.keyword))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(head) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    let (method, target) = head.split_once(' ').unwrap_or(("POST", head));
    if method == "FORM" {
        check_form(target, body);
        return;
    }
    let Ok(parsed) = json::parse(body, &JsonLimits::default(), true) else {
        return;
    };
    let outcome = check(method, target, body);
    assert!(
        outcome.violations.iter().all(|v| v.keyword != "json"),
        "strictly parsed JSON refused as unreadable: {:?}",
        outcome.violations
    );
    let canonical = parsed.canonical.clone().unwrap_or_default();
    let again = check(method, target, &canonical);
    assert_eq!(summary(&outcome), summary(&again), "canonical copy validates differently");

    // Pins name leaves by position: a value pin is a scalar leaf, a key pin a key leaf.
    let leaves = parsed.leaves.len();
    for (i, leaf) in parsed.leaves.iter().enumerate() {
        let key = leaf.kind == LeafKind::Key;
        assert!(!(key && outcome.pinned.json_value(i)), "value pin {i} is a key");
        assert!(!(!key && outcome.pinned.json_key(i)), "key pin {i} is a value");
    }
    assert!(
        !outcome.pinned.json_value(leaves) && !outcome.pinned.json_key(leaves),
        "pin past the last leaf"
    );
});
