//! The fast path finds exactly what the full path finds: every payload of the corpus
//! (attacks and legitimate look-alikes), in several encodings, as every field kind, with
//! the fast path on and off. The fast path is derived from what rules, detectors and
//! decoders declare, so a new rule or detector is covered here without naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use rampart_detect::{Budget, Engine, Field, FieldKind, Findings, Location, Policy};

mod common;

/// The payloads of every corpus file, attacks and look-alikes alike.
fn corpus() -> Vec<String> {
    common::corpus().into_iter().map(|(p, _)| p).collect()
}

/// The payload as sent plainly and in the encodings clients and attackers use.
fn encodings(p: &str) -> Vec<String> {
    let url: String = p
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let js: String = p
        .chars()
        .map(|c| format!("\\u{:04x}", u32::from(c) & 0xffff))
        .collect();
    let xml: String = p
        .chars()
        .map(|c| format!("&#x{:x};", u32::from(c)))
        .collect();
    vec![
        p.to_owned(),
        url,
        base64::engine::general_purpose::STANDARD.encode(p),
        js,
        xml,
        format!("{{\"a\":{}}}", serde_json::to_string(p).unwrap()),
    ]
}

fn scan(engine: &Engine, policy: &Policy, kind: FieldKind, v: &str) -> Findings {
    let field = Field::new(Location::new("query", "v"), kind, v.as_bytes());
    engine.inspect([field], policy, &mut Budget::default())
}

#[test]
fn fastpath_matches_the_full_path_over_the_corpus() {
    let fast = Engine::builtin();
    let full = Engine::builtin().without_fast_path();
    let payloads = corpus();
    assert!(payloads.len() > 250, "corpus not found: {}", payloads.len());
    let mut hits_by_rule = std::collections::BTreeMap::<String, usize>::new();
    for paranoia in [1, 4] {
        let policy = Policy::default().with_paranoia(paranoia);
        for p in &payloads {
            for v in encodings(p) {
                for kind in FieldKind::ALL {
                    let a = scan(&fast, &policy, kind, &v);
                    let b = scan(&full, &policy, kind, &v);
                    assert_eq!(a, b, "{kind} {v:?} (paranoia {paranoia})");
                    for h in &a.hits {
                        *hits_by_rule.entry(h.rule_id.clone()).or_default() += 1;
                    }
                }
            }
        }
    }
    // Most rules fire somewhere in the corpus: the comparison above covered them.
    let rules = fast.rules().count();
    assert!(
        hits_by_rule.len() * 10 >= rules * 7,
        "{hits_by_rule:?} of {rules}"
    );
}

#[test]
fn fastpath_matches_the_full_path_on_clean_traffic() {
    let fast = Engine::builtin();
    let full = Engine::builtin().without_fast_path();
    let policy = Policy::default();
    let values = [
        "2024-05-01T10:00:00Z",
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "jane.doe+news@example.com",
        "wireless+headphones",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "\"Chromium\";v=\"122\", \"Not(A:Brand\";v=\"24\"",
        "analytics%3Dno%26ads%3Dno",
        "eyJpZCI6MTIzNDUsInRzIjoxNzE0NTU3NjAwfQ",
        "Great fit & finish (better than my old one), it's 100% waterproof.",
        "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAGXRFWHRTb2Z0d2FyZQ==",
        "Kurfürstendamm 21, 10719 Berlin",
        "/api/v2/catalog/items/8812/reviews",
        "data:text/plain;base64,SGVsbG8sIHdvcmxkIQ==",
    ];
    for v in values {
        for kind in FieldKind::ALL {
            assert_eq!(
                scan(&fast, &policy, kind, v),
                scan(&full, &policy, kind, v),
                "{kind} {v:?}"
            );
        }
    }
}

#[test]
fn extra_rules_are_gated_by_their_own_literals() {
    // One single-byte literal (a fast-path bit) and one multi-byte literal (the automaton).
    let engine = Engine::with_extra_rules(
        r#"
        [[rule]]
        id = "local-tilde"
        description = "tilde runs"
        class = "local"
        targets = ["query-value"]
        paranoia = 1
        score = 5
        pattern = '~{3}'
        literals = ["~"]
        [[rule]]
        id = "local-word"
        description = "a magic word"
        class = "local"
        targets = ["header-value"]
        paranoia = 1
        score = 5
        pattern = '(?i)zq_magic\d'
        literals = ["zq_magic"]
        "#,
    )
    .unwrap();
    let policy = Policy::default();
    let cases = [
        (FieldKind::QueryValue, "a~~~b", Some("local-tilde")),
        (FieldKind::QueryValue, "a~~b", None),
        (FieldKind::HeaderValue, "a~~~b", None),
        (FieldKind::HeaderValue, "ZQ_MAGIC7", Some("local-word")),
        (FieldKind::HeaderValue, "zq_magic", None),
        (FieldKind::QueryValue, "zq_magic7", None),
    ];
    for (kind, v, want) in cases {
        let found = scan(&engine, &policy, kind, v);
        let got = found.hits.first().map(|h| h.rule_id.as_str());
        assert_eq!(got, want, "{kind} {v:?}: {found:?}");
        assert_eq!(
            found,
            scan(&engine.clone().without_fast_path(), &policy, kind, v)
        );
    }
}

