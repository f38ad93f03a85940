//! Stable denial reasons and the one place that turns them into client responses.
//!
//! Every refusal either tier sends is built by [`Problem::to_response`]: the status comes
//! from the reason alone, the body is RFC 9457 `application/problem+json` with the reason
//! code and the request id, and nothing from the request is ever reflected in it.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};

use crate::id::RequestId;

/// Why a request was refused or could not be served. The code of each variant is part
/// of Rampart's public interface: dashboards and clients match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The request is malformed (framing, headers, body encoding).
    BadRequest,
    /// The request body ended early or could not be read.
    IncompleteBody,
    /// The caller did not authenticate.
    Unauthenticated,
    /// A policy refused the request.
    Forbidden,
    /// The client address is on a deny list or not on an allow list.
    AddressDenied,
    /// Injection screening or content inspection found an attack.
    AttackDetected,
    /// An antivirus engine found malware in the content.
    MalwareFound,
    /// No route matches the host and path.
    NoRoute,
    /// The method is not allowed here.
    MethodNotAllowed,
    /// The client was too slow sending the request.
    RequestTimeout,
    /// The body is larger than allowed.
    BodyTooLarge,
    /// The request target is longer than allowed.
    UriTooLong,
    /// The body's media type is not accepted.
    UnsupportedMediaType,
    /// The body is well-formed but violates the API contract.
    UnprocessableContent,
    /// A rate limit or quota was reached.
    RateLimited,
    /// Too many or too large header fields.
    HeadersTooLarge,
    /// Rampart failed internally; nothing was forwarded.
    Internal,
    /// The backend refused, reset or sent an invalid response.
    UpstreamUnavailable,
    /// No inner-tier endpoint answered; nothing was forwarded.
    InnerUnavailable,
    /// A check could not decide and fails closed.
    InspectionUnavailable,
    /// Rampart is at capacity or shutting down.
    Overloaded,
    /// The backend did not answer in time.
    UpstreamTimeout,
    /// The API version was retired (410); the `Link` header names its successor.
    Gone,
    /// The backend's response leaked data (stack trace, SQL error, card number,
    /// secret) and was withheld.
    ResponseLeak,
    /// The backend's response violates the API contract and was withheld.
    ResponseInvalid,
    /// The backend's response could not be inspected (too large, binary, unsupported
    /// or broken coding) and the route refuses uninspected responses.
    ResponseNotInspected,
}

impl Reason {
    /// Every reason, for documentation and exhaustive tests.
    pub const ALL: [Reason; 26] = [
        Reason::BadRequest,
        Reason::IncompleteBody,
        Reason::Unauthenticated,
        Reason::Forbidden,
        Reason::AddressDenied,
        Reason::AttackDetected,
        Reason::MalwareFound,
        Reason::NoRoute,
        Reason::MethodNotAllowed,
        Reason::RequestTimeout,
        Reason::BodyTooLarge,
        Reason::UriTooLong,
        Reason::UnsupportedMediaType,
        Reason::UnprocessableContent,
        Reason::RateLimited,
        Reason::HeadersTooLarge,
        Reason::Internal,
        Reason::UpstreamUnavailable,
        Reason::InnerUnavailable,
        Reason::InspectionUnavailable,
        Reason::Overloaded,
        Reason::UpstreamTimeout,
        Reason::Gone,
        Reason::ResponseLeak,
        Reason::ResponseInvalid,
        Reason::ResponseNotInspected,
    ];

