//! `GET /dashboard`: one page, its script and its stylesheet, all served from the binary
//! under a strict Content-Security-Policy (`default-src 'self'`, no inline script, no
//! external origin). The script only ever inserts data with `textContent`: event fields
//! (locations, fragments) are attacker-chosen text.
//!
//! Browsers cannot send bearer tokens on navigation, so an unauthenticated visit gets a
//! sign-in page that posts a token to `/admin/login`, which opens a session cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` over TLS). Client certificates work directly.

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::api::{Body, full};
use super::auth::SESSION_COOKIE;

const PAGE: &str = include_str!("assets/dashboard.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");
const LOGIN_STYLE: &str = include_str!("assets/login.css");

/// The policy of the dashboard and its assets.
pub(crate) const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The sign-in page has one inline stylesheet, allowed by its hash and nothing else.
static LOGIN_CSP: LazyLock<String> = LazyLock::new(|| {
    let digest = ring::digest::digest(&ring::digest::SHA256, LOGIN_STYLE.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

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
            Asset::Script => (SCRIPT, "text/javascript; charset=utf-8"),
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
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The sign-in page; `failed` adds a generic failure line (never why).
pub(crate) fn login_page(status: StatusCode, failed: bool) -> Response<Body> {
    let message = if failed {
        "<p class=\"error\">Sign-in failed.</p>"
    } else {
        ""
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Rampart — sign in</title><style>{LOGIN_STYLE}</style></head><body>\
         <form method=\"post\" action=\"/admin/login\"><h1>Rampart</h1>\
         <p>Operations dashboard</p>{message}\
         <label for=\"token\">Admin token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required autofocus>\
         <button type=\"submit\">Sign in</button></form></body></html>"
    );
    let mut response = Response::new(full(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(headers, &LOGIN_CSP);
    response
}

fn redirect(cookie: &str) -> Response<Body> {
    let mut response = Response::new(full(""));
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/dashboard"));
    if let Ok(cookie) = HeaderValue::from_str(cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// 303 to the dashboard, setting the session cookie.
pub(crate) fn redirect_with_session(id: &str, ttl: Duration, secure: bool) -> Response<Body> {
    let secure = if secure { "; Secure" } else { "" };
    redirect(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        ttl.as_secs()
    ))
}

/// 303 to the dashboard (its sign-in page), clearing the session cookie.
pub(crate) fn redirect_clearing_session(secure: bool) -> Response<Body> {
    let secure = if secure { "; Secure" } else { "" };
    redirect(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    ))
}
