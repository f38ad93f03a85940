//! One client request: mint its id, clean its headers, hand it to the inner tier and
//! relay the answer. Every refusal the edge makes itself is built by [`problem`].

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderValue, Request, Response, Version};
use http_body::Body as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use rampart_core::check::{Denial, Verdict};
use rampart_core::headers::{self, X_REQUEST_ID};
use rampart_core::id::RequestId;
use rampart_core::phase::{self, Connection};
use rampart_core::pipeline::{Observation, Pipeline};
use rampart_core::problem::{Problem, Reason};
use rampart_proto::v1::{
    Forwarding, HttpVersion, RequestHead, RequestPart, request_part, response_part,
};
use rampart_service::audit;
use rampart_service::logging::AccessRecord;
use rampart_service::metrics::{self, Phase};

use rampart_http::{FramingViolation, HeadVerdict, Ledger, ProxyHeader, normalize_target};

use rampart_identity::Principal;
use rampart_ratelimit::{Decision, Permits, RateLimitHeaders, RateLimiter, RequestFacts};

use crate::auth::{Caller, Refusal, RouteAuth};
use crate::capacity::{Capacity, ConnActivity, RequestGuards};
use crate::link::{Link, LinkError};
use crate::reload::Policy;
use crate::stream::{BodyFailure, BodyPolicy, RequestParts, ResponseBody};
use rampart_proto::wire::{headers_from_wire, headers_to_wire};

/// Body type of every edge response.
pub(crate) type EdgeBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Shared state of the request path.
pub(crate) struct Proxy {
    pub(crate) link: Arc<Link>,
    pub(crate) max_chunk: usize,
    /// Routes, protections, rate limits and auth: the reloadable configuration. Each
    /// request loads it once, so a reload never changes it mid-request.
    pub(crate) policy: Arc<arc_swap::ArcSwap<Policy>>,
    /// Connection and in-flight request caps.
    pub(crate) capacity: Arc<Capacity>,
    /// `Alt-Svc` for HTTPS responses over TCP, when HTTP/3 is advertised.
    pub(crate) alt_svc: Option<HeaderValue>,
}

/// What the connection knows beyond its addresses.
pub(crate) struct ConnFacts {
    pub(crate) conn: Arc<Connection>,
    pub(crate) activity: Arc<ConnActivity>,
    /// The framing guard's decisions (HTTP/1 and HTTP/2 connections).
    pub(crate) ledger: Option<Ledger>,
    /// The PROXY protocol header the connection started with.
    pub(crate) proxy_header: Option<ProxyHeader>,
    /// The client certificate the TLS handshake verified, if one was presented.
    pub(crate) client_cert: Option<Arc<rampart_tls::ClientCert>>,
}

/// The status a framing violation of a head calls for.
fn framing_reason(v: FramingViolation) -> Reason {
    match v {
        FramingViolation::HeadTooLarge | FramingViolation::TooManyHeaders => {
            Reason::HeadersTooLarge
        }
        _ => Reason::BadRequest,
    }
}

/// The protections of one route, built once from its configuration.
pub(crate) struct EdgeRoute {
    /// Deprecated or retired: headers added to every response of the route.
    pub(crate) lifecycle: Option<Arc<crate::lifecycle::Lifecycle>>,
    /// Who may call the route.
    pub(crate) auth: RouteAuth,
    /// Checks on the request head, run in order before anything is forwarded.
    pub(crate) head_checks: Pipeline<phase::RequestHead>,
    /// How request bodies must arrive (size, deadline, pace).
    pub(crate) body_policy: BodyPolicy,
}

fn wire_version(version: Version) -> HttpVersion {
    match version {
        Version::HTTP_10 => HttpVersion::HttpVersion10,
        Version::HTTP_2 => HttpVersion::HttpVersion2,
        Version::HTTP_3 => HttpVersion::HttpVersion3,
        _ => HttpVersion::HttpVersion11,
    }
}

