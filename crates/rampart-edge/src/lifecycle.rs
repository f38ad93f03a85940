//! API versions and their lifecycle: a route can be marked deprecated or retired.
//!
//! ```toml
//! [[routes]]
//! name = "orders-v1"
//! path_prefix = "/v1/orders"
//! api_version = "v1"
//! lifecycle = { state = "deprecated", deprecated_at = "2026-06-01T00:00:00Z",
//!               sunset = "2027-01-31T00:00:00Z", successor = "/v2/orders",
//!               link = "https://docs.example/migrate" }
//! ```
//!
//! A deprecated route is served as usual, and **every** response of it, refusals
//! included, carries `Deprecation: @<unix seconds>` (RFC 9745), `Sunset: <HTTP-date>`
//! (RFC 8594) and `Link` headers to the successor and the migration notes: RFC 9745
//! deprecates the resource, not one answer, and a client that only ever sees refusals
//! must still learn it. A retired route is answered by the edge itself with 410 and a
//! problem body (reason `api-retired`) plus the same headers; nothing reaches the
//! inner tier. Dates and links are checked at load, so a header value is never built
//! from unchecked text.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue, LINK};
use rampart_core::check::{Check, CheckFuture, Denial, Verdict};
use rampart_core::config::Problems;
use rampart_core::phase::RequestHead;
use rampart_core::problem::Reason;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `Deprecation` (RFC 9745).
const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
/// `Sunset` (RFC 8594).
const SUNSET: HeaderName = HeaderName::from_static("sunset");

/// `lifecycle = { ... }` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLifecycle {
    state: Option<String>,
    deprecated_at: Option<String>,
    sunset: Option<String>,
    successor: Option<String>,
    link: Option<String>,
}

/// Where a route's API version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Served without lifecycle headers (the default).
    Active,
    /// Served, with `Deprecation`, `Sunset` and `Link` headers on every response.
    Deprecated,
    /// Refused by the edge with 410 Gone.
    Retired,
}

/// A route's validated lifecycle: its state and the headers its responses carry.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// The state.
    pub state: State,
    /// Built at load from checked values, in the order they are sent.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Lifecycle {
    /// Adds the lifecycle headers to a response of the route. `Deprecation` and
    /// `Sunset` replace what a backend sent; `Link` values are added to its own.
    pub(crate) fn decorate(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            if name == LINK {
                headers.append(name.clone(), value.clone());
            } else {
                headers.insert(name.clone(), value.clone());
            }
        }
    }

    /// The check that refuses every request of a retired route; `None` otherwise.
    pub(crate) fn retired_check(&self) -> Option<RetiredCheck> {
        (self.state == State::Retired).then_some(RetiredCheck)
    }
}

/// Refuses every request with 410 (`api-retired`): the route's version was retired.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetiredCheck;

impl Check<RequestHead> for RetiredCheck {
    fn id(&self) -> &'static str {
        "api-lifecycle"
    }

    fn check<'a>(&'a self, _input: &'a RequestHead) -> CheckFuture<'a> {
        let denial = Denial::new("api-lifecycle", Reason::Gone).with_rule("retired");
        Box::pin(std::future::ready(Ok(Verdict::Deny(denial))))
    }
}

/// Validates `api_version`: short, letters, digits, `.`, `_` and `-` (it is a label).
pub(crate) fn validate_version(p: &mut Problems, key: &str, raw: &str) -> Option<String> {
    let ok = !raw.is_empty()
        && raw.len() <= 32
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Some(raw.to_owned())
    } else {
        p.push(
            key,
            format!("{raw:?} must be 1 to 32 letters, digits, '.', '_' or '-'"),
        );
        None
    }
}

