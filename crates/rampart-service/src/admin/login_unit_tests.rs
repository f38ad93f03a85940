#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn recognises_cross_site_requests() {
    let table: [(&[(&str, &str)], bool); 10] = [
        (&[], false),
        (&[("sec-fetch-site", "same-origin")], false),
        (&[("sec-fetch-site", "none")], false),
        (&[("sec-fetch-site", "cross-site")], true),
        (&[("sec-fetch-site", "same-site")], true),
        (
            &[("origin", "https://admin:9901"), ("host", "admin:9901")],
            false,
        ),
        (
            &[("origin", "https://evil.example"), ("host", "admin:9901")],
            true,
        ),
        (&[("origin", "null"), ("host", "admin:9901")], true),
        // A strict referrer policy makes the browser send `Origin: null` with its own
        // same-origin statement: the statement wins.
        (
            &[
                ("origin", "null"),
                ("host", "admin:9901"),
                ("sec-fetch-site", "same-origin"),
            ],
            false,
        ),
        (
            &[
                ("origin", "https://evil.example"),
                ("host", "admin:9901"),
                ("sec-fetch-site", "cross-site"),
            ],
            true,
        ),
    ];
    for (pairs, want) in table {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.insert(
                http::HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        assert_eq!(cross_site(&headers), want, "{pairs:?}");
    }
}

#[test]
fn reads_json_and_form_bodies() {
    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let (f, is_json) = Form::parse(
        &json,
        br#"{"username":"a","password":"p w","code":"123456"}"#,
    )
    .unwrap();
    assert!(is_json);
    assert_eq!(f.password.as_deref(), Some("p w"));
    assert!(Form::parse(&json, br#"{"username":"a","extra":1}"#).is_none());
    let (f, is_json) =
        Form::parse(&HeaderMap::new(), b"username=a&password=p+w%21&code=123456").unwrap();
    assert!(!is_json);
    assert_eq!(f.password.as_deref(), Some("p w!"));
    assert_eq!(f.code.as_deref(), Some("123456"));
}
