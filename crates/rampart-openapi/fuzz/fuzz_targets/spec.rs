#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_openapi::{Contract, LoadLimits};

// Specs come from admins, but a hostile or broken one must be refused, never crash or hang
// the loader (ref cycles, huge patterns, deep nesting).
fuzz_target!(|data: &[u8]| {
    let limits = LoadLimits {
        max_schemas: 2_000,
        ..LoadLimits::default()
    };
    let _ = Contract::from_bytes(data, &limits);
    let _ = Contract::from_bytes_with_responses(data, &limits);
});
