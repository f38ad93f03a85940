use rampart_test_support::stack::Bins;

pub(crate) fn bins() -> Bins {
    Bins {
        edge: env!("CARGO_BIN_EXE_e2e-edge").into(),
        inner: env!("CARGO_BIN_EXE_e2e-inner").into(),
    }
}

/// Asserts an RFC 9457 problem response with `reason` and a request id matching the
/// `x-request-id` header, and nothing else in the body.
pub(crate) fn assert_problem(
    response: &rampart_test_support::client::Collected,
    status: u16,
    reason: &str,
) {
    assert_eq!(
        response.status.as_u16(),
        status,
        "body: {:?}",
        response.body
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let body = response.json();
    assert_eq!(body["reason"], reason);
    assert_eq!(body["status"], status);
    let id = response
        .header("x-request-id")
        .expect("x-request-id header");
    assert_eq!(body["request_id"], id);
    assert_eq!(
        body.as_object().unwrap().len(),
        5,
        "unexpected fields: {body}"
    );
}
