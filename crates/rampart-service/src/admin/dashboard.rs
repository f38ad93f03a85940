//! `GET /dashboard`: one page, its script and its stylesheet, all served from the binary
//! under a strict Content-Security-Policy (`default-src 'self'`, no inline script, no
//! external origin). The script only ever inserts data with `textContent`: event fields
//! (locations, fragments) are attacker-chosen text.
//!
//! Browsers cannot send bearer tokens on navigation, so an unauthenticated visit gets the
//! sign-in page of [`super::login`] (password + TOTP, or an admin token), which opens a
//! session cookie. Client certificates work directly.

use std::sync::LazyLock;

use http::Response;
use http::header::{self, HeaderValue};

use rampart_core::problem::Reason;

use super::api::{Body, full};

const PAGE: &str = include_str!("assets/dashboard.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");

/// The script with [`explain`] for every reason code filled in.
static RENDERED_SCRIPT: LazyLock<String> = LazyLock::new(|| {
    let table: serde_json::Map<String, serde_json::Value> = Reason::ALL
        .iter()
        .map(|r| (r.code().to_owned(), explain(*r).into()))
        .collect();
    SCRIPT.replacen(
        "/*REASONS*/{}",
        &serde_json::Value::Object(table).to_string(),
        1,
    )
});

/// What a reason code means, for the operator reading the event list (clients only get
/// the reason's title, which deliberately says less).
pub(crate) fn explain(reason: Reason) -> &'static str {
    match reason {
        Reason::BadRequest => {
            "Malformed HTTP: framing, header syntax or body encoding broke the rules; often a scanner or a smuggling attempt."
        }
        Reason::IncompleteBody => "The body ended before its declared length or could not be read.",
        Reason::Unauthenticated => {
            "No valid credential: missing, expired or wrong token, key or client certificate."
        }
        Reason::Forbidden => {
            "Authenticated, but a policy (scope, role, consumer rule) does not allow this call."
        }
        Reason::AddressDenied => {
            "The client address is on a deny list, off an allow list, or blocked by an operator."
        }
        Reason::AttackDetected => {
            "Injection screening or content inspection matched an attack pattern (SQL, XSS, command, path traversal...)."
        }
        Reason::MalwareFound => "The antivirus engine found malware in the uploaded content.",
        Reason::NoRoute => "No configured route matches this host and path.",
        Reason::MethodNotAllowed => "The route does not accept this HTTP method.",
        Reason::RequestTimeout => {
            "The client sent the request too slowly (slowloris-style or a stalled upload)."
        }
        Reason::BodyTooLarge => "The body is larger than the route's limit.",
        Reason::UriTooLong => "The request target is longer than allowed.",
        Reason::UnsupportedMediaType => "The body's content type is not accepted on this route.",
        Reason::UnprocessableContent => {
            "The body or parameters violate the API contract (OpenAPI schema)."
        }
        Reason::RateLimited => "A rate limit or quota for this client or consumer was reached.",
        Reason::HeadersTooLarge => "Too many header fields, or fields too large.",
        Reason::Internal => "Rampart failed internally; nothing was forwarded.",
        Reason::UpstreamUnavailable => "The backend refused, reset or answered invalidly.",
        Reason::InnerUnavailable => {
            "The edge could not reach any inner-tier endpoint; nothing was forwarded."
        }
        Reason::InspectionUnavailable => {
            "A check could not decide (e.g. the antivirus is down) and failed closed."
        }
        Reason::Overloaded => "Rampart was at capacity or shutting down.",
        Reason::UpstreamTimeout => "The backend did not answer in time.",
        Reason::Gone => "The API version was retired; the client should move to its successor.",
        Reason::ResponseLeak => {
            "The backend's response leaked a stack trace, SQL error, card number or secret and was withheld."
        }
        Reason::ResponseInvalid => {
            "The backend's response violated the OpenAPI contract (status, media type or schema)."
        }
        Reason::ResponseNotInspected => {
            "The backend's response could not be inspected and the route refuses uninspected responses."
        }
        _ => "",
    }
}

/// The policy of the dashboard and its assets.
pub(crate) const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// One of the dashboard's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asset {
    Page,
    Script,
    Style,
}

impl Asset {
    pub(crate) fn at(path: &str) -> Option<Asset> {
        match path {
            "/dashboard" | "/dashboard/" => Some(Asset::Page),
            "/dashboard.js" => Some(Asset::Script),
            "/dashboard.css" => Some(Asset::Style),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Asset::Page => "dashboard",
            Asset::Script => "dashboard.js",
            Asset::Style => "dashboard.css",
        }
    }

    pub(crate) fn response(self) -> Response<Body> {
        let (body, kind) = match self {
            Asset::Page => (PAGE, "text/html; charset=utf-8"),
            Asset::Script => (RENDERED_SCRIPT.as_str(), "text/javascript; charset=utf-8"),
            Asset::Style => (STYLE, "text/css; charset=utf-8"),
        };
        let mut response = Response::new(full(body));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        secure_headers(headers, CSP);
        response
    }
}

fn secure_headers(headers: &mut http::HeaderMap, csp: &str) {
    if let Ok(csp) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: the latter makes browsers send `Origin: null`
    // with the sign-in form, which the login-CSRF check must refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_code_is_explained_in_the_script() {
        assert!(!RENDERED_SCRIPT.contains("/*REASONS*/"));
        for reason in Reason::ALL {
            assert!(!explain(reason).is_empty(), "{}", reason.code());
            assert!(
                RENDERED_SCRIPT.contains(&format!("\"{}\":", reason.code())),
                "{}",
                reason.code()
            );
        }
    }

    #[test]
    fn assets_load_nothing_from_elsewhere() {
        for asset in [PAGE, SCRIPT, STYLE, include_str!("assets/login.css")] {
            for foreign in ["http://", "https://", "//fonts", "@import", "url("] {
                let hits = asset.matches(foreign).count()
                    - asset.matches("http://www.w3.org/2000/svg").count()
                        * usize::from(foreign == "http://");
                assert_eq!(hits, 0, "{foreign} in an asset");
            }
        }
    }
}
