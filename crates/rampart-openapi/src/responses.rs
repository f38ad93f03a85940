//! Response contracts: per operation, the documented statuses (`200`, `2XX`, `default`)
//! with their media types and body schemas, compiled at load when the caller asks for
//! response validation, and the check of one backend response against them.

use serde_json::{Map, Value};

use crate::check::{Class, Violation, media_entry};
use crate::contract::{Contract, MediaEntry, is_json, media_entries};
use crate::doc::{child, deref};
use crate::error::LoadError;
use crate::instance::Instance;
use crate::limits::LoadLimits;
use crate::schema::Compiler;
use crate::schema::validate::Run;

/// Which statuses a `responses` key covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusKey {
    Exact(u16),
    /// `4XX` -> 4.
    Range(u8),
    Default,
}

#[derive(Debug, Clone)]
struct Documented {
    key: StatusKey,
    /// Empty: the response documents no body.
    media: Vec<MediaEntry>,
}

/// The compiled `responses` of one operation.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResponseBodies {
    /// The operation has a `responses` object at all (without one, nothing is checked).
    declared: bool,
    entries: Vec<Documented>,
}

impl ResponseBodies {
    /// The entry for `status`: exact code first, then its range, then `default`.
    fn find(&self, status: u16) -> Option<&Documented> {
        let range = u8::try_from(status / 100).unwrap_or(0);
        let by = |k: StatusKey| self.entries.iter().find(|e| e.key == k);
        by(StatusKey::Exact(status))
            .or_else(|| by(StatusKey::Range(range)))
            .or_else(|| by(StatusKey::Default))
    }
}

/// Compiles `op.responses` (operation object at `at`).
pub(crate) fn compile(
    compiler: &mut Compiler<'_>,
    doc: &Value,
    op: &Map<String, Value>,
    at: &str,
    limits: &LoadLimits,
) -> Result<ResponseBodies, LoadError> {
    let Some(responses) = op.get("responses") else {
        return Ok(ResponseBodies::default());
    };
    let r_at = child(at, "responses");
    let Some(responses) = responses.as_object() else {
        return Err(LoadError::invalid(&r_at, "must be an object"));
    };
    let mut out = ResponseBodies {
        declared: true,
        entries: Vec::new(),
    };
    for (key, response) in responses {
        if key.starts_with("x-") {
            continue;
        }
        let e_at = child(&r_at, key);
        let upper = key.to_ascii_uppercase();
        let status = if upper == "DEFAULT" {
            StatusKey::Default
        } else if let Ok(code @ 100..=599) = upper.parse::<u16>() {
            StatusKey::Exact(code)
        } else if let [d @ b'1'..=b'5', b'X', b'X'] = upper.as_bytes() {
            StatusKey::Range(d - b'0')
        } else {
            return Err(LoadError::invalid(
                &e_at,
                "not a status code, NXX or default",
            ));
        };
        let (response, at) = deref(doc, response, &e_at, limits)?;
        let media = match response.get("content") {
            None => Vec::new(),
            Some(content) => {
                let Some(content) = content.as_object() else {
                    return Err(LoadError::invalid(
                        &child(&at, "content"),
                        "must be an object",
                    ));
                };
                media_entries(compiler, content, &at)?
            }
        };
        out.entries.push(Documented { key: status, media });
    }
    Ok(out)
}

/// A backend response as the contract sees it.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The request method, uppercase (finds the operation).
    pub method: &'a str,
    /// The request path, percent-encoded, without the query.
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// The response `Content-Type`.
    pub content_type: Option<&'a str>,
    /// The decoded body when it was read whole; `None` when it was not inspected
    /// (only status and media type are checked then). Empty: no body.
    pub body: Option<&'a [u8]>,
}

/// What the contract says about one response.
#[derive(Debug, Clone, Default)]
pub struct ResponseOutcome {
    /// The operation (`GET /orders/{id}`), when the request matched one.
    pub operation: Option<String>,
    /// Violations (class [`Class::Response`]), capped like request violations.
    pub violations: Vec<Violation>,
}

