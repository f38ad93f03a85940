//! The fast path finds exactly what the full path finds: every payload of the corpus
//! (attacks and legitimate look-alikes), in several encodings, as every field kind, with
//! the fast path on and off. The fast path is derived from what rules, detectors and
//! decoders declare, so a new rule or detector is covered here without naming it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use rampart_detect::{Budget, Engine, Field, FieldKind, Findings, Location, Policy};

/// The payloads of every corpus file (`payload:` lists of double-quoted strings).
fn corpus() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                files.push(f.unwrap().path());
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yml"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        let mut in_payload = false;
        for line in text.lines() {
            if !line.starts_with(' ') {
                in_payload = line.starts_with("payload:");
                continue;
            }
            if let Some(q) = line.trim().strip_prefix("- ").filter(|_| in_payload) {
                out.push(unquote(q));
            }
        }
    }
    out
}

/// A YAML double-quoted scalar, with unknown escapes kept as written.
fn unquote(q: &str) -> String {
    let Some(inner) = q.strip_prefix('"').and_then(|q| q.strip_suffix('"')) else {
        return q.to_owned();
    };
    serde_json::from_str(&format!("\"{inner}\"")).unwrap_or_else(|_| {
        let escaped = inner.replace('\\', "\\\\").replace("\\\\\"", "\\\"");
        serde_json::from_str(&format!("\"{escaped}\"")).unwrap_or_else(|_| inner.to_owned())
    })
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