/// The client's HTTP version as the access log names it.
fn version_label(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// Most query parameters any request may carry; routes can set fewer.
const MAX_QUERY_PARAMS: usize = 1024;

/// `uri` with its path and query replaced by the normalised `target`.
fn with_target(uri: &http::Uri, target: &str) -> Option<http::Uri> {
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(target.parse().ok()?);
    http::Uri::from_parts(parts).ok()
}

/// The authority the client addressed: `:authority` (HTTP/2, absolute-form) or the one
/// Host header; both present must agree. `None` means the request is refused (400).
fn authority_of(uri: &http::Uri, headers: &http::HeaderMap) -> Option<String> {
    let from_uri = uri.authority().map(|a| a.as_str().to_owned());
    let mut hosts = headers.get_all(HOST).iter();
    let from_host = match (hosts.next(), hosts.next()) {
        (Some(h), None) => Some(
            h.to_str()
                .ok()?
                .parse::<http::uri::Authority>()
                .ok()?
                .as_str()
                .to_owned(),
        ),
        (None, None) => None,
        _ => return None, // two Host headers
    };
    match (from_uri, from_host) {
        (Some(uri), Some(host)) if !uri.eq_ignore_ascii_case(&host) => None,
        (Some(uri), _) => Some(uri),
        (None, Some(host)) => Some(host),
        (None, None) => None,
    }
}

/// A rate-limit refusal and the headers that explain it.
type Limited = (Denial, Option<RateLimitHeaders>);

impl Proxy {
    /// Applies the rate limits: the permits to hold and the headers to send on success.
    async fn rate_limit(
        &self,
        limiter: Option<&RateLimiter>,
        client: &rampart_http::ClientIp,
        principal: Option<&Principal>,
        route: &str,
    ) -> Result<(Option<Permits>, Option<RateLimitHeaders>), Limited> {
        let Some(limiter) = limiter else {
            return Ok((None, None));
        };
        let facts = RequestFacts {
            client_ip: client.addr,
            consumer: principal.map(|p| p.consumer.as_deref().unwrap_or(&p.subject)),
            plan: principal.and_then(|p| p.plan.as_deref()),
            route,
            upstream: route,
        };
        let permits = limiter.acquire(&facts).map_err(|busy| {
            metrics::ratelimit("edge", &busy.policy, metrics::RateDecision::Limit);
            let denial =
                Denial::new("rate-limit", Reason::RateLimited).with_rule(busy.policy.to_string());
            (denial, None)
        })?;
        let evaluation = limiter.check(&facts).await;
        for (policy, outcome) in limiter.outcomes(&evaluation) {
            metrics::ratelimit("edge", policy, rate_decision(outcome));
        }
        let headers = evaluation.headers();
        match evaluation.decision {
            Decision::Allow { .. } => Ok((Some(permits), Some(headers))),
            Decision::Deny { policy, .. } => {
                let denial =
                    Denial::new("rate-limit", Reason::RateLimited).with_rule(policy.to_string());
                Err((denial, Some(headers)))
            }
            // The shared store cannot decide and the configuration fails closed.
            _ => Err((
                Denial::new("rate-limit", Reason::InspectionUnavailable)
                    .with_rule("store-unavailable"),
                None,
            )),
        }
    }

    /// Handles one request; never fails (every failure becomes a problem response).
    pub(crate) async fn handle<B>(&self, req: Request<B>, facts: &ConnFacts) -> Response<EdgeBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // One configuration generation for the whole request, whatever reloads meanwhile.
        let policy = self.policy.load_full();
        let mut lifecycle = None;
        let mut response = self
            .handle_routed(&policy, req, facts, &mut lifecycle)
            .await;
        // Every response of a deprecated or retired route, refusals included.
        if let Some(lifecycle) = lifecycle {
            lifecycle.decorate(response.headers_mut());
        }
        response
    }

    /// [`Self::handle`]; sets `lifecycle` once the request matched a route that has one.
    async fn handle_routed<'s, B>(
        &'s self,
        policy: &'s Policy,
        req: Request<B>,
        facts: &ConnFacts,
        lifecycle: &mut Option<&'s crate::lifecycle::Lifecycle>,
    ) -> Response<EdgeBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let conn = &facts.conn;
        let request_id = RequestId::generate();
        let client = policy.protections.client_ip.resolve(
            conn.peer.ip(),
            req.headers(),
            facts.proxy_header.as_ref(),
        );
        let mut record = AccessRecord::new(
            "edge",
            request_id.clone(),
            req.method().as_str(),
            req.uri().path(),
            client.text(),
        );
        record.client_source = client.reason;
        record.version = version_label(req.version());
        let bytes_in = record.bytes_in.clone();
        let active = facts.activity.begin();
        let Some(slot) = self.capacity.start_request() else {
            return refuse(record, Reason::Overloaded);
        };
        let version = req.version();
        if let Some(ledger) = facts.ledger.as_ref().filter(|_| version != Version::HTTP_2) {
            let denial = match ledger.next_head() {
                Some(HeadVerdict::Clean) => None,
                Some(HeadVerdict::Violation(v)) => {
                    Some(Denial::new("http-framing", framing_reason(v)).with_rule(v.rule()))
                }
                None => {
                    Some(Denial::new("http-framing", Reason::BadRequest).with_rule("unjudged-head"))
                }
            };
            if let Some(denial) = denial {
                return refuse_denied(record, &denial, version);
            }
        }
        if req.method() == http::Method::CONNECT {
            // No tunnels: the framing guard and the inner tier speak request/response only.
            let denial = Denial::new("http-framing", Reason::MethodNotAllowed).with_rule("connect");
            return refuse_denied(record, &denial, version);
        }
        let Some(target) = req.uri().path_and_query().map(|pq| pq.as_str().to_owned()) else {
            return refuse(record, Reason::BadRequest);
        };
        let normalized = match normalize_target(&target, MAX_QUERY_PARAMS) {
            Ok(n) => n,
            Err(e) => {
                let denial = crate::screen::attack_in_refused_target(req.uri(), req.headers())
                    .unwrap_or_else(|| {
                        Denial::new("url-normalization", Reason::BadRequest).with_rule(e.rule())
                    });
                return refuse_denied(record, &denial, version);
            }
        };

        let Some(authority) = authority_of(req.uri(), req.headers()) else {
            return refuse(record, Reason::BadRequest);
        };
        let (mut parts, body) = req.into_parts();
        match with_target(&parts.uri, normalized.as_str()) {
            Some(uri) => parts.uri = uri,
            None => return refuse(record, Reason::BadRequest),
        }
        record.path = normalized.path().to_owned();
        let (route_name, route) = match policy.routes.find(&authority, parts.uri.path()) {
            Some(r) => (r.name.as_str(), &r.value),
            None => ("", &policy.default_route),
        };
        route_name.clone_into(&mut record.route);
        *lifecycle = route.lifecycle.as_deref();
        let head_phase = phase::RequestHead {
            parts,
            request_id: request_id.clone(),
            client_ip: client.addr,
            connection: conn.clone(),
        };
        let outcome = route.head_checks.run(&head_phase).await;
        log_observations(&record, &outcome.observations);
        if let Verdict::Deny(denial) = outcome.verdict {
            return refuse_denied(record, &denial, version);
        }
        let mut head_phase = head_phase;
        let caller = Caller {
            ip: client.addr,
            cert: facts.client_cert.as_deref(),
            scheme: if conn.tls.is_some() { "https" } else { "http" },
        };
        let principal = if route.auth.is_open() {
            None
        } else {
            let checked = policy
                .authenticator
                .check(&route.auth, &mut head_phase.parts, caller)
                .await;
            match checked {
                Ok(principal) => principal,
                Err(refusal) => return refuse_auth(record, &refusal, version),
            }
        };
        if let Some(p) = &principal {
            record.principal.clone_from(&p.subject);
        }
        // Last, so requests refused by any other check consume no tokens.
        let limited = self
            .rate_limit(
                policy.limiter.as_deref(),
                &client,
                principal.as_ref(),
                route_name,
            )
            .await;
        let (permits, limit_headers) = match limited {
            Ok(admitted) => admitted,
            Err((denial, headers)) => {
                let mut response = refuse_denied(record, &denial, version);
                if let Some(headers) = headers {
                    headers.apply(response.headers_mut());
                }
                return response;
            }
        };
        let mut parts = head_phase.parts;
        let content_length = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        headers::sanitize_request(&mut parts.headers);
        parts.headers.remove(HOST);
        parts.headers.remove(CONTENT_LENGTH);

        let tls = conn.tls.as_ref();
        let head = RequestHead {
            method: parts.method.as_str().to_owned(),
            scheme: if tls.is_some() { "https" } else { "http" }.to_owned(),
            authority,
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned()),
            version: wire_version(parts.version).into(),
            headers: headers_to_wire(&parts.headers),
            forwarding: Some(Forwarding {
                request_id: request_id.as_str().to_owned(),
                client_ip: record.client.clone(),
                client_port: u32::from(conn.peer.port()),
                tls_version: tls.map(|t| t.version.clone()).unwrap_or_default(),
                sni: tls.and_then(|t| t.sni.clone()).unwrap_or_default(),
                alpn: tls.and_then(|t| t.alpn.clone()).unwrap_or_default(),
                traceparent: request_id.traceparent(),
                principal: principal.as_ref().map(crate::auth::to_wire),
            }),
            content_length,
            has_body: !body.is_end_stream(),
        };
        let failure = Arc::new(OnceLock::new());
        let (sent, body_sent) = tokio::sync::watch::channel(false);
        let parts_stream = RequestParts::new(
            RequestPart {
                part: Some(request_part::Part::Head(head)),
            },
            crate::stream::client_body(body),
            self.max_chunk,
            failure.clone(),
            bytes_in,
            sent,
            route.body_policy,
        );

        let forwarded = std::time::Instant::now();
        metrics::phase(
            "edge",
            Phase::EdgeChecks,
            forwarded.saturating_duration_since(record.started),
        );
        let answer = self.link.forward(parts_stream, body_sent).await;
        if answer.is_ok() {
            metrics::phase("edge", Phase::EdgeToInner, forwarded.elapsed());
        }
        // A client body that failed decides the answer, whatever the inner tier said.
        match failure.get() {
            Some(BodyFailure::Broken) => {
                // The guard says why when the framing itself was at fault.
                let denial = match facts.ledger.as_ref().and_then(Ledger::fault) {
                    Some(v) => Denial::new("http-framing", Reason::BadRequest).with_rule(v.rule()),
                    None => Denial::new("request-body", Reason::IncompleteBody),
                };
                return refuse_denied(record, &denial, version);
            }
            Some(&limit) => return refuse_denied(record, &body_denial(limit), version),
            None => {}
        }
        let (first, stream) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                let reason = match e {
                    LinkError::TimedOut => Reason::UpstreamTimeout,
                    _ => Reason::InnerUnavailable,
                };
                tracing::warn!(request_id = %request_id, error = %e, "request not served by the inner tier");
                return refuse(record, reason);
            }
        };
        let Some(response_part::Part::Head(head)) = first.part else {
            tracing::warn!(request_id = %request_id, "inner tier sent no response head");
            return refuse(record, Reason::InnerUnavailable);
        };
        let Ok(status) = http::StatusCode::from_u16(u16::try_from(head.status).unwrap_or(0)) else {
            return refuse(record, Reason::UpstreamUnavailable);
        };
        let mut headers = headers_from_wire(head.headers);
        headers::sanitize_response(&mut headers);
        headers.remove(CONTENT_LENGTH);
        if let Some(len) = head.content_length {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        if let Ok(id) = HeaderValue::from_str(request_id.as_str()) {
            headers.insert(X_REQUEST_ID, id);
        }
        record.status = status.as_u16();
        record.route = head.route;
        record.reason = head.reason;
        if let Some(limit_headers) = limit_headers {
            limit_headers.apply(&mut headers);
        }
        let held = RequestGuards {
            _slot: slot,
            _active: active,
            _permits: permits,
        };
        let body = ResponseBody::new(stream, head.content_length, record, held)
            .map_err(Into::into)
            .boxed();
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

/// A rate-limit policy's outcome as its metric counts it.
fn rate_decision(outcome: rampart_ratelimit::PolicyOutcome) -> metrics::RateDecision {
    match outcome {
        rampart_ratelimit::PolicyOutcome::Admit => metrics::RateDecision::Allow,
        rampart_ratelimit::PolicyOutcome::Limit => metrics::RateDecision::Limit,
        rampart_ratelimit::PolicyOutcome::ExceedQuota => metrics::RateDecision::ExceedQuota,
        rampart_ratelimit::PolicyOutcome::Fail => metrics::RateDecision::Fail,
    }
}

/// The denial for a body that broke a limit while streaming.
fn body_denial(failure: BodyFailure) -> Denial {
    match failure {
        BodyFailure::TooLarge => {
            Denial::new("request-limits", Reason::BodyTooLarge).with_rule("body-size")
        }
        BodyFailure::TooSlow => {
            Denial::new("request-limits", Reason::RequestTimeout).with_rule("body-pace")
        }
        BodyFailure::Broken => Denial::new("request-limits", Reason::IncompleteBody),
    }
}

fn audit_context(record: &AccessRecord) -> audit::Context<'_> {
    audit::Context {
        tier: "edge",
        request_id: &record.request_id,
        route: &record.route,
        client: &record.client,
    }
}

