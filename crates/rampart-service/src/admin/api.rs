//! The admin API: which endpoint needs which role, and each endpoint's handler.
//!
//! | endpoint | role |
//! |---|---|
//! | `GET /healthz`, `GET /readyz` | none |
//! | `GET /metrics` | none, or viewer with `protect_metrics` |
//! | `GET /admin/status`, `/admin/events`, `/admin/blocks`, `/admin/stream`, `/admin/openapi/undocumented`, `/dashboard*` | viewer |
//! | `POST /admin/routes/{name}/mode`, `/admin/rules/{id}/mode`, `/admin/blocks`, `/admin/reload`, `DELETE /admin/blocks/{net}` | operator |
//! | `/admin/consumers*`, `/admin/keys*` (any method) | admin |
//! | `GET /admin/session` | viewer (who the cookie is, and its CSRF token) |
//! | `GET`/`POST /admin/login`, `POST /admin/logout`, `GET /admin/login.{js,css}` | none (see [`super::login`]) |
//!
//! Every call except the health and metrics probes is audited, refused ones included.
//! Bodies are JSON, at most [`MAX_BODY`] bytes, read within [`BODY_TIMEOUT`]; errors are
//! RFC 9457 problem+json. 401 responses carry no detail.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use rampart_core::id::RequestId;
use rampart_core::problem::{PROBLEM_JSON, Reason};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::actions::{ActionError, IpNet, ManageRequest, Mode};
use super::auth::{self, Principal, Via};
use super::config::Role;
use super::{AdminState, Conn, Outcome, dashboard, stream};
use crate::audit::{AdminRecord, timestamp};
use crate::shutdown::Shutdown;

/// The response body of every admin answer.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Deadline for reading a request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for a reload or a management call.
const ACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline for asking the other tier for its status.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(3);
/// Header a session-authenticated (cookie) call must carry to change anything: the
/// session's CSRF token, which only a same-origin page can have read.
pub(crate) use super::session::CSRF_HEADER;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Metrics,
    Status,
    Events,
    Alerts,
    Stream,
    Blocks,
    Undocumented,
    Block,
    Unblock(String),
    RouteMode(String),
    RuleMode(String),
    Reload,
    Manage(String),
    Dashboard(dashboard::Asset),
    Login,
    LoginPage(super::login::Asset),
    Session,
    Logout,
}

impl Endpoint {
    fn role(&self) -> Option<Role> {
        match self {
            Endpoint::Login | Endpoint::LoginPage(_) | Endpoint::Logout => None,
            Endpoint::Metrics
            | Endpoint::Status
            | Endpoint::Events
            | Endpoint::Alerts
            | Endpoint::Stream
            | Endpoint::Blocks
            | Endpoint::Undocumented
            | Endpoint::Session
            | Endpoint::Dashboard(_) => Some(Role::Viewer),
            Endpoint::Block
            | Endpoint::Unblock(_)
            | Endpoint::RouteMode(_)
            | Endpoint::RuleMode(_)
            | Endpoint::Reload => Some(Role::Operator),
            Endpoint::Manage(_) => Some(Role::Admin),
        }
    }
}

enum Unrouted {
    NotFound,
    MethodNotAllowed,
}

