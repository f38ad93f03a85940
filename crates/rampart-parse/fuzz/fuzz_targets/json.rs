#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_parse::{JsonLimits, json};

fuzz_target!(|data: &[u8]| {
    // Parser parity: the canonical copy must parse to the same leaves and reproduce itself.
    if let Ok(p) = json::parse(data, &JsonLimits::default(), true) {
        let canon = p.canonical.clone().unwrap_or_default();
        assert!(canon.len() <= data.len());
        let again = json::parse(&canon, &JsonLimits::default(), true).expect("canonical parses");
        assert_eq!(again.leaves.len(), p.leaves.len());
        for (a, b) in again.leaves.iter().zip(&p.leaves) {
            assert_eq!(a.value, b.value);
        }
        assert_eq!(again.canonical.as_deref(), Some(canon.as_ref()));
    }
});
