//! Header hygiene shared by both tiers.
//!
//! Requests lose their hop-by-hop headers (RFC 9110 §7.6.1, including those named in
//! `Connection`) and every client-supplied copy of a header Rampart sets itself, so a
//! backend can trust `X-Forwarded-For`, `X-Request-Id` and `traceparent`. Responses lose
//! hop-by-hop headers and the banners that fingerprint the backend.

use http::HeaderMap;
use http::header::{CONNECTION, HeaderName};

/// The request id header both tiers set on requests and responses.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// W3C trace context.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Hop-by-hop headers that never cross a proxy.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers Rampart sets; a client's copies are removed before forwarding.
const RAMPART_OWNED: [&str; 10] = [
    "x-request-id",
    "traceparent",
    "tracestate",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
    "x-client-ip",
];

/// Headers that make some servers route by another URL than the request's (IIS URL
/// Rewrite, Symfony, Zend): a client's copy would steer past path rules and allow-lists.
const ROUTING_OVERRIDES: [&str; 2] = ["x-original-url", "x-rewrite-url"];

/// A framework's internal request markers: Next.js skips its middleware (and the
/// authentication many apps do there) for a request carrying `x-middleware-subrequest`.
const INTERNAL_MARKERS: [&str; 1] = ["x-middleware-subrequest"];

/// Prefix of Rampart's own metadata headers; client copies are removed.
const RAMPART_PREFIX: &str = "x-rampart-";

/// Response headers that reveal the backend's software.
const BANNERS: [&str; 4] = [
    "server",
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
];

fn remove_connection_listed(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
}

fn is_removed_from_requests(name: &HeaderName) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name)
        || RAMPART_OWNED.contains(&name)
        || ROUTING_OVERRIDES.contains(&name)
        || INTERNAL_MARKERS.contains(&name)
        || name.starts_with(RAMPART_PREFIX)
}

/// Removes every header `doomed` names, plus those listed in `Connection` when any
/// hop-by-hop header is present. One pass over the (few) headers present instead of a
/// removal per listed name: this runs on every request and response in both tiers.
fn remove_matching(headers: &mut HeaderMap, doomed: fn(&HeaderName) -> bool) {
    if !headers.keys().any(doomed) {
        return;
    }
    remove_connection_listed(headers);
    let names: Vec<HeaderName> = headers.keys().filter(|k| doomed(k)).cloned().collect();
    for name in names {
        headers.remove(name);
    }
}

/// Prepares client request headers for forwarding.
pub fn sanitize_request(headers: &mut HeaderMap) {
    remove_matching(headers, is_removed_from_requests);
}

fn is_removed_from_responses(name: &HeaderName) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name) || BANNERS.contains(&name)
}

/// Prepares backend response headers for the client.
pub fn sanitize_response(headers: &mut HeaderMap) {
    remove_matching(headers, is_removed_from_responses);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn request_sanitizing_removes_hop_by_hop_and_spoofed_headers_only() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-forwarded-for", "1.2.3.4"),
            ("X-Real-IP", "1.2.3.4"),
            ("x-request-id", "forged"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            ),
            ("x-rampart-principal", "admin"),
            ("X-Original-URL", "/admin/users"),
            ("x-rewrite-url", "/console"),
            (
                "x-middleware-subrequest",
                "middleware:middleware:middleware",
            ),
            // look-alikes that must stay
            ("x-forwarded-for-app", "kept"),
            ("accept", "application/json"),
            ("x-custom", "a"),
            ("x-custom", "b"),
        ]);
        sanitize_request(&mut h);
        let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept", "x-custom", "x-forwarded-for-app"]);
        assert_eq!(
            h.get_all("x-custom").iter().count(),
            2,
            "repeated headers survive"
        );
    }

    #[test]
    fn response_sanitizing_removes_banners_and_hop_by_hop() {
        let mut h = map(&[
            ("server", "Apache/2.4.1"),
            ("x-powered-by", "PHP/5.4"),
            ("transfer-encoding", "chunked"),
            ("content-type", "application/json"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]);
        sanitize_response(&mut h);
        assert!(h.get("server").is_none() && h.get("x-powered-by").is_none());
        assert!(h.get("transfer-encoding").is_none());
        assert_eq!(h.get_all("set-cookie").iter().count(), 2);
        assert_eq!(h["content-type"], "application/json");
    }
}
