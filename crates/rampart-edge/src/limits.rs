//! Head checks the edge runs before anything is forwarded: message framing and size
//! limits. Each is a [`Check`] on the head phase, run by the edge's pipeline.

use std::time::Duration;

use http::header::CONTENT_LENGTH;
use rampart_core::check::{Check, CheckFuture, Denial, Verdict};
use rampart_core::phase::RequestHead;
use rampart_core::problem::Reason;
use rampart_core::units::ByteSize;

use crate::framing;

/// Refuses ambiguous HTTP/1 framing (see [`framing`]).
pub(crate) struct FramingCheck;

impl Check<RequestHead> for FramingCheck {
    fn id(&self) -> &'static str {
        "http-framing"
    }

    fn check<'a>(&'a self, input: &'a RequestHead) -> CheckFuture<'a> {
        let verdict = match framing::check(input.parts.version, &input.parts.headers) {
            Ok(()) => Verdict::Allow,
            Err(violation) => Verdict::Deny(
                Denial::new(self.id(), Reason::BadRequest).with_rule(violation.rule()),
            ),
        };
        Box::pin(std::future::ready(Ok(verdict)))
    }
}

/// Size limits of a request head, and of the body when its length is declared.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request target (path and query), else 414.
    pub max_request_target: ByteSize,
    /// Most header fields, else 431.
    pub max_headers: usize,
    /// Most header bytes (names and values), else 431.
    pub max_header_bytes: ByteSize,
    /// Largest body, checked up front from Content-Length and while streaming, else 413.
    pub max_body: ByteSize,
    /// The whole body must arrive within this time, else 408.
    pub body_timeout: Duration,
    /// After `body_rate_grace`, the body must average at least this many bytes per
    /// second, else 408 (a trickled body cannot hold a connection). Zero disables.
    pub min_body_rate: ByteSize,
    /// Time before the body rate is judged.
    pub body_rate_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_target: ByteSize::kib(8),
            max_headers: 100,
            max_header_bytes: ByteSize::kib(64),
            max_body: ByteSize::mib(10),
            body_timeout: Duration::from_secs(120),
            min_body_rate: ByteSize::kib(1),
            body_rate_grace: Duration::from_secs(5),
        }
    }
}

impl Limits {
    fn verdict(&self, head: &RequestHead) -> Verdict {
        let deny = |reason, rule: &str| {
            Verdict::Deny(Denial::new("request-limits", reason).with_rule(rule))
        };
        let target = head
            .parts
            .uri
            .path_and_query()
            .map_or(0, |pq| pq.as_str().len());
        if target as u64 > self.max_request_target.as_u64() {
            return deny(Reason::UriTooLong, "request-target-length");
        }
        let headers = &head.parts.headers;
        if headers.len() > self.max_headers {
            return deny(Reason::HeadersTooLarge, "header-count");
        }
        let bytes: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        if bytes as u64 > self.max_header_bytes.as_u64() {
            return deny(Reason::HeadersTooLarge, "header-bytes");
        }
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body.as_u64()) {
            return deny(Reason::BodyTooLarge, "content-length");
        }
        Verdict::Allow
    }
}

impl Check<RequestHead> for Limits {
    fn id(&self) -> &'static str {
        "request-limits"
    }

    fn check<'a>(&'a self, input: &'a RequestHead) -> CheckFuture<'a> {
        Box::pin(std::future::ready(Ok(self.verdict(input))))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A head as the edge's checks see it, from the loopback peer.
    pub(crate) fn head_with_method(
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> RequestHead {
        let mut builder = http::Request::builder().method(method).uri(target);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let peer: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        RequestHead {
            parts,
            request_id: rampart_core::id::RequestId::generate(),
            client_ip: peer.ip(),
            connection: Arc::new(rampart_core::phase::Connection {
                peer,
                local: "127.0.0.1:2".parse().unwrap(),
                tls: None,
                extensions: http::Extensions::new(),
            }),
        }
    }

    fn head(target: &str, headers: &[(&str, String)]) -> RequestHead {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        head_with_method("GET", target, &headers)
    }

    fn rule(verdict: Verdict) -> Option<String> {
        match verdict {
            Verdict::Allow => None,
            Verdict::Deny(d) => d.rule,
        }
    }

    #[test]
    fn limits_refuse_just_past_each_bound_and_allow_at_it() {
        let limits = Limits {
            max_request_target: ByteSize::bytes(20),
            max_headers: 3,
            max_header_bytes: ByteSize::bytes(40),
            max_body: ByteSize::bytes(100),
            ..Limits::default()
        };
        let many = |n: usize| (0..n).map(|i| ("x-h", i.to_string())).collect::<Vec<_>>();
        type Case = (
            &'static str,
            Vec<(&'static str, String)>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            ("/1234567890123456789", vec![], None), // 20 bytes: at the bound
            (
                "/12345678901234567890",
                vec![],
                Some("request-target-length"),
            ),
            ("/", many(3), None),
            ("/", many(4), Some("header-count")),
            ("/", vec![("x-big", "v".repeat(35))], None), // 5 + 35 = 40
            ("/", vec![("x-big", "v".repeat(36))], Some("header-bytes")),
            ("/", vec![("content-length", "100".into())], None),
            (
                "/",
                vec![("content-length", "101".into())],
                Some("content-length"),
            ),
        ];
        for (target, headers, want) in cases {
            let got = rule(limits.verdict(&head(target, &headers)));
            assert_eq!(got.as_deref(), want, "{target} {headers:?}");
        }
    }
}