fn classify(method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
    use Unrouted::*;
    let want = |m: Method, e: Endpoint| {
        if *method == m {
            Ok(e)
        } else {
            Err(MethodNotAllowed)
        }
    };
    if let Some(asset) = dashboard::Asset::at(path) {
        return want(Method::GET, Endpoint::Dashboard(asset));
    }
    if path == "/metrics" {
        return want(Method::GET, Endpoint::Metrics);
    }
    let Some(rest) = path.strip_prefix("/admin/") else {
        return Err(NotFound);
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        ["status"] => want(Method::GET, Endpoint::Status),
        ["events"] => want(Method::GET, Endpoint::Events),
        ["alerts"] => want(Method::GET, Endpoint::Alerts),
        ["stream"] => want(Method::GET, Endpoint::Stream),
        ["reload"] => want(Method::POST, Endpoint::Reload),
        ["login"] => match *method {
            Method::GET => Ok(Endpoint::LoginPage(super::login::Asset::Page)),
            Method::POST => Ok(Endpoint::Login),
            _ => Err(MethodNotAllowed),
        },
        ["login.js"] => want(
            Method::GET,
            Endpoint::LoginPage(super::login::Asset::Script),
        ),
        ["login.css"] => want(Method::GET, Endpoint::LoginPage(super::login::Asset::Style)),
        ["session"] => want(Method::GET, Endpoint::Session),
        ["logout"] => want(Method::POST, Endpoint::Logout),
        ["openapi", "undocumented"] => want(Method::GET, Endpoint::Undocumented),
        ["blocks"] => match *method {
            Method::GET => Ok(Endpoint::Blocks),
            Method::POST => Ok(Endpoint::Block),
            _ => Err(MethodNotAllowed),
        },
        ["blocks", net @ ..] if !net.is_empty() => {
            let net = percent_decode(&net.join("/")).ok_or(NotFound)?;
            want(Method::DELETE, Endpoint::Unblock(net))
        }
        ["routes", name, "mode"] => want(
            Method::POST,
            Endpoint::RouteMode(percent_decode(name).ok_or(NotFound)?),
        ),
        ["rules", id, "mode"] => want(
            Method::POST,
            Endpoint::RuleMode(percent_decode(id).ok_or(NotFound)?),
        ),
        [first, ..] if *first == "consumers" || *first == "keys" => {
            Ok(Endpoint::Manage(rest.to_owned()))
        }
        _ => Err(NotFound),
    }
}

/// `%XX` decoding of one path piece; `None` for broken escapes or non-UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Route names and rule ids as the configs allow them.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub(crate) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

fn with_common_headers(mut response: Response<Body>, request_id: &RequestId) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(rampart_core::headers::X_REQUEST_ID, id);
    }
    response
}

/// An RFC 9457 problem in the shape the tiers use, plus `detail` for authenticated
/// callers where it helps (never on 401).
pub(crate) fn problem(
    status: StatusCode,
    code: &str,
    title: &str,
    request_id: &RequestId,
    detail: Option<&str>,
) -> Response<Body> {
    let mut body = serde_json::json!({
        "type": format!("urn:rampart:problem:{code}"),
        "title": title,
        "status": status.as_u16(),
        "reason": code,
        "request_id": request_id.as_str(),
    });
    if let (Some(detail), Some(map)) = (detail, body.as_object_mut()) {
        map.insert("detail".into(), detail.into());
    }
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

fn reason_problem(reason: Reason, request_id: &RequestId, detail: Option<&str>) -> Response<Body> {
    problem(
        reason.status(),
        reason.code(),
        reason.title(),
        request_id,
        detail,
    )
}

fn unauthenticated(request_id: &RequestId) -> Response<Body> {
    let mut response = reason_problem(Reason::Unauthenticated, request_id, None);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"rampart-admin\""),
    );
    response
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn action_error(e: &ActionError, request_id: &RequestId) -> Response<Body> {
    match e {
        ActionError::Unsupported => problem(
            StatusCode::NOT_IMPLEMENTED,
            "not-supported",
            "This tier does not offer this action.",
            request_id,
            None,
        ),
        ActionError::NotFound(d) => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such object.",
            request_id,
            Some(d),
        ),
        ActionError::Invalid(d) => {
            reason_problem(Reason::UnprocessableContent, request_id, Some(d))
        }
        ActionError::Failed(d) => reason_problem(Reason::Internal, request_id, Some(d)),
    }
}

/// The outcome an action error is audited as.
fn outcome_of(e: &ActionError) -> Outcome {
    match e {
        ActionError::Failed(_) => Outcome::Failed,
        _ => Outcome::Refused,
    }
}

/// Reads a bounded body, within [`BODY_TIMEOUT`].
pub(crate) async fn read_body<B>(
    body: B,
    headers: &http::HeaderMap,
    request_id: &RequestId,
) -> Result<Bytes, Box<Response<Body>>>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Box::new(reason_problem(
            Reason::BodyTooLarge,
            request_id,
            None,
        )));
    }
    let refuse = |reason| Err(Box::new(reason_problem(reason, request_id, None)));
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => refuse(Reason::RequestTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => refuse(Reason::BodyTooLarge),
        Ok(Err(_)) => refuse(Reason::IncompleteBody),
    }
}

