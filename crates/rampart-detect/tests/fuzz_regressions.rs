//! Inputs `cargo fuzz` found (crates/rampart-detect/fuzz), replayed with the invariants
//! the fuzz targets assert, next to look-alikes that must keep working.

use base64::Engine as _;
use rampart_detect::decode::variants;
use rampart_detect::{Budget, BudgetLimits, Exhaustion, FieldKind};

/// `s` wrapped in base64 `n` times.
fn base64_times(s: &str, n: usize) -> String {
    (0..n).fold(s.to_owned(), |s, _| {
        base64::engine::general_purpose::STANDARD.encode(s)
    })
}

/// The `variants` fuzz target's invariants for one field.
fn check(raw: &[u8], kind: FieldKind) -> (Vec<String>, Option<Exhaustion>) {
    let limits = BudgetLimits::default();
    let mut budget = Budget::new(limits);
    let out = variants(raw, kind, &mut budget);
    let lossy = String::from_utf8_lossy(raw);
    assert_eq!(out[0].text, lossy);
    assert!(out.len() <= limits.max_variants);
    for (i, v) in out.iter().enumerate() {
        assert!(v.text.len() <= lossy.len(), "variant {i} grew: {v:?}");
        assert!(
            v.layer <= limits.max_layers,
            "variant {i} past the layer limit: {v:?}"
        );
        assert!(out[..i].iter().all(|o| o.text != v.text), "duplicate {v:?}");
    }
    let charged: usize = out[1..].iter().map(|v| v.text.len()).sum();
    assert_eq!(budget.decoded_bytes(), charged);
    let texts = out.iter().map(|v| v.text.clone().into_owned()).collect();
    (texts, budget.exhausted())
}

#[test]
fn nested_base64_counts_against_the_layer_limit() {
    let payload = "' or 1=1--";
    // (base64 layers, exhaustion)
    let table = [
        // look-alikes: up to the layer limit, base64 is decoded to the payload
        (1, None),
        (4, None),
        // found by the `variants` target: 7 layers of base64 were all decoded at layers
        // 1..=7 although the limit is 4; now the branch stops at the limit and says so
        (5, Some(Exhaustion::Layers)),
        (7, Some(Exhaustion::Layers)),
    ];
    for (layers, exhausted) in table {
        let value = base64_times(payload, layers);
        let (texts, why) = check(value.as_bytes(), FieldKind::BodyValue);
        if exhausted.is_none() {
            assert!(texts.iter().any(|t| t == payload), "{value}: {texts:?}");
        }
        assert_eq!(why, exhausted, "{value}: {texts:?}");
    }
}

/// Found by the `scan` target: a decoded view that is a weak command word and nothing else
/// (`%241w=` and NULs, seen as a header) read the byte after it unchecked in the shell
/// detector and panicked. Replayed as the target splits it, next to the same words as plain
/// values.
#[test]
fn a_weak_command_word_ending_a_view_does_not_panic() {
    use rampart_detect::{Engine, Field, Location, Policy};
    let engine = Engine::builtin();
    let crash: &[u8] = b"%241w=\0\0\0\0\xfb\0\0\n";
    let policy = Policy::default().with_paranoia(4);
    for kind in FieldKind::ALL {
        for value in [crash, b"w", b"w ", b"test", b"$1w", b"x;w"] {
            let mut budget = Budget::new(BudgetLimits::default());
            let mut scan = engine.scan(&policy, &mut budget);
            scan.field(&Field::new(Location::new("query", "a"), kind, value));
            let _ = scan.finish();
        }
    }
}

/// Found by the `scan` target: a command prefix (`sudo`, `timeout`...) followed by
/// whitespace and nothing else ended a decoded view, and the check for a cmd.exe switch
/// after it read the byte past the end and panicked. Replayed whole in every kind, next to
/// the prefix words alone and with what they normally carry.
#[test]
fn a_command_prefix_ending_a_view_does_not_panic() {
    use rampart_detect::{Engine, Field, Location, Policy};
    let engine = Engine::builtin();
    let crash: &[u8] = b"{\"ab:[);sudo,:\"\x10s\xd6\0,{\"ab:[);sudo,";
    let policy = Policy::default().with_paranoia(4);
    let values: [&[u8]; 7] = [
        crash,
        b";sudo ",
        b"x; timeout\t",
        b"| nohup \n",
        b"sudo",
        b"; timeout /T 5",
        b"; sudo cat /etc/shadow",
    ];
    for kind in FieldKind::ALL {
        for value in values {
            let mut budget = Budget::new(BudgetLimits::default());
            let mut scan = engine.scan(&policy, &mut budget);
            scan.field(&Field::new(Location::new("query", "a"), kind, value));
            let _ = scan.finish();
        }
    }
    let threshold = Policy::default().threshold();
    for attack in [&b"; timeout /T 5"[..], b"; sudo cat /etc/shadow"] {
        let field = Field::new(Location::new("query", "a"), FieldKind::QueryValue, attack);
        let findings = engine.inspect([field], &Policy::default(), &mut Budget::default());
        assert!(findings.blocks(threshold), "{attack:?}");
    }
}
