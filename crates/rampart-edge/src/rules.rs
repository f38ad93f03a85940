//! Per-route request rules: which methods and body media types a route accepts and
//! how many query parameters it takes.
//!
//! Frameworks let a header replace the method (`X-HTTP-Method-Override: DELETE` on a
//! POST), so where the route lists its methods, an override must name one of them too.

use http::Method;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use rampart_core::check::{Check, CheckFuture, Denial, Verdict};
use rampart_core::phase::RequestHead;
use rampart_core::problem::Reason;

/// The request shape a route accepts.
#[derive(Debug, Clone, Default)]
pub struct RequestRules {
    /// Allowed methods; empty means any.
    pub methods: Vec<Method>,
    /// Allowed body media types (`type/subtype`, lowercase; `type/*` and `*/*+json`
    /// style suffix patterns allowed); empty means any. A body without a
    /// Content-Type is refused when the list is set.
    pub content_types: Vec<MediaPattern>,
    /// Most query parameters; `None` means no limit beyond the target length.
    pub max_query_params: Option<usize>,
}

/// A media type pattern from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaPattern {
    /// Exactly `type/subtype`.
    Exact(String),
    /// Any subtype of `type/`.
    AnySubtype(String),
    /// Any `type/…+suffix` (written `*/*+json`).
    Suffix(String),
}

impl MediaPattern {
    /// Parses `application/json`, `text/*` or `*/*+json`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().to_ascii_lowercase();
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        let invalid = || format!("{raw:?} is not a media type such as application/json");
        let (ty, sub) = raw.split_once('/').ok_or_else(invalid)?;
        if ty == "*" {
            let suffix = sub.strip_prefix("*+").filter(|s| token(s));
            return suffix
                .map(|s| MediaPattern::Suffix(format!("+{s}")))
                .ok_or_else(invalid);
        }
        if !token(ty) {
            return Err(invalid());
        }
        match sub {
            "*" => Ok(MediaPattern::AnySubtype(format!("{ty}/"))),
            s if token(s) => Ok(MediaPattern::Exact(raw.clone())),
            _ => Err(invalid()),
        }
    }

    fn matches(&self, essence: &str) -> bool {
        match self {
            MediaPattern::Exact(m) => m == essence,
            MediaPattern::AnySubtype(prefix) => essence.starts_with(prefix.as_str()),
            MediaPattern::Suffix(suffix) => essence.ends_with(suffix.as_str()),
        }
    }
}

/// `type/subtype` of a Content-Type value, lowercase, without parameters.
fn essence(value: &str) -> Option<String> {
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    let (ty, sub) = essence.split_once('/')?;
    (!ty.is_empty() && !sub.is_empty() && !sub.contains('/')).then_some(essence)
}

/// Headers that Rails, Express, ASP.NET, Symfony and others read as the real method.
const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

fn has_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// Counts `&`-separated parameters, ignoring empty ones (`a=1&&b=2` has two).
pub(crate) fn query_param_count(query: &str) -> usize {
    query.split('&').filter(|p| !p.is_empty()).count()
}

impl RequestRules {
    fn verdict(&self, head: &RequestHead) -> Verdict {
        let deny = |reason, rule: &str| {
            Verdict::Deny(Denial::new("request-rules", reason).with_rule(rule))
        };
        if !self.methods.is_empty() {
            if !self.methods.contains(&head.parts.method) {
                return deny(Reason::MethodNotAllowed, "method");
            }
            if !self.overrides_allowed(&head.parts.headers) {
                return deny(Reason::MethodNotAllowed, "method-override");
            }
        }
        if let Some(max) = self.max_query_params {
            let count = head.parts.uri.query().map_or(0, query_param_count);
            if count > max {
                return deny(Reason::BadRequest, "query-param-count");
            }
        }
        let headers = &head.parts.headers;
        if !self.content_types.is_empty() && has_body(headers) {
            let mut values = headers.get_all(CONTENT_TYPE).iter();
            let accepted = match (values.next(), values.next()) {
                (Some(value), None) => value
                    .to_str()
                    .ok()
                    .and_then(essence)
                    .is_some_and(|e| self.content_types.iter().any(|p| p.matches(&e))),
                _ => false, // none, or two: ambiguous
            };
            if !accepted {
                return deny(Reason::UnsupportedMediaType, "content-type");
            }
        }
        Verdict::Allow
    }
}