    /// The stable, machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::BadRequest => "bad-request",
            Reason::IncompleteBody => "incomplete-body",
            Reason::Unauthenticated => "unauthenticated",
            Reason::Forbidden => "forbidden",
            Reason::AddressDenied => "address-denied",
            Reason::AttackDetected => "attack-detected",
            Reason::MalwareFound => "malware-found",
            Reason::NoRoute => "no-route",
            Reason::MethodNotAllowed => "method-not-allowed",
            Reason::RequestTimeout => "request-timeout",
            Reason::BodyTooLarge => "body-too-large",
            Reason::UriTooLong => "uri-too-long",
            Reason::UnsupportedMediaType => "unsupported-media-type",
            Reason::UnprocessableContent => "unprocessable-content",
            Reason::RateLimited => "rate-limited",
            Reason::HeadersTooLarge => "headers-too-large",
            Reason::Internal => "internal-error",
            Reason::UpstreamUnavailable => "upstream-unavailable",
            Reason::InnerUnavailable => "inner-unavailable",
            Reason::InspectionUnavailable => "inspection-unavailable",
            Reason::Overloaded => "overloaded",
            Reason::UpstreamTimeout => "upstream-timeout",
            Reason::Gone => "api-retired",
            Reason::ResponseLeak => "response-leak",
            Reason::ResponseInvalid => "response-invalid",
            Reason::ResponseNotInspected => "response-not-inspected",
        }
    }

    /// The HTTP status for this reason. The only place statuses are chosen.
    pub const fn status(self) -> StatusCode {
        match self {
            Reason::BadRequest | Reason::IncompleteBody => StatusCode::BAD_REQUEST,
            Reason::Unauthenticated => StatusCode::UNAUTHORIZED,
            Reason::Forbidden
            | Reason::AddressDenied
            | Reason::AttackDetected
            | Reason::MalwareFound => StatusCode::FORBIDDEN,
            Reason::NoRoute => StatusCode::NOT_FOUND,
            Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reason::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Reason::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::UriTooLong => StatusCode::URI_TOO_LONG,
            Reason::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reason::UnprocessableContent => StatusCode::UNPROCESSABLE_ENTITY,
            Reason::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Reason::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reason::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Reason::UpstreamUnavailable
            | Reason::ResponseLeak
            | Reason::ResponseInvalid
            | Reason::ResponseNotInspected => StatusCode::BAD_GATEWAY,
            Reason::InnerUnavailable | Reason::InspectionUnavailable | Reason::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Reason::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Reason::Gone => StatusCode::GONE,
        }
    }

    /// A short, generic human title. Never contains request data.
    pub const fn title(self) -> &'static str {
        match self {
            Reason::BadRequest => "The request is malformed.",
            Reason::IncompleteBody => "The request body is incomplete.",
            Reason::Unauthenticated => "Authentication is required.",
            Reason::Forbidden | Reason::AddressDenied | Reason::AttackDetected => {
                "The request was refused by policy."
            }
            Reason::MalwareFound => "The content was refused by the malware scan.",
            Reason::NoRoute => "No API is served at this address.",
            Reason::MethodNotAllowed => "The method is not allowed.",
            Reason::RequestTimeout => "The request was not received in time.",
            Reason::BodyTooLarge => "The request body is too large.",
            Reason::UriTooLong => "The request target is too long.",
            Reason::UnsupportedMediaType => "The media type is not accepted.",
            Reason::UnprocessableContent => "The request content violates the API contract.",
            Reason::RateLimited => "Too many requests.",
            Reason::HeadersTooLarge => "The request header fields are too large.",
            Reason::Internal => "The request could not be processed.",
            Reason::UpstreamUnavailable => "The service is unavailable.",
            Reason::InnerUnavailable => "The service is temporarily unavailable.",
            Reason::InspectionUnavailable => "The request could not be inspected.",
            Reason::Overloaded => "The service is at capacity.",
            Reason::UpstreamTimeout => "The service did not answer in time.",
            Reason::Gone => "This API version was retired.",
            Reason::ResponseLeak | Reason::ResponseInvalid | Reason::ResponseNotInspected => {
                "The service returned a response that could not be delivered."
            }
        }
    }

    /// Looks a reason up by its code (used when a tier relays another tier's decision).
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A refusal about to be sent to a client.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    /// Why.
    pub reason: Reason,
    /// The request the client can quote to an operator.
    pub request_id: &'a RequestId,
    /// Seconds the client should wait before retrying, for 429 and 503.
    pub retry_after_secs: Option<u32>,
}

impl<'a> Problem<'a> {
    /// A problem without retry advice.
    pub fn new(reason: Reason, request_id: &'a RequestId) -> Self {
        Self {
            reason,
            request_id,
            retry_after_secs: None,
        }
    }

    /// The JSON body. Built from static strings and the request id only.
    pub fn body(&self) -> Bytes {
        let body = serde_json::json!({
            "type": format!("urn:rampart:problem:{}", self.reason.code()),
            "title": self.reason.title(),
            "status": self.reason.status().as_u16(),
            "reason": self.reason.code(),
            "request_id": self.request_id.as_str(),
        });
        Bytes::from(body.to_string())
    }

    /// The complete response: status, problem+json body, request id and retry headers.
    pub fn to_response(&self) -> Response<Bytes> {
        let body = self.body();
        let mut response = Response::new(body);
        *response.status_mut() = self.reason.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(id) = HeaderValue::from_str(self.request_id.as_str()) {
            headers.insert(crate::headers::X_REQUEST_ID, id);
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_unique_code_and_an_error_status() {
        let mut codes = std::collections::HashSet::new();
        for reason in Reason::ALL {
            assert!(
                codes.insert(reason.code()),
                "duplicate code {}",
                reason.code()
            );
            assert!(reason.status().is_client_error() || reason.status().is_server_error());
            assert_eq!(Reason::from_code(reason.code()), Some(reason));
        }
    }

    #[test]
    fn problem_body_is_rfc9457_with_reason_and_request_id() {
        let id = RequestId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let response = Problem {
            reason: Reason::InnerUnavailable,
            request_id: &id,
            retry_after_secs: Some(1),
        }
        .to_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["status"], 503);
        assert_eq!(body["reason"], "inner-unavailable");
        assert_eq!(body["request_id"], id.as_str());
        assert_eq!(body["type"], "urn:rampart:problem:inner-unavailable");
        assert_eq!(
            body.as_object().unwrap().len(),
            5,
            "no extra, possibly leaky fields"
        );
    }
}
