//! The recursive decoder chain: URL/HTML/JS/base64 layers and JSON/form found inside
//! strings, several fields sharing one small budget.
//!
//! Input: a sequence of fields, each `[kind selector][len hi][len lo][value...]`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_detect::decode::variants;
use rampart_detect::{Budget, BudgetLimits, FieldKind};

fuzz_target!(|data: &[u8]| {
    // Small limits so the fuzzer reaches every exhaustion path.
    let limits = BudgetLimits {
        max_decoded_bytes: 4096,
        ..BudgetLimits::default()
    };
    let mut budget = Budget::new(limits);
    let mut charged = 0usize;
    let mut rest = data;
    while let [selector, hi, lo, tail @ ..] = rest {
        let kind = FieldKind::ALL[usize::from(*selector) % FieldKind::ALL.len()];
        let len = (usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len());
        let (raw, next) = tail.split_at(len);
        rest = next;
        let exhausted_before = budget.exhausted();
        let out = variants(raw, kind, &mut budget);
        let lossy = String::from_utf8_lossy(raw);
        assert_eq!(out[0].text, lossy, "the raw value comes first");
        assert_eq!(out[0].layer, 0);
        assert!(out.len() <= limits.max_variants, "{} variants", out.len());
        for (i, v) in out.iter().enumerate() {
            // Every decoder shrinks: no variant is longer than the value it came from.
            assert!(v.text.len() <= lossy.len(), "variant {i} grew: {v:?}");
            assert!(
                v.layer <= limits.max_layers,
                "variant {i} at layer {} past the limit: {v:?}",
                v.layer
            );
            assert!(
                out[..i].iter().all(|o| o.text != v.text),
                "duplicate variant {v:?}"
            );
        }
        // Decoded bytes are charged exactly, and never past the limit.
        charged += out[1..].iter().map(|v| v.text.len()).sum::<usize>();
        assert_eq!(budget.decoded_bytes(), charged);
        assert!(budget.decoded_bytes() <= limits.max_decoded_bytes);
        // The first exhaustion sticks.
        if exhausted_before.is_some() {
            assert_eq!(budget.exhausted(), exhausted_before);
        }
    }
});
