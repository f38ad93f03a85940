#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_parse::{GraphqlLimits, Limits, graphql};

fuzz_target!(|data: &[u8]| {
    let _ = graphql::parse_document(data, &GraphqlLimits::default());
    let _ = graphql::parse_json_request(data, &Limits::default(), true);
    // GraphQL over GET: the same bytes as a URL query.
    if let Ok(Some(parsed)) = graphql::parse_url_query(data, &Limits::default()) {
        let stats = parsed.graphql.expect("a document has stats");
        assert!(stats.directives <= GraphqlLimits::default().max_directives);
        assert!(parsed.leaves.len() <= data.len());
    }
});
