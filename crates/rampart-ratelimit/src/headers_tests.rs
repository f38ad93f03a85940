use std::sync::Arc;

use http::HeaderMap;

use super::*;
use crate::decision::PolicyStatus;

fn status(name: &str, quota: u64, window: u64, remaining: u64, reset_ms: u64) -> PolicyStatus {
    PolicyStatus {
        name: Arc::from(name),
        quota,
        window: Duration::from_secs(window),
        remaining,
        reset_after: Duration::from_millis(reset_ms),
    }
}

#[test]
fn formats_policies_and_remaining_in_draft_syntax() {
    let eval = Evaluation {
        decision: Decision::Allow {
            remaining: 42,
            reset_after: Duration::from_millis(2_100),
        },
        statuses: vec![
            status("per-ip", 100, 1, 42, 2_100),
            status("daily", 1000, 86_400, 999, 3_600_000),
        ],
        degraded: false,
    };
    let h = eval.headers();
    assert_eq!(
        h.policy.unwrap(),
        r#""per-ip";q=100;w=1, "daily";q=1000;w=86400"#
    );
    assert_eq!(
        h.rate_limit.unwrap(),
        r#""per-ip";r=42;t=3, "daily";r=999;t=3600"#
    );
    assert_eq!(h.retry_after, None);
}

#[test]
fn a_denial_carries_retry_after_rounded_up_and_never_zero() {
    let table = [
        (1, "1"),
        (999, "1"),
        (1_000, "1"),
        (1_001, "2"),
        (59_000, "59"),
    ];
    for (retry_ms, want) in table {
        let eval = Evaluation {
            decision: Decision::Deny {
                policy: Arc::from("p"),
                retry_after: Duration::from_millis(retry_ms),
                reset_after: Duration::from_millis(retry_ms),
            },
            statuses: vec![status("p", 10, 60, 0, retry_ms)],
            degraded: false,
        };
        let mut headers = HeaderMap::new();
        eval.headers().apply(&mut headers);
        assert_eq!(headers[RETRY_AFTER], want, "{retry_ms}");
        assert_eq!(headers[&RATELIMIT], format!(r#""p";r=0;t={want}"#).as_str());
        assert_eq!(headers[&RATELIMIT_POLICY], r#""p";q=10;w=60"#);
    }
}

#[test]
fn says_nothing_when_no_policy_applied_or_the_store_failed() {
    for eval in [Evaluation::unlimited(), Evaluation::unavailable()] {
        let mut headers = HeaderMap::new();
        eval.headers().apply(&mut headers);
        assert!(headers.is_empty(), "{eval:?}");
    }
}

#[test]
fn escapes_names_as_structured_field_strings() {
    assert_eq!(sf_string("a\"b\\c"), r#""a\"b\\c""#);
    assert_eq!(sf_string("tab\there"), r#""tabhere""#);
    assert_eq!(ceil_secs(Duration::ZERO), 0);
    assert_eq!(ceil_secs(Duration::from_nanos(1)), 1);
}