/// Who the audit record is about, once the caller authenticated.
fn audit_details(record: &AccessRecord) -> audit::Details<'_> {
    audit::Details {
        principal: Some(record.principal.as_str()).filter(|p| !p.is_empty()),
        ..Default::default()
    }
}

fn log_observations(record: &AccessRecord, observations: &[Observation]) {
    for observation in observations {
        match observation {
            Observation::WouldDeny(d) => {
                let (ctx, details) = (audit_context(record), audit_details(record));
                audit::record_with(&ctx, &details, d, audit::Action::Report, &[]);
            }
            Observation::Skipped { check, error } => {
                tracing::warn!(request_id = %record.request_id, check, error = %error, "check could not decide; failing open as configured");
            }
        }
    }
}

/// Answers a denial by a check. On HTTP/1, a framing or body-size refusal also closes
/// the connection: the unread rest of the request cannot be trusted.
fn refuse_denied(record: AccessRecord, denial: &Denial, version: Version) -> Response<EdgeBody> {
    let (ctx, details) = (audit_context(&record), audit_details(&record));
    audit::record_with(&ctx, &details, denial, audit::Action::Block, &[]);
    let mut response = refuse(record, denial.reason);
    let unread_body = matches!(
        denial.reason,
        Reason::BadRequest | Reason::IncompleteBody | Reason::BodyTooLarge | Reason::RequestTimeout
    );
    if unread_body && version != Version::HTTP_2 {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A refused authentication: the problem response plus its `WWW-Authenticate` values.
fn refuse_auth(record: AccessRecord, refusal: &Refusal, version: Version) -> Response<EdgeBody> {
    let mut response = refuse_denied(record, &refusal.denial, version);
    for challenge in &refusal.challenges {
        response
            .headers_mut()
            .append(http::header::WWW_AUTHENTICATE, challenge.clone());
    }
    response
}

/// Answers every request of a connection admitted over a cap: 503, then close.
pub(crate) fn refuse_over_capacity(conn: &Connection, version: Version) -> Response<EdgeBody> {
    let request_id = RequestId::generate();
    let record = AccessRecord::new(
        "edge",
        request_id,
        "",
        "",
        conn.peer.ip().to_canonical().to_string(),
    );
    let mut response = refuse(record, Reason::Overloaded);
    if version != Version::HTTP_2 {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Answers with the problem response for `reason` and logs the request.
pub(crate) fn refuse(mut record: AccessRecord, reason: Reason) -> Response<EdgeBody> {
    let response = problem(reason, &record.request_id);
    record.status = response.status().as_u16();
    record.reason = reason.code().to_owned();
    let size = response.body().size_hint().exact().unwrap_or(0);
    record.log(size, true);
    response
}

/// The edge's problem response for `reason`.
pub(crate) fn problem(reason: Reason, request_id: &RequestId) -> Response<EdgeBody> {
    let mut problem = Problem::new(reason, request_id);
    if reason.status() == http::StatusCode::SERVICE_UNAVAILABLE {
        problem.retry_after_secs = Some(1);
    }
    problem
        .to_response()
        .map(|body| Full::new(body).map_err(|never| match never {}).boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_comes_from_one_consistent_source() {
        let table: [(&str, &[&str], Option<&str>); 9] = [
            ("/x", &["api.example.com"], Some("api.example.com")),
            (
                "/x",
                &["api.example.com:8443"],
                Some("api.example.com:8443"),
            ),
            ("https://api.example.com/x", &[], Some("api.example.com")),
            (
                "https://api.example.com/x",
                &["API.example.com"],
                Some("api.example.com"),
            ),
            ("/x", &[], None), // HTTP/1.1 without Host
            ("/x", &["a.example.com", "b.example.com"], None), // two Host headers
            ("/x", &["a.example.com", "a.example.com"], None), // even identical
            ("https://a.example.com/x", &["b.example.com"], None), // :authority vs Host
            ("/x", &["bad host"], None),
        ];
        for (uri, hosts, want) in table {
            let uri: http::Uri = uri.parse().unwrap();
            let mut headers = http::HeaderMap::new();
            for h in hosts {
                headers.append(HOST, HeaderValue::from_str(h).unwrap());
            }
            assert_eq!(
                authority_of(&uri, &headers).as_deref(),
                want,
                "{uri} {hosts:?}"
            );
        }
    }
}
