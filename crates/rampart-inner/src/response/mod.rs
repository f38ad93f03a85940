//! Response protection (`[routes.response]`): security headers on every response;
//! optionally the backend's body is read (up to `inspect_limit`), decoded, checked
//! against the route's OpenAPI contract and scanned for leaks, and only released once
//! it passed. A refusal is a 502 problem (`response-invalid`, `response-leak`,
//! `response-not-inspected`) built by the exchange; the audit record names the rule
//! and the JSON Pointer, never the leaked value. Bodies that cannot be inspected
//! (larger than the limit, binary media types, unsupported or broken codings) stream
//! on untouched with one `response-not-inspected` audit note, or are refused.

mod body;
pub(crate) mod config;
mod leaks;
mod pointer;

use std::time::Instant;

use crate::upstream::ResponseBody;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
};
use rampart_core::check::Denial;
use rampart_core::problem::Reason;
use rampart_service::audit::Action as AuditAction;

pub(crate) use body::BackendBody;
use config::{Action, SecurityHeaders, Uninspected};
pub(crate) use config::{RawResponse, ResponsePolicy};
use leaks::Kind;

use crate::exchange::Audit;

/// Audit records name at most this many findings of one response.
const MAX_EXPLAINED: usize = 16;

/// What the response protection needs to know about the request.
pub(crate) struct Exchange<'a> {
    /// The request method, uppercase.
    pub(crate) method: &'a str,
    /// The request path, without the query.
    pub(crate) path: &'a str,
    /// The client reached the edge over TLS.
    pub(crate) tls: bool,
    /// The edge authenticated the caller.
    pub(crate) authenticated: bool,
    /// The route's contract, loaded with its response schemas.
    pub(crate) contract: Option<&'a rampart_openapi::Contract>,
}

/// The body to send on, and its length when known.
pub(crate) struct Released {
    pub(crate) body: BackendBody,
    pub(crate) content_length: Option<u64>,
}

/// Adds the route's security headers to `parts` and, when the route inspects
/// responses, reads, checks and possibly masks the body. `Err` withholds the response.
pub(crate) async fn protect(
    policy: &ResponsePolicy,
    exchange: &Exchange<'_>,
    audit: &Audit<'_>,
    parts: &mut http::response::Parts,
    content_length: Option<u64>,
    body: ResponseBody,
    deadline: Instant,
) -> Result<Released, Reason> {
    secure(&policy.headers, exchange, &mut parts.headers);
    let streamed = |body| Released {
        body: BackendBody::streamed(body),
        content_length,
    };
    if !policy.inspects() {
        return Ok(streamed(body));
    }
    let status = parts.status.as_u16();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let check = Check {
        policy,
        exchange,
        audit,
        status,
        content_type: content_type.as_deref(),
    };
    if exchange.method == "HEAD" || status < 200 || status == 204 || status == 304 {
        check.contract(Some(b""))?;
        return Ok(streamed(body));
    }
    let limit = policy.inspect_limit.as_usize();
    let coding = parts
        .headers
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().map(str::to_owned));
    let decode_limits = rampart_parse::DecodeLimits {
        max_output_bytes: limit,
        ..Default::default()
    };
    let skip = if !textual(content_type.as_deref()) {
        Some("binary")
    } else if content_length.is_some_and(|n| n > limit as u64) {
        Some("too-large")
    } else {
        match &coding {
            Some(Ok(c)) if rampart_parse::decode::codings(c, &decode_limits).is_ok() => None,
            Some(_) => Some("encoding"),
            None => None,
        }
    };
    if let Some(why) = skip {
        check.uninspected(why)?;
        check.contract(None)?;
        return Ok(streamed(body));
    }
    let mut body = body;
    let read = body::read(&mut body, limit, tokio::time::Instant::from_std(deadline)).await;
    let (raw, trailers) = match read {
        Ok(body::Read::Whole(raw, trailers)) => (raw, trailers),
        Ok(body::Read::Exceeded(prefix)) => {
            check.uninspected("too-large")?;
            check.contract(None)?;
            return Ok(Released {
                body: BackendBody::resumed(prefix, body),
                content_length,
            });
        }
        Err(e) => {
            tracing::warn!(request_id = %audit.request_id, error = %e, "backend response not received whole");
            return Err(match e {
                body::ReadError::Broken => Reason::UpstreamUnavailable,
                body::ReadError::TimedOut => Reason::UpstreamTimeout,
            });
        }
    };
    let coding = coding.and_then(Result::ok);
    let decoded = match rampart_parse::decode::decode(coding.as_deref(), &raw, &decode_limits) {
        Ok(decoded) => decoded,
        Err(_) => {
            // A bomb or a broken stream: as uninspectable as an unknown coding.
            check.uninspected("encoding")?;
            check.contract(None)?;
            return Ok(Released {
                body: BackendBody::whole(raw, trailers),
                content_length,
            });
        }
    };
    check.contract(Some(&decoded))?;
    match check.leaks(&decoded)? {
        None => Ok(Released {
            content_length: Some(raw.len() as u64),
            body: BackendBody::whole(raw, trailers),
        }),
        Some(masked) => {
            // The masked body goes out decoded: never under the old coding's header.
            parts.headers.remove(CONTENT_ENCODING);
            for stale in [
                ETAG.as_str(),
                "content-md5",
                "digest",
                "content-digest",
                "repr-digest",
            ] {
                parts.headers.remove(stale);
            }
            Ok(Released {
                content_length: Some(masked.len() as u64),
                body: BackendBody::whole(masked, trailers),
            })
        }
    }
}

