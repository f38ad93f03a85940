//! The sign-in page (`GET /admin/login`), its script and its stylesheet: self-contained
//! files served from the binary under a CSP that allows only this origin's script and
//! style and `fetch` to this origin.

use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use super::api::{Body, full};

const PAGE: &str = include_str!("assets/login.html");
const SCRIPT: &str = include_str!("assets/login.js");
const STYLE: &str = include_str!("assets/login.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The sign-in page's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asset {
    Page,
    Script,
    Style,
}

impl Asset {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Asset::Page => "login page",
            Asset::Script => "login.js",
            Asset::Style => "login.css",
        }
    }

    pub(crate) fn response(self) -> Response<Body> {
        match self {
            Asset::Page => page(StatusCode::OK, false),
            Asset::Script => asset(SCRIPT, "text/javascript; charset=utf-8"),
            Asset::Style => asset(STYLE, "text/css; charset=utf-8"),
        }
    }
}

fn asset(body: &'static str, kind: &'static str) -> Response<Body> {
    let mut response = Response::new(full(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    secure_headers(headers);
    response
}

fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// The sign-in page; `failed` shows the generic failure line (for form posts).
pub(crate) fn page(status: StatusCode, failed: bool) -> Response<Body> {
    let html = if failed {
        PAGE.replace(" hidden>Login failed.", ">Login failed.")
    } else {
        PAGE.to_owned()
    };
    let mut response = asset("", "text/html; charset=utf-8");
    *response.body_mut() = full(html);
    *response.status_mut() = status;
    response
}
