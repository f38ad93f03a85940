#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_parse::{GraphqlLimits, Limits, graphql};

fuzz_target!(|data: &[u8]| {
    let _ = graphql::parse_document(data, &GraphqlLimits::default());
    let _ = graphql::parse_json_request(data, &Limits::default(), true);
});