/// Media types whose bodies are text worth inspecting; a body without a type is too.
fn textual(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((ty, sub)) = essence.split_once('/') else {
        return true;
    };
    ty == "text"
        || sub.ends_with("+json")
        || sub.ends_with("+xml")
        || matches!(
            sub,
            "json"
                | "xml"
                | "javascript"
                | "x-www-form-urlencoded"
                | "x-ndjson"
                | "yaml"
                | "x-yaml"
                | "graphql"
        )
}

/// Security headers: HSTS only towards TLS clients, `Cache-Control` only for
/// authenticated requests; a backend's own HSTS, Referrer-Policy and Cache-Control win.
fn secure(h: &SecurityHeaders, exchange: &Exchange<'_>, headers: &mut HeaderMap) {
    for name in &h.remove {
        headers.remove(name);
    }
    if let (true, Some(v)) = (exchange.tls, &h.hsts) {
        headers
            .entry(STRICT_TRANSPORT_SECURITY)
            .or_insert(v.clone());
    }
    if let Some(v) = &h.content_type_options {
        headers.insert(X_CONTENT_TYPE_OPTIONS, v.clone());
    }
    if let Some(v) = &h.referrer_policy {
        headers.entry(REFERRER_POLICY).or_insert(v.clone());
    }
    if let (true, Some(v)) = (exchange.authenticated, &h.cache_control) {
        headers.entry(CACHE_CONTROL).or_insert(v.clone());
    }
}

/// The checks of one response, with what they need to report.
struct Check<'a> {
    policy: &'a ResponsePolicy,
    exchange: &'a Exchange<'a>,
    audit: &'a Audit<'a>,
    status: u16,
    content_type: Option<&'a str>,
}