/// Validates `routes[i].lifecycle`; every problem is reported under `key`.
pub(crate) fn validate(p: &mut Problems, key: &str, raw: &RawLifecycle) -> Option<Lifecycle> {
    let before = p.is_empty();
    let state = match raw.state.as_deref() {
        Some("active") => Some(State::Active),
        Some("deprecated") => Some(State::Deprecated),
        Some("retired") => Some(State::Retired),
        Some(other) => {
            p.push(
                format!("{key}.state"),
                format!("{other:?} is not one of active, deprecated, retired"),
            );
            None
        }
        None => {
            p.push(format!("{key}.state"), "is required");
            None
        }
    };
    let deprecated_at = raw
        .deprecated_at
        .as_deref()
        .and_then(|v| date(p, &format!("{key}.deprecated_at"), v));
    let sunset = raw
        .sunset
        .as_deref()
        .and_then(|v| date(p, &format!("{key}.sunset"), v));
    if let (Some(from), Some(until)) = (deprecated_at, sunset)
        && until <= from
    {
        p.push(
            format!("{key}.sunset"),
            "must be after lifecycle.deprecated_at",
        );
    }
    if state == Some(State::Deprecated) && raw.deprecated_at.is_none() {
        p.push(
            format!("{key}.deprecated_at"),
            "is required for a deprecated route (the Deprecation header carries it)",
        );
    }
    let successor = raw
        .successor
        .as_deref()
        .and_then(|v| target(p, &format!("{key}.successor"), v));
    let link = raw
        .link
        .as_deref()
        .and_then(|v| target(p, &format!("{key}.link"), v));
    let state = state?;
    if state == State::Active {
        if raw.deprecated_at.is_some() || raw.sunset.is_some() {
            p.push(
                format!("{key}.state"),
                "an active route has no deprecation or sunset date; set \"deprecated\"",
            );
        }
        return Some(Lifecycle {
            state,
            headers: Vec::new(),
        });
    }
    // Only after every value was checked: a header is never built from a refused one.
    if before && !p.is_empty() {
        return None;
    }
    let mut headers = Vec::new();
    let mut push = |name: HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.push((name, v));
        }
    };
    if let Some(at) = deprecated_at {
        push(DEPRECATION, format!("@{}", at.unix_timestamp()));
    }
    if let Some(at) = sunset {
        push(SUNSET, http_date(at));
    }
    if let Some(successor) = successor {
        push(LINK, format!("<{successor}>; rel=\"successor-version\""));
    }
    if let Some(link) = link {
        push(
            LINK,
            format!("<{link}>; rel=\"deprecation\"; type=\"text/html\""),
        );
    }
    Some(Lifecycle { state, headers })
}

/// An RFC 3339 date with an offset, e.g. `2027-01-31T00:00:00Z`.
fn date(p: &mut Problems, key: &str, raw: &str) -> Option<OffsetDateTime> {
    match OffsetDateTime::parse(raw, &Rfc3339) {
        Ok(at) => Some(at),
        Err(_) => {
            p.push(
                key,
                format!("{raw:?} is not an RFC 3339 date such as 2027-01-31T00:00:00Z"),
            );
            None
        }
    }
}