impl Contract {
    /// Checks a backend response to `method path`. Requests the spec does not document
    /// (refused or reported by the request check) and contracts loaded without
    /// response schemas yield no violations.
    pub fn check_response(&self, response: &Response<'_>) -> ResponseOutcome {
        let mut out = ResponseOutcome::default();
        if !self.with_responses {
            return out;
        }
        let Some((i, _)) = self.match_path(response.path) else {
            return out;
        };
        let Some((_, op)) = self.paths[i]
            .operations
            .iter()
            .find(|(m, _)| m == response.method)
        else {
            return out;
        };
        out.operation = Some(op.label.clone());
        if !op.bodies.declared {
            return out;
        }
        let mut violate = |keyword: &'static str, location: &str| {
            out.violations.push(Violation {
                class: Class::Response,
                keyword,
                location: location.to_owned(),
            });
        };
        let Some(entry) = op.bodies.find(response.status) else {
            violate("undocumented-status", "status");
            return out;
        };
        let body = response.body;
        let has_body = body.is_none_or(|b| !b.is_empty());
        if entry.media.is_empty() {
            if body.is_some_and(|b| !b.is_empty()) {
                violate("media-type", "content-type");
            }
            return out;
        }
        if !has_body {
            return out;
        }
        let essence = response
            .content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let Some(media) = media_entry(&entry.media, &essence) else {
            violate("media-type", "content-type");
            return out;
        };
        let (Some(schema), Some(bytes)) = (media.schema, body) else {
            return out;
        };
        if !is_json(&essence) {
            return out;
        }
        let value = match Instance::from_slice(bytes) {
            Some(v) => v,
            None => {
                violate("json", "json:");
                return out;
            }
        };
        let run = Run::new(&self.schemas, &self.limits, "json:")
            .for_response()
            .validate_document(schema, &value);
        for e in run.errors {
            violate(e.keyword, &e.location);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SPEC: &str = r#"openapi: 3.1.0
paths:
  /orders/{id}:
    get:
      responses:
        200:
          content:
            application/json:
              schema:
                type: object
                required: [id, total]
                additionalProperties: false
                properties:
                  id: {type: integer, readOnly: true}
                  total: {type: number}
                  password: {type: string, writeOnly: true}
        404: {$ref: '#/components/responses/NotFound'}
        5XX: {description: failure}
    delete:
      responses:
        default: {description: anything, content: {'*/*': {}}}
    put: {}
components:
  responses:
    NotFound:
      description: no such order
      content:
        application/problem+json:
          schema: {type: object, required: [title]}
"#;

    fn check(
        method: &str,
        status: u16,
        ct: Option<&str>,
        body: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let c =
            Contract::from_bytes_with_responses(SPEC.as_bytes(), &LoadLimits::default()).unwrap();
        let out = c.check_response(&Response {
            method,
            path: "/orders/7",
            status,
            content_type: ct,
            body: body.map(str::as_bytes),
        });
        out.violations
            .into_iter()
            .map(|v| (v.keyword, v.location))
            .collect()
    }

    #[test]
    fn responses_are_checked_for_status_media_type_and_schema() {
        let json = Some("application/json; charset=utf-8");
        let problem = Some("application/problem+json");
        let v = |k: &'static str, l: &str| vec![(k, l.to_owned())];
        // (method, status, content type, body, expected (keyword, location) list)
        type Case<'a> = (
            &'a str,
            u16,
            Option<&'a str>,
            Option<&'a str>,
            Vec<(&'static str, String)>,
        );
        let cases: [Case<'_>; 13] = [
            ("GET", 200, json, Some(r#"{"id":7,"total":9.5}"#), vec![]),
            // readOnly belongs in responses; writeOnly must never come back.
            (
                "GET",
                200,
                json,
                Some(r#"{"id":7,"total":1,"password":"x"}"#),
                v("writeOnly", "json:/password"),
            ),
            (
                "GET",
                200,
                json,
                Some(r#"{"id":7,"total":1,"ssn":"x"}"#),
                v("additionalProperties", "json:/ssn"),
            ),
            (
                "GET",
                200,
                json,
                Some(r#"{"total":1}"#),
                v("required", "json:/id"),
            ),
            ("GET", 200, json, Some("{not json"), v("json", "json:")),
            (
                "GET",
                200,
                Some("text/html"),
                Some("<h1>hi</h1>"),
                v("media-type", "content-type"),
            ),
            // Not inspected (too large, binary): status and media type only.
            ("GET", 200, json, None, vec![]),
            ("GET", 404, problem, Some(r#"{"title":"no"}"#), vec![]),
            (
                "GET",
                404,
                problem,
                Some(r#"{}"#),
                v("required", "json:/title"),
            ),
            ("GET", 503, None, Some(""), vec![]),
            (
                "GET",
                503,
                Some("text/plain"),
                Some("trace"),
                v("media-type", "content-type"),
            ),
            (
                "GET",
                302,
                None,
                Some(""),
                v("undocumented-status", "status"),
            ),
            ("DELETE", 418, Some("image/png"), Some("\u{1}PNG"), vec![]),
        ];
        for (method, status, ct, body, expected) in cases {
            assert_eq!(
                check(method, status, ct, body),
                expected,
                "{method} {status} {body:?}"
            );
        }
        // No `responses` object: nothing to compare with.
        assert_eq!(check("PUT", 500, None, Some("x")), vec![]);
    }

    #[test]
    fn contracts_loaded_for_requests_only_check_no_responses() {
        let c = Contract::from_bytes(SPEC.as_bytes(), &LoadLimits::default()).unwrap();
        let out = c.check_response(&Response {
            method: "GET",
            path: "/orders/7",
            status: 302,
            content_type: None,
            body: None,
        });
        assert!(out.violations.is_empty());
        // Unsupported keywords in response schemas only matter when responses are compiled.
        let spec = SPEC.replace("required: [title]", "unevaluatedProperties: false");
        assert!(Contract::from_bytes(spec.as_bytes(), &LoadLimits::default()).is_ok());
        assert!(
            Contract::from_bytes_with_responses(spec.as_bytes(), &LoadLimits::default()).is_err()
        );
    }
}
