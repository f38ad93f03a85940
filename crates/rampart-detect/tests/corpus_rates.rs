//! Detection rates over the own corpus (`tests/corpus`), as a floor: a change to a rule,
//! detector or decoder that loses attacks or starts refusing the legitimate look-alikes
//! fails here, not only in a full-stack run of the evaluation harness. Each payload is
//! inspected as the tiers see it in the two commonest places, a decoded query value and a
//! JSON string leaf, and as a whole request path (`/<payload, percent-encoded>`, as a REST
//! path parameter arrives). The limits are today's counts (~10,610 attacks, ~11,210
//! legitimate, which keep look-alikes refused on purpose, such as command lines as whole
//! values): lower them as detection improves. Some attacks only exist where their file
//! places them and pass as plain values on purpose: scanner user agents, UTF-16 XML
//! documents, GraphQL requests that break the body parser's limits (depth, aliases, batch)
//! rather than carry an injection, and header-borne attacks that depend on their header (a
//! routing override naming `/admin`, a base64 `Basic` credential, a JWT's claims, host
//! confusion in `X-Forwarded-Host`). Whole multipart bodies of the upload sets read as a
//! value hold CRLF-separated header lines and are refused there. Some whole legitimate
//! documents are refused only as a plain value: a JSON body read as one raw text (a
//! markdown table's `| env |`), or one whose form and JSON layers exceed the nesting budget
//! once it is itself a value, an AsciiDoc note whose `link:` line reads as an injected
//! `Link:` header in a query, an OData `$expand=Orders($filter=...)` read as PHP in a path,
//! and search expressions as a whole path (`/path:**/migrations/*.py` a globbed command,
//! `/... acme\.io$"` a file name), an XML e-mail template as a whole path (its `<template>`
//! is data only in a document that starts with `<?xml`), and uploaded documents as a query
//! value or a whole path (an iCalendar's CRLF and `SUMMARY:` lines read as injected
//! headers, a CSV's formulas, an SVG or feed as markup in a path). Scanner probes of debug
//! endpoints (`/actuator/env`) only count as a path. Attacks no content rule can tell from
//! a value stay counted as misses: a bare `//host` or look-alike domain as a redirect
//! target, UNC paths to a share.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use rampart_detect::{Budget, Engine, Field, FieldKind, Findings, Location, Policy, extract};

mod common;
use common::corpus;

#[test]
fn own_corpus_rates_stay_above_their_floors() {
    let engine = Engine::builtin();
    let policy = Policy::default();
    let payloads = corpus();
    // (kind, scope, attacks passed at most, legitimate refused at most)
    let places = [
        (Some(FieldKind::QueryValue), "query", 225, 183),
        (Some(FieldKind::BodyValue), "json", 227, 178),
        (None, "path", 399, 263),
    ];
    let mut report = Vec::new();
    for (kind, scope, max_missed, max_refused) in places {
        let (mut attacks, mut blocked, mut legit, mut passed) = (0u32, 0u32, 0u32, 0u32);
        let mut misses = Vec::new();
        for (payload, is_legit) in &payloads {
            let findings = match kind {
                Some(kind) => {
                    let field = Field::new(Location::new(scope, "v"), kind, payload.as_bytes());
                    engine.inspect([field], &policy, &mut Budget::default())
                }
                None => in_path(&engine, &policy, payload),
            };
            let refused = findings.blocks(policy.threshold()) || findings.undecided.is_some();
            if *is_legit {
                legit += 1;
                passed += u32::from(!refused);
            } else {
                attacks += 1;
                blocked += u32::from(refused);
            }
            if refused == *is_legit && misses.len() < 40 {
                misses.push(format!(
                    "{}: {payload:?}",
                    if *is_legit { "FP" } else { "MISS" }
                ));
            }
        }
        assert!(
            attacks > 300 && legit > 300,
            "corpus not found: {attacks}/{legit}"
        );
        let (missed, refused) = (attacks - blocked, legit - passed);
        println!("{scope}: attacks {blocked}/{attacks}, legitimate {passed}/{legit}");
        if missed > max_missed || refused > max_refused {
            report.push(format!(
                "{scope}: {missed} attacks passed (at most {max_missed}), {refused} legitimate \
                 refused (at most {max_refused})\n  {}",
                misses.join("\n  ")
            ));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// Findings of a GET of `/<payload>`, every byte but letters, digits and `-._~`
/// percent-encoded (a `/` too: the edge refuses an encoded one, but a backend that takes
/// the rest of the path as one parameter sees the same), through the tiers' extraction.
fn in_path(engine: &Engine, policy: &Policy, payload: &str) -> Findings {
    let mut target = String::from("/");
    for b in payload.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            target.push(char::from(b));
        } else {
            target.push_str(&format!("%{b:02X}"));
        }
    }
    let uri: http::Uri = target.parse().expect("encoded path");
    let headers = http::HeaderMap::new();
    let fields = extract::head_fields(&uri, &headers).fields;
    engine.inspect(fields, policy, &mut Budget::default())
}