#[test]
fn repeated_body_values_find_what_separate_inspections_find() {
    // The fast path remembers body values it found clean; the full path inspects every
    // one. A value first seen where a rule is excluded must still be caught elsewhere.
    let fast = Engine::builtin();
    let full = Engine::builtin().without_fast_path();
    let policy = Policy::from_toml(
        r#"
        [[exclusions]]
        classes = ["sqli", "xss", "cmdi"]
        locations = ["json:/note*"]
        "#,
        &fast,
    )
    .unwrap();
    let payloads = corpus();
    for chunk in payloads.chunks(16) {
        let mut values: Vec<String> = chunk.iter().flat_map(|p| encodings(p)).collect();
        values.extend(["shipped", "EUR", "Trail backpack, 28 L"].map(String::from));
        let mut fields = Vec::new();
        // Each value at an excluded location, then twice where every rule applies, as
        // a key and as a leaf.
        for (i, v) in values.iter().enumerate() {
            for (at, kind) in [
                ("/note", FieldKind::BodyValue),
                ("/a", FieldKind::BodyValue),
                ("/b", FieldKind::BodyValue),
                ("/note", FieldKind::BodyKey),
                ("/c", FieldKind::BodyKey),
            ] {
                let loc = Location::new("json", format!("{at}/{i}"));
                fields.push(Field::new(loc, kind, v.as_bytes()));
            }
        }
        let a = fast.inspect(fields.clone(), &policy, &mut Budget::default());
        let b = full.inspect(fields, &policy, &mut Budget::default());
        assert_eq!(a, b, "{chunk:?}");
    }
}

#[test]
fn remembered_values_charge_the_budget_as_a_rescan_does() {
    // An encoded value repeated until the decoded-bytes budget runs out: remembering it
    // must not let the repeats through undecided-free.
    let fast = Engine::builtin();
    let full = Engine::builtin().without_fast_path();
    let policy = Policy::default();
    let limits = rampart_detect::BudgetLimits {
        max_decoded_bytes: 200,
        ..Default::default()
    };
    for v in ["caf%C3%A9+au+lait", "hello%20world%20again", "plain words"] {
        let fields: Vec<Field<'_>> = (0..40)
            .map(|i| {
                Field::new(
                    Location::new("json", format!("/{i}")),
                    FieldKind::BodyValue,
                    v.as_bytes(),
                )
            })
            .collect();
        let mut fb = Budget::new(limits);
        let mut ub = Budget::new(limits);
        let a = fast.inspect(fields.clone(), &policy, &mut fb);
        let b = full.inspect(fields, &policy, &mut ub);
        assert_eq!(a, b, "{v}");
        assert_eq!(fb.exhausted(), ub.exhausted(), "{v}");
    }
}

#[test]
fn known_clean_holds_only_for_values_inspected_clean_without_decoding() {
    let fast = Engine::builtin();
    let policy = Policy::default();
    let mut budget = Budget::default();
    let mut scan = fast.scan(&policy, &mut budget);
    let seen = [
        (FieldKind::BodyValue, "shipped"),
        (FieldKind::BodyKey, "status"),
        (FieldKind::BodyValue, "caf%C3%A9"),
        (FieldKind::BodyValue, "1' or '1'='1"),
        (FieldKind::HeaderValue, "en-US"),
    ];
    for (kind, v) in seen {
        scan.field(&Field::new(Location::new("json", "/x"), kind, v.as_bytes()));
    }
    let cases = [
        (FieldKind::BodyValue, "shipped", true),
        (FieldKind::BodyKey, "status", true),
        // Same bytes, other kind; never seen; decoded (charged) before; an attack; a head.
        (FieldKind::BodyKey, "shipped", false),
        (FieldKind::BodyValue, "paid", false),
        (FieldKind::BodyValue, "caf%C3%A9", false),
        (FieldKind::BodyValue, "1' or '1'='1", false),
        (FieldKind::HeaderValue, "en-US", false),
    ];
    for (kind, v, want) in cases {
        assert_eq!(scan.known_clean(kind, v.as_bytes()), want, "{kind} {v:?}");
    }
    assert!(scan.finish().blocks(policy.threshold()));
    // The full path remembers nothing.
    let full = Engine::builtin().without_fast_path();
    let mut budget = Budget::default();
    let mut scan = full.scan(&policy, &mut budget);
    scan.field(&Field::new(
        Location::new("json", "/x"),
        FieldKind::BodyValue,
        b"shipped",
    ));
    assert!(!scan.known_clean(FieldKind::BodyValue, b"shipped"));
}