fn parse_json<T: DeserializeOwned>(
    bytes: &[u8],
    request_id: &RequestId,
) -> Result<T, Box<Response<Body>>> {
    serde_json::from_slice(bytes).map_err(|e| {
        let detail = format!("invalid JSON body: {e}");
        Box::new(reason_problem(
            Reason::BadRequest,
            request_id,
            Some(&detail),
        ))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: Mode,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockBody {
    address: String,
    duration: String,
}

/// What one call did, for its response and its audit record.
struct Handled {
    response: Response<Body>,
    outcome: Outcome,
    detail: String,
}

impl Handled {
    fn ok(response: Response<Body>, detail: impl Into<String>) -> Self {
        Handled {
            response,
            outcome: Outcome::Ok,
            detail: detail.into(),
        }
    }

    fn refused(response: Response<Body>, outcome: Outcome, detail: impl Into<String>) -> Self {
        Handled {
            response,
            outcome,
            detail: detail.into(),
        }
    }
}

/// Narrowest networks an operator may block at once: a typo must not block everyone.
const MIN_PREFIX_V4: u8 = 8;
const MIN_PREFIX_V6: u8 = 16;

/// Answers one admin request.
pub(crate) async fn handle<B>(
    state: Arc<AdminState>,
    conn: Arc<Conn>,
    shutdown: Shutdown,
    req: Request<B>,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let request_id = RequestId::generate();
    let response = respond(&state, &conn, shutdown, req, &request_id).await;
    with_common_headers(response, &request_id)
}

async fn respond<B>(
    state: &Arc<AdminState>,
    conn: &Arc<Conn>,
    shutdown: Shutdown,
    req: Request<B>,
    request_id: &RequestId,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let config = state.config();
    // Probes stay as they were: unauthenticated, unaudited.
    if matches!(path.as_str(), "/healthz" | "/readyz")
        && method != Method::GET
        && method != Method::HEAD
    {
        let mut response = Response::new(full("method not allowed\n"));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return response;
    }
    if method == Method::GET || method == Method::HEAD {
        match path.as_str() {
            "/healthz" | "/readyz" => {
                return super::probe(&path, state.ready.as_ref(), shutdown.is_signalled());
            }
            "/metrics" if !config.protect_metrics => return state.metrics_response(),
            _ => {}
        }
    }
    let mut audit = AuditDraft {
        state,
        conn,
        request_id,
        method: method.as_str().to_owned(),
        endpoint: crate::audit::redact_path(&path),
        principal: None,
    };
    let endpoint = match classify(&method, &path) {
        Ok(e) => e,
        Err(Unrouted::NotFound) => {
            let response = problem(
                StatusCode::NOT_FOUND,
                "not-found",
                "No such endpoint.",
                request_id,
                None,
            );
            if path.starts_with("/admin") {
                audit.finish(&response, Outcome::Refused, "unknown endpoint");
            }
            return response;
        }
        Err(Unrouted::MethodNotAllowed) => {
            let response = reason_problem(Reason::MethodNotAllowed, request_id, None);
            audit.finish(&response, Outcome::Refused, "method not allowed");
            return response;
        }
    };
    match endpoint {
        Endpoint::Login | Endpoint::Logout => {
            let answer = if endpoint == Endpoint::Login {
                super::login::login(state, conn, req, request_id).await
            } else {
                super::login::logout(state, conn, req.headers())
            };
            audit.principal = answer.principal;
            audit.finish(&answer.response, answer.outcome, &answer.detail);
            return answer.response;
        }
        Endpoint::LoginPage(asset) => {
            let response = asset.response();
            audit.finish(&response, Outcome::Ok, asset.name());
            return response;
        }
        _ => {}
    }
    let principal =
        match auth::authenticate(req.headers(), &conn.identities, &config, &state.sessions) {
            Ok(p) => p,
            Err(auth::Unauthenticated) => {
                let response = match endpoint {
                    Endpoint::Dashboard(_) => {
                        super::login_page::page(StatusCode::UNAUTHORIZED, false)
                    }
                    _ => unauthenticated(request_id),
                };
                audit.finish(&response, Outcome::Unauthenticated, "");
                return response;
            }
        };
    audit.principal = Some(principal.clone());
    let required = endpoint.role().unwrap_or(Role::Viewer);
    if principal.role < required {
        let response = reason_problem(Reason::Forbidden, request_id, None);
        audit.finish(&response, Outcome::Forbidden, &format!("needs {required}"));
        return response;
    }
    if principal.via == Via::Session
        && !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !csrf_ok(state, req.headers())
    {
        let response = reason_problem(
            Reason::Forbidden,
            request_id,
            Some("missing or wrong X-CSRF-Token header"),
        );
        audit.finish(
            &response,
            Outcome::Forbidden,
            "cookie call without its csrf token",
        );
        return response;
    }
    if endpoint == Endpoint::Session {
        let response = super::login::session_info(state, req.headers(), &principal);
        audit.finish(&response, Outcome::Ok, "session");
        return response;
    }
    let is_metrics = endpoint == Endpoint::Metrics;
    let handled = dispatch(state, endpoint, req, request_id, &config, &shutdown).await;
    // A protected scrape every few seconds is not an admin action worth a record.
    if !(is_metrics && handled.outcome == Outcome::Ok) {
        audit.finish(&handled.response, handled.outcome, &handled.detail);
    }
    handled.response
}

async fn dispatch<B>(
    state: &Arc<AdminState>,
    endpoint: Endpoint,
    req: Request<B>,
    request_id: &RequestId,
    config: &super::config::AdminConfig,
    shutdown: &Shutdown,
) -> Handled
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    macro_rules! body_json {
        ($t:ty) => {{
            let bytes = match read_body(body, &parts.headers, request_id).await {
                Ok(b) => b,
                Err(r) => return Handled::refused(*r, Outcome::Refused, "unreadable body"),
            };
            match parse_json::<$t>(&bytes, request_id) {
                Ok(v) => v,
                Err(r) => return Handled::refused(*r, Outcome::Refused, "malformed body"),
            }
        }};
    }
    match endpoint {
        Endpoint::Metrics => Handled::ok(state.metrics_response(), "metrics"),
        Endpoint::Status => Handled::ok(
            json(StatusCode::OK, &state.status_document().await),
            "status",
        ),
        Endpoint::Events => {
            let query = Query::parse(parts.uri.query().unwrap_or(""));
            let events = state.auditor.events();
            let body = if query.group {
                serde_json::json!({
                    "totals": events.totals(),
                    "groups": events.groups(query.limit),
                })
            } else {
                let recent = events.recent(query.limit);
                let recent: Vec<&crate::audit::DecisionRecord> =
                    recent.iter().map(|e| &**e).collect();
                serde_json::json!({
                    "totals": events.totals(),
                    "events": recent,
                })
            };
            Handled::ok(json(StatusCode::OK, &body), "events")
        }
        Endpoint::Alerts => Handled::ok(
            json(
                StatusCode::OK,
                &crate::alerts::document(
                    &state.auditor,
                    Query::parse(parts.uri.query().unwrap_or("")).limit,
                ),
            ),
            "alerts",
        ),
        Endpoint::Stream => Handled::ok(
            stream::open(state.clone(), shutdown.clone()),
            "stream opened",
        ),
        Endpoint::Blocks => Handled::ok(
            json(
                StatusCode::OK,
                &serde_json::json!({ "blocks": state.actions.blocks() }),
            ),
            "blocks",
        ),
        Endpoint::Undocumented => match state.actions.undocumented() {
            Ok(report) => Handled::ok(json(StatusCode::OK, &report), "undocumented traffic"),
            Err(e) => Handled::refused(
                action_error(&e, request_id),
                outcome_of(&e),
                "undocumented traffic",
            ),
        },
        Endpoint::Dashboard(asset) => Handled::ok(asset.response(), asset.name()),
        Endpoint::RouteMode(name) | Endpoint::RuleMode(name) if !valid_name(&name) => {
            Handled::refused(
                reason_problem(
                    Reason::UnprocessableContent,
                    request_id,
                    Some("malformed name"),
                ),
                Outcome::Refused,
                "malformed name",
            )
        }
        Endpoint::RouteMode(name) => {
            let body = body_json!(ModeBody);
            let detail = format!("route {name} -> {}", body.mode.as_str());
            match state.actions.set_route_mode(&name, body.mode) {
                Ok(()) => Handled::ok(
                    json(
                        StatusCode::OK,
                        &serde_json::json!({ "route": name, "mode": body.mode }),
                    ),
                    detail,
                ),
                Err(e) => Handled::refused(action_error(&e, request_id), outcome_of(&e), detail),
            }
        }
        Endpoint::RuleMode(id) => {
            let body = body_json!(ModeBody);
            let detail = format!("rule {id} -> {}", body.mode.as_str());
            match state.actions.set_rule_mode(&id, body.mode) {
                Ok(()) => Handled::ok(
                    json(
                        StatusCode::OK,
                        &serde_json::json!({ "rule": id, "mode": body.mode }),
                    ),
                    detail,
                ),
                Err(e) => Handled::refused(action_error(&e, request_id), outcome_of(&e), detail),
            }
        }
        Endpoint::Block => {
            let body = body_json!(BlockBody);
            let invalid = |m: String| {
                Handled::refused(
                    reason_problem(Reason::UnprocessableContent, request_id, Some(&m)),
                    Outcome::Refused,
                    "invalid block",
                )
            };
            let network = match body.address.parse::<IpNet>() {
                Ok(n) => n,
                Err(m) => return invalid(m),
            };
            let min = if network.addr().is_ipv4() {
                MIN_PREFIX_V4
            } else {
                MIN_PREFIX_V6
            };
            if network.prefix() < min {
                return invalid(format!("{network} is broader than /{min}"));
            }
            let duration = match rampart_core::units::parse_duration(&body.duration) {
                Ok(d) if !d.is_zero() && d <= config.max_block => d,
                Ok(_) => {
                    return invalid(format!(
                        "duration must be more than 0s and at most {}s (max_block)",
                        config.max_block.as_secs()
                    ));
                }
                Err(e) => return invalid(format!("duration: {e}")),
            };
            let detail = format!("block {network} for {}s", duration.as_secs());
            match state.actions.block_address(network, duration) {
                Ok(()) => Handled::ok(
                    json(
                        StatusCode::OK,
                        &serde_json::json!({ "blocked": network, "duration_secs": duration.as_secs() }),
                    ),
                    detail,
                ),
                Err(e) => Handled::refused(action_error(&e, request_id), outcome_of(&e), detail),
            }
        }
        Endpoint::Unblock(raw) => {
            let network = match raw.parse::<IpNet>() {
                Ok(n) => n,
                Err(m) => {
                    return Handled::refused(
                        reason_problem(Reason::UnprocessableContent, request_id, Some(&m)),
                        Outcome::Refused,
                        "invalid network",
                    );
                }
            };
            let detail = format!("unblock {network}");
            match state.actions.unblock_address(network) {
                Ok(()) => Handled::ok(
                    json(StatusCode::OK, &serde_json::json!({ "unblocked": network })),
                    detail,
                ),
                Err(e) => Handled::refused(action_error(&e, request_id), outcome_of(&e), detail),
            }
        }
        Endpoint::Reload => {
            match tokio::time::timeout(ACTION_TIMEOUT, state.actions.reload()).await {
                Ok(Ok(outcome)) => {
                    let detail = if outcome.applied {
                        format!("reload applied, generation {}", outcome.generation)
                    } else {
                        format!("reload refused with {} problem(s)", outcome.errors.len())
                    };
                    let result = if outcome.applied {
                        Outcome::Ok
                    } else {
                        Outcome::Refused
                    };
                    state.set_last_reload(outcome.clone());
                    Handled::refused(json(StatusCode::OK, &outcome), result, detail)
                }
                Ok(Err(e)) => {
                    Handled::refused(action_error(&e, request_id), outcome_of(&e), "reload")
                }
                Err(_) => Handled::refused(
                    reason_problem(
                        Reason::Internal,
                        request_id,
                        Some("reload did not finish in time"),
                    ),
                    Outcome::Failed,
                    "reload timed out",
                ),
            }
        }
        Endpoint::Manage(path) => {
            let bytes = match read_body(body, &parts.headers, request_id).await {
                Ok(b) => b,
                Err(r) => return Handled::refused(*r, Outcome::Refused, "unreadable body"),
            };
            let body = if bytes.is_empty() {
                None
            } else {
                match parse_json::<serde_json::Value>(&bytes, request_id) {
                    Ok(v) => Some(v),
                    Err(r) => return Handled::refused(*r, Outcome::Refused, "malformed body"),
                }
            };
            let detail = format!("{} {path}", parts.method);
            let request = ManageRequest {
                method: parts.method.clone(),
                path,
                body,
            };
            match tokio::time::timeout(ACTION_TIMEOUT, state.actions.manage(request)).await {
                Ok(Ok(value)) => Handled::ok(json(StatusCode::OK, &value), detail),
                Ok(Err(e)) => {
                    Handled::refused(action_error(&e, request_id), outcome_of(&e), detail)
                }
                Err(_) => Handled::refused(
                    reason_problem(Reason::Internal, request_id, Some("did not finish in time")),
                    Outcome::Failed,
                    detail,
                ),
            }
        }
        Endpoint::Login | Endpoint::LoginPage(_) | Endpoint::Logout | Endpoint::Session => {
            Handled::refused(
                reason_problem(Reason::Internal, request_id, None),
                Outcome::Failed,
                "unreachable",
            )
        }
    }
}

/// Whether a cookie call carries its session's CSRF token.
fn csrf_ok(state: &AdminState, headers: &http::HeaderMap) -> bool {
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (auth::session_cookie(headers), presented) {
        (Some(id), Some(token)) => state.sessions.csrf_matches(id, token),
        _ => false,
    }
}

/// One field of an `application/x-www-form-urlencoded` body.
pub(crate) fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(&v.replace('+', " ")))?
    })
}