/// A successor or documentation target: an absolute path (`/v2/orders`) or an
/// absolute `https` URL. Nothing that could break out of `<...>` in a `Link` value.
fn target(p: &mut Problems, key: &str, raw: &str) -> Option<String> {
    let clean = !raw.is_empty()
        && raw.len() <= 2048
        && raw
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'));
    let path = raw.starts_with('/') && !raw.starts_with("//");
    let url = raw.strip_prefix("https://").is_some_and(|rest| {
        rest.split(['/', '?', '#'])
            .next()
            .is_some_and(|h| !h.is_empty())
    });
    if clean && (path || url) {
        Some(raw.to_owned())
    } else {
        p.push(
            key,
            format!(
                "{raw:?} must be an absolute path (/v2/orders) or an https URL, without spaces, control characters, quotes or angle brackets"
            ),
        );
        None
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 31 Jan 2027 00:00:00 GMT`.
fn http_date(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let weekday = match at.weekday() {
        time::Weekday::Monday => "Mon",
        time::Weekday::Tuesday => "Tue",
        time::Weekday::Wednesday => "Wed",
        time::Weekday::Thursday => "Thu",
        time::Weekday::Friday => "Fri",
        time::Weekday::Saturday => "Sat",
        time::Weekday::Sunday => "Sun",
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[usize::from(u8::from(at.month())) - 1];
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        at.day(),
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn raw(state: &str, deprecated_at: &str, sunset: &str, successor: &str) -> RawLifecycle {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        RawLifecycle {
            state: some(state),
            deprecated_at: some(deprecated_at),
            sunset: some(sunset),
            successor: some(successor),
            link: None,
        }
    }

    fn problems(raw: &RawLifecycle) -> (Option<Lifecycle>, String) {
        let mut p = Problems::default();
        let got = validate(&mut p, "routes[3].lifecycle", raw);
        (got, format!("{p:?}"))
    }

    #[test]
    fn a_deprecated_route_gets_exact_rfc_headers() {
        let mut r = raw(
            "deprecated",
            "2026-06-01T00:00:00Z",
            "2027-01-31T00:00:00+00:00",
            "/v2/orders",
        );
        r.link = Some("https://docs.example/migrate".into());
        let (got, text) = problems(&r);
        let got = got.expect(&text);
        assert_eq!(got.state, State::Deprecated);
        let mut headers = HeaderMap::new();
        headers.insert("sunset", HeaderValue::from_static("from the backend"));
        headers.insert("link", HeaderValue::from_static("</other>; rel=\"next\""));
        got.decorate(&mut headers);
        assert_eq!(headers["deprecation"], "@1780272000");
        assert_eq!(headers["sunset"], "Sun, 31 Jan 2027 00:00:00 GMT");
        let links: Vec<_> = headers.get_all("link").iter().collect();
        assert_eq!(
            links,
            [
                "</other>; rel=\"next\"",
                "</v2/orders>; rel=\"successor-version\"",
                "<https://docs.example/migrate>; rel=\"deprecation\"; type=\"text/html\"",
            ]
        );
        assert!(got.retired_check().is_none());
    }

    #[test]
    fn http_dates_are_imf_fixdate_in_gmt() {
        let table = [
            ("1994-11-06T08:49:37Z", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("2027-01-31T01:00:00+01:00", "Sun, 31 Jan 2027 00:00:00 GMT"),
            ("2028-02-29T23:59:59Z", "Tue, 29 Feb 2028 23:59:59 GMT"),
        ];
        for (input, want) in table {
            let at = OffsetDateTime::parse(input, &Rfc3339).unwrap();
            assert_eq!(http_date(at), want, "{input}");
        }
    }

    #[test]
    fn a_retired_route_refuses_with_410_and_keeps_its_successor_link() {
        let (got, text) = problems(&raw("retired", "", "", "https://api.example/v2/orders"));
        let got = got.expect(&text);
        assert!(got.retired_check().is_some());
        let mut headers = HeaderMap::new();
        got.decorate(&mut headers);
        assert_eq!(
            headers["link"],
            "<https://api.example/v2/orders>; rel=\"successor-version\""
        );
        assert!(headers.get("deprecation").is_none());
        assert_eq!(Reason::Gone.status(), http::StatusCode::GONE);
        assert_eq!(Reason::Gone.code(), "api-retired");
    }

    #[test]
    fn bad_lifecycles_are_refused_with_their_key_path() {
        let table = [
            (raw("", "", "", ""), "routes[3].lifecycle.state"),
            (raw("sunsetting", "", "", ""), "routes[3].lifecycle.state"),
            (
                raw("deprecated", "", "", ""),
                "routes[3].lifecycle.deprecated_at",
            ),
            (
                raw("deprecated", "2026-06-01", "", ""),
                "routes[3].lifecycle.deprecated_at",
            ),
            (
                raw("deprecated", "2026-06-01T00:00:00Z", "Sun, 31 Jan 2027", ""),
                "routes[3].lifecycle.sunset",
            ),
            (
                raw(
                    "deprecated",
                    "2026-06-01T00:00:00Z",
                    "2026-05-01T00:00:00Z",
                    "",
                ),
                "routes[3].lifecycle.sunset",
            ),
            (
                raw("retired", "", "", "v2/orders"),
                "routes[3].lifecycle.successor",
            ),
            (
                raw("retired", "", "", "//evil.example/x"),
                "routes[3].lifecycle.successor",
            ),
            (
                raw("retired", "", "", "http://api.example/v2"),
                "routes[3].lifecycle.successor",
            ),
            (
                raw("retired", "", "", "/v2\r\nSet-Cookie: a=b"),
                "routes[3].lifecycle.successor",
            ),
            (
                raw("retired", "", "", "/v2>; rel=x"),
                "routes[3].lifecycle.successor",
            ),
            (
                raw("retired", "", "", "https://"),
                "routes[3].lifecycle.successor",
            ),
            (
                raw("active", "2026-06-01T00:00:00Z", "", ""),
                "routes[3].lifecycle.state",
            ),
        ];
        for (r, key) in table {
            let (got, text) = problems(&r);
            assert!(text.contains(key), "{r:?}: {text}");
            assert!(
                got.is_none_or(|l| l.state == State::Active && l.headers.is_empty()),
                "{r:?}"
            );
        }
        // Look-alikes that are fine.
        for r in [
            raw("retired", "", "", "/v2/orders?view=full"),
            raw("retired", "", "", "https://api.example:8443/v2"),
            raw(
                "retired",
                "2025-01-01T00:00:00Z",
                "2025-06-01T00:00:00Z",
                "",
            ),
            raw("active", "", "", ""),
        ] {
            let (got, text) = problems(&r);
            assert!(got.is_some(), "{r:?}: {text}");
        }
    }

    #[test]
    fn api_versions_are_short_labels() {
        for (v, ok) in [
            ("v1", true),
            ("2024-06-01", true),
            ("v1.2_beta", true),
            ("", false),
            ("v 1", false),
            ("v1/", false),
            (&"x".repeat(33), false),
        ] {
            let mut p = Problems::default();
            assert_eq!(
                validate_version(&mut p, "routes[0].api_version", v).is_some(),
                ok,
                "{v}"
            );
        }
    }
}
