#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_parse::{FormLimits, form};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = form::parse(data, &FormLimits::default()) {
        assert_eq!(p.leaves.len() % 2, 0);
    }
});