/// `?group=1&limit=50`.
struct Query {
    group: bool,
    limit: usize,
}

impl Query {
    fn parse(query: &str) -> Query {
        let mut q = Query {
            group: false,
            limit: 100,
        };
        for pair in query.split('&') {
            match pair.split_once('=').unwrap_or((pair, "")) {
                ("group", v) => q.group = matches!(v, "1" | "true" | ""),
                ("limit", v) => q.limit = v.parse::<usize>().unwrap_or(100).clamp(1, 1000),
                _ => {}
            }
        }
        q
    }
}

/// An admin call being audited once its result is known.
struct AuditDraft<'a> {
    state: &'a AdminState,
    conn: &'a Conn,
    request_id: &'a RequestId,
    method: String,
    endpoint: String,
    principal: Option<Principal>,
}

impl AuditDraft<'_> {
    fn finish(&self, response: &Response<Body>, outcome: Outcome, detail: &str) {
        let (timestamp, unix_ms) = timestamp(SystemTime::now());
        self.state.count(outcome);
        self.state.auditor.record_admin(AdminRecord {
            timestamp,
            unix_ms,
            tier: self.state.tier,
            request_id: self.request_id.to_string(),
            actor: self
                .principal
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| p.name.clone()),
            auth: self.principal.as_ref().map_or("none", |p| p.via.as_str()),
            role: self.principal.as_ref().map(|p| p.role.as_str()),
            peer: self.conn.peer.ip().to_string(),
            method: self.method.clone(),
            endpoint: self.endpoint.clone(),
            status: response.status().as_u16(),
            outcome: outcome.as_str(),
            detail: crate::audit::cut(detail, 256),
        });
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn classifies_paths_and_methods() {
        let table: [(Method, &str, Option<Endpoint>); 12] = [
            (Method::GET, "/admin/status", Some(Endpoint::Status)),
            (Method::POST, "/admin/status", None),
            (Method::GET, "/admin/events", Some(Endpoint::Events)),
            (Method::POST, "/admin/blocks", Some(Endpoint::Block)),
            (
                Method::DELETE,
                "/admin/blocks/203.0.113.0%2F24",
                Some(Endpoint::Unblock("203.0.113.0/24".into())),
            ),
            (
                Method::DELETE,
                "/admin/blocks/203.0.113.0/24",
                Some(Endpoint::Unblock("203.0.113.0/24".into())),
            ),
            (
                Method::POST,
                "/admin/routes/orders/mode",
                Some(Endpoint::RouteMode("orders".into())),
            ),
            (
                Method::POST,
                "/admin/rules/sqli-001/mode",
                Some(Endpoint::RuleMode("sqli-001".into())),
            ),
            (
                Method::PUT,
                "/admin/consumers/acme",
                Some(Endpoint::Manage("consumers/acme".into())),
            ),
            (Method::GET, "/admin/routes/orders", None),
            (Method::GET, "/admin/blocks/%zz", None),
            (Method::POST, "/admin/reload", Some(Endpoint::Reload)),
        ];
        for (method, path, want) in table {
            assert_eq!(classify(&method, path).ok(), want, "{method} {path}");
        }
    }

    #[test]
    fn reads_form_fields_and_queries() {
        assert_eq!(
            form_field(b"a=1&token=rpa_x%2By+z", "token").as_deref(),
            Some("rpa_x+y z")
        );
        assert_eq!(form_field(b"tokens=1", "token"), None);
        let q = Query::parse("group=1&limit=99999");
        assert!(q.group);
        assert_eq!(q.limit, 1000);
        assert!(!Query::parse("").group);
    }
}