impl Check<'_> {
    /// Notes (once per response) that the body was not inspected, or refuses it.
    fn uninspected(&self, why: &str) -> Result<(), Reason> {
        let denial = Denial::new("response-inspection", Reason::ResponseNotInspected)
            .with_rule(format!("response-not-inspected:{why}"));
        if self.policy.uninspected == Uninspected::Block {
            self.audit.record(&denial, AuditAction::Block, &[]);
            return Err(Reason::ResponseNotInspected);
        }
        self.audit.record(&denial, AuditAction::Report, &[]);
        Ok(())
    }

    /// Status, media type and (when read) JSON body against the route's contract.
    fn contract(&self, body: Option<&[u8]>) -> Result<(), Reason> {
        let (Some(contract), true) = (self.exchange.contract, self.policy.validate != Action::Off)
        else {
            return Ok(());
        };
        let outcome = contract.check_response(&rampart_openapi::Response {
            method: self.exchange.method,
            path: self.exchange.path,
            status: self.status,
            content_type: self.content_type,
            body,
        });
        let Some(first) = outcome.violations.first() else {
            return Ok(());
        };
        let explanation: Vec<String> = outcome
            .violations
            .iter()
            .take(MAX_EXPLAINED)
            .map(|v| format!("{}@{}", v.keyword, v.location))
            .collect();
        let denial = Denial::new("response-contract", Reason::ResponseInvalid)
            .with_rule(first.keyword)
            .with_location(first.location.clone());
        if self.policy.validate == Action::Block {
            self.audit.record(&denial, AuditAction::Block, &explanation);
            return Err(Reason::ResponseInvalid);
        }
        self.audit
            .record(&denial, AuditAction::Report, &explanation);
        Ok(())
    }

    /// Scans for leaks: `Ok(None)` clean, `Ok(Some(masked))` masked, `Err` withheld.
    fn leaks(&self, body: &Bytes) -> Result<Option<Bytes>, Reason> {
        if self.policy.leaks == Action::Off {
            return Ok(None);
        }
        let found = leaks::scan(&self.policy.secrets, body);
        if found.is_empty() {
            return Ok(None);
        }
        let shown = &found[..found.len().min(MAX_EXPLAINED)];
        let json = self
            .content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .is_some_and(|c| c == "application/json" || c.ends_with("+json"));
        let locations = if json {
            // The locator walks the document once: offsets in ascending order.
            let mut order: Vec<usize> = (0..shown.len()).collect();
            order.sort_by_key(|&i| shown[i].range.start);
            let offsets: Vec<usize> = order.iter().map(|&i| shown[i].range.start).collect();
            let found_at = pointer::locate(&leaks::blanked(body, &found), &offsets);
            let mut locations = vec![String::new(); shown.len()];
            for (i, at) in order.into_iter().zip(found_at) {
                locations[i] = at;
            }
            locations
        } else {
            shown
                .iter()
                .map(|l| format!("body:{}", l.range.start))
                .collect()
        };
        let explanation: Vec<String> = shown
            .iter()
            .zip(&locations)
            .map(|(l, at)| format!("{}@{at}", l.rule))
            .collect();
        // Traces and SQL errors come first (see `leaks::scan`) and are never masked.
        let block = self.policy.leaks == Action::Block
            || shown[0].kind == Kind::Error
            || (json && leaks::unmaskable_in_json(body, &found));
        let denial = Denial::new("response-leak", Reason::ResponseLeak)
            .with_rule(shown[0].rule.clone())
            .with_location(locations[0].clone());
        if block {
            self.audit.record(&denial, AuditAction::Block, &explanation);
            return Err(Reason::ResponseLeak);
        }
        let mut masked = body.to_vec();
        leaks::mask(&mut masked, &found);
        let mut explanation = explanation;
        explanation.push(format!("masked {} value(s)", found.len()));
        self.audit
            .record(&denial, AuditAction::Report, &explanation);
        Ok(Some(Bytes::from(masked)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rampart_core::config::Problems;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn security_headers_follow_tls_authentication_and_the_backend() {
        let mut p = Problems::default();
        let policy = config::validate(&mut p, "routes[0]", None, false).unwrap();
        let exchange = |tls, authenticated| Exchange {
            method: "GET",
            path: "/",
            tls,
            authenticated,
            contract: None,
        };
        let hsts = "max-age=31536000; includeSubDomains";
        // (tls, authenticated, backend headers, expected HSTS, expected Cache-Control)
        type Case<'a> = (
            bool,
            bool,
            &'a [(&'a str, &'a str)],
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: [Case<'_>; 5] = [
            (false, false, &[], None, None),
            (true, false, &[], Some(hsts), None),
            (true, true, &[], Some(hsts), Some("no-store")),
            // The backend's own choices win.
            (
                true,
                true,
                &[
                    ("strict-transport-security", "max-age=60"),
                    ("cache-control", "max-age=5"),
                ],
                Some("max-age=60"),
                Some("max-age=5"),
            ),
            (
                false,
                true,
                &[("x-content-type-options", "sniff")],
                None,
                Some("no-store"),
            ),
        ];
        for (tls, authenticated, backend, want_hsts, want_cache) in cases {
            let mut h = headers(backend);
            secure(&policy.headers, &exchange(tls, authenticated), &mut h);
            let get = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(
                get("strict-transport-security").as_deref(),
                want_hsts,
                "{backend:?}"
            );
            assert_eq!(get("cache-control").as_deref(), want_cache, "{backend:?}");
            assert_eq!(get("x-content-type-options").as_deref(), Some("nosniff"));
            assert_eq!(get("referrer-policy").as_deref(), Some("no-referrer"));
        }
    }

    #[test]
    fn text_is_inspected_and_binary_is_not() {
        for ct in [
            None,
            Some("text/html; charset=utf-8"),
            Some("application/json"),
            Some("application/problem+json"),
            Some("application/soap+xml"),
            Some("application/x-www-form-urlencoded"),
        ] {
            assert!(textual(ct), "{ct:?}");
        }
        for ct in [
            "application/octet-stream",
            "image/png",
            "application/pdf",
            "application/zip",
            "video/mp4",
            "multipart/mixed; boundary=x",
        ] {
            assert!(!textual(Some(ct)), "{ct}");
        }
    }
}