impl RequestRules {
    /// Whether every method-override header names an allowed method (names are
    /// case-sensitive like methods, but frameworks uppercase them: compare uppercased).
    fn overrides_allowed(&self, headers: &http::HeaderMap) -> bool {
        METHOD_OVERRIDES.iter().all(|name| {
            headers.get_all(*name).iter().all(|v| {
                v.to_str()
                    .ok()
                    .and_then(|m| Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()).ok())
                    .is_some_and(|m| self.methods.contains(&m))
            })
        })
    }
}

impl Check<RequestHead> for RequestRules {
    fn id(&self) -> &'static str {
        "request-rules"
    }

    fn check<'a>(&'a self, input: &'a RequestHead) -> CheckFuture<'a> {
        Box::pin(std::future::ready(Ok(self.verdict(input))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::tests::head_with_method;

    fn rules() -> RequestRules {
        RequestRules {
            methods: vec![Method::GET, Method::POST],
            content_types: ["application/json", "*/*+json", "text/*"]
                .iter()
                .map(|m| MediaPattern::parse(m).unwrap())
                .collect(),
            max_query_params: Some(3),
        }
    }

    fn rule(verdict: Verdict) -> Option<String> {
        match verdict {
            Verdict::Allow => None,
            Verdict::Deny(d) => d.rule,
        }
    }

    #[test]
    fn refuses_what_the_route_does_not_accept_and_allows_look_alikes() {
        let json = ("content-type", "application/json; charset=utf-8");
        let body = ("content-length", "2");
        type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Option<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            ("GET", "/x?a=1&b=2&c=3", vec![], None),
            (
                "GET",
                "/x?a=1&b=2&c=3&d=4",
                vec![],
                Some("query-param-count"),
            ),
            ("GET", "/x?a=1&&b=2&c=3&", vec![], None), // empty pieces are not parameters
            ("DELETE", "/x", vec![], Some("method")),
            ("get", "/x", vec![], Some("method")), // methods are case-sensitive
            (
                "POST",
                "/x",
                vec![("x-http-method-override", "DELETE")],
                Some("method-override"),
            ),
            (
                "POST",
                "/x",
                vec![("x-method-override", "put"), ("content-length", "0")],
                Some("method-override"),
            ),
            (
                "GET",
                "/x",
                vec![("x-http-method", "get"), ("x-http-method-override", "GET")],
                None,
            ),
            (
                "GET",
                "/x",
                vec![("x-http-method", "")],
                Some("method-override"),
            ),
            ("GET", "/x", vec![("x-http-methods", "DELETE")], None), // not an override header
            ("POST", "/x", vec![json, body], None),
            (
                "POST",
                "/x",
                vec![("content-type", "Application/JSON"), body],
                None,
            ),
            (
                "POST",
                "/x",
                vec![("content-type", "application/problem+json"), body],
                None,
            ),
            (
                "POST",
                "/x",
                vec![("content-type", "text/plain"), body],
                None,
            ),
            (
                "POST",
                "/x",
                vec![("content-type", "application/xml"), body],
                Some("content-type"),
            ),
            (
                "POST",
                "/x",
                vec![("content-type", "application/jsonx"), body],
                Some("content-type"),
            ),
            ("POST", "/x", vec![body], Some("content-type")),
            ("POST", "/x", vec![json, json, body], Some("content-type")),
            (
                "POST",
                "/x",
                vec![("content-type", "garbage"), body],
                Some("content-type"),
            ),
            ("POST", "/x", vec![("content-length", "0")], None), // no body, no type needed
            (
                "POST",
                "/x",
                vec![("transfer-encoding", "chunked")],
                Some("content-type"),
            ),
        ];
        let rules = rules();
        for (method, target, headers, want) in cases {
            let got = rule(rules.verdict(&head_with_method(method, target, &headers)));
            assert_eq!(got.as_deref(), want, "{method} {target} {headers:?}");
        }
    }

    #[test]
    fn parses_media_patterns() {
        assert_eq!(
            MediaPattern::parse("Application/JSON"),
            Ok(MediaPattern::Exact("application/json".into()))
        );
        assert_eq!(
            MediaPattern::parse("text/*"),
            Ok(MediaPattern::AnySubtype("text/".into()))
        );
        assert_eq!(
            MediaPattern::parse("*/*+xml"),
            Ok(MediaPattern::Suffix("+xml".into()))
        );
        for bad in ["json", "*/*", "a/b/c", "/x", "x/", "a b/c", "*/json"] {
            assert!(MediaPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
