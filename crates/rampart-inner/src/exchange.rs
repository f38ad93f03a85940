//! One exchange on the inner tier: validate the edge's request head, route it, send it
//! to the backend and stream the answer back. Every refusal is a problem response built
//! by [`rampart_core::problem`], relayed by the edge unchanged.

use std::time::Instant;

use futures_util::Stream;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use rampart_core::headers::{self, TRACEPARENT, X_REQUEST_ID};
use rampart_core::id::{RequestId, trace_id_of};
use rampart_core::problem::{Problem, Reason};
use rampart_proto::v1::{RequestHead, ResponseHead, ResponsePart, response_part};
use rampart_service::logging::AccessRecord;
use rampart_service::metrics::{self, Phase};

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use http::header::CONTENT_ENCODING;
use rampart_core::check::Denial;
use rampart_core::pipeline::Observation;
use rampart_service::audit;

use crate::body::{ReadBody, ResponseParts, UpstreamBody, read_body};
use crate::inspect::{HeadView, InspectionPolicy, Inspector, Oversize};
use crate::link_server::Inbound;
use rampart_core::routing::RouteTable;

use crate::config::RoutePolicy;
use crate::upstream::{UpstreamError, Upstreams};
use rampart_proto::wire::{headers_from_wire, headers_to_wire};

use crate::identity::IdentityHeaders;

/// The stream of response parts returned to the edge.
pub(crate) type PartStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<ResponsePart, tonic::Status>> + Send>>;

/// Everything an exchange needs, shared by all exchanges.
pub(crate) struct Router {
    pub(crate) routes: RouteTable<RoutePolicy>,
    pub(crate) upstreams: Upstreams,
    pub(crate) max_chunk: usize,
    pub(crate) inspector: Inspector,
    pub(crate) identity_headers: IdentityHeaders,
    /// Runtime block/detect switches of the routes' inspection.
    pub(crate) modes: rampart_service::admin::modes::RouteModes,
    /// Traffic the routes' OpenAPI contracts do not describe.
    pub(crate) undocumented: crate::inspect::undocumented::Undocumented,
}

#[cfg(test)]
impl Router {
    /// No routes (the inner itself answers 404), no upstreams, no antivirus.
    pub(crate) fn empty() -> Router {
        let engine = Arc::new(rampart_detect::Engine::builtin());
        Router {
            routes: RouteTable::default(),
            upstreams: Upstreams::new(&Default::default()).expect("no upstreams"),
            max_chunk: 64 * 1024,
            inspector: Inspector {
                rules: Arc::new(crate::inspect::rulemodes::RuleModes::new(&engine)),
                engine,
                scanners: crate::inspect::Scanners::new(None),
                slots: Arc::new(crate::inspect::LargeSlots::new(None)),
            },
            identity_headers: IdentityHeaders::default(),
            modes: rampart_service::admin::modes::RouteModes::default(),
            undocumented: crate::inspect::undocumented::Undocumented::new([]),
        }
    }
}

/// The body the backend gets, once inspection allowed it.
struct Admitted {
    body: UpstreamBody,
    body_sent: tokio::sync::watch::Receiver<bool>,
    /// Set when the forwarded body differs in length or coding from the client's.
    rewritten: Option<Rewritten>,
    /// The head as inspection parsed it; the backend request is built from it.
    head: Option<HeadView>,
}

struct Rewritten {
    length: u64,
    drop_coding: bool,
}

/// A complete problem exchange: head, JSON body, end.
fn problem_parts(record: AccessRecord, reason: Reason) -> PartStream {
    problem_parts_allow(record, reason, None)
}

/// [`problem_parts`] with an `Allow` header (a 405 names the documented methods).
fn problem_parts_allow(
    mut record: AccessRecord,
    reason: Reason,
    allow: Option<HeaderValue>,
) -> PartStream {
    let response = Problem::new(reason, &record.request_id).to_response();
    let (mut parts, body) = response.into_parts();
    if let Some(allow) = allow {
        parts.headers.insert(http::header::ALLOW, allow);
    }
    record.status = parts.status.as_u16();
    record.reason = reason.code().to_owned();
    record.log(body.len() as u64, true);
    let head = ResponseHead {
        status: u32::from(parts.status.as_u16()),
        headers: headers_to_wire(&parts.headers),
        content_length: Some(body.len() as u64),
        route: record.route,
        reason: reason.code().to_owned(),
    };
    let items = [
        ResponsePart {
            part: Some(response_part::Part::Head(head)),
        },
        ResponsePart {
            part: Some(response_part::Part::Body(body)),
        },
        ResponsePart {
            part: Some(response_part::Part::End(Default::default())),
        },
    ];
    Box::pin(futures_util::stream::iter(items.into_iter().map(Ok)))
}

/// The head's headers with the `Host` the backend will get (the edge sends it as the
/// authority): inspected like any header, and the site that `cross_site` rules compare
/// the Referer with.
fn inspected_headers(head: &RequestHead) -> HeaderMap {
    let mut headers = headers_from_wire(head.headers.clone());
    if let Ok(host) = HeaderValue::from_str(&head.authority)
        && !host.is_empty()
    {
        headers.insert(HOST, host);
    }
    headers
}

/// The backend request the edge's head describes, with Rampart's forwarding headers;
/// built on the inspected view of the head when there is one (parsed once).
fn backend_request(
    head: &mut RequestHead,
    view: Option<HeadView>,
    request_id: &RequestId,
    identity: &IdentityHeaders,
    body: UpstreamBody,
) -> Option<Request<UpstreamBody>> {
    let (method, uri, mut headers) = match view {
        Some(view) => (view.method, view.uri, view.headers),
        None => (
            Method::from_bytes(head.method.as_bytes()).ok()?,
            head.path_and_query.parse().ok()?,
            headers_from_wire(std::mem::take(&mut head.headers)),
        ),
    };
    // Defence in depth: the edge already did this, but the inner must not rely on it.
    headers::sanitize_request(&mut headers);
    headers.remove(CONTENT_LENGTH);
    let forwarding = head.forwarding.as_ref()?;
    identity.apply(&mut headers, forwarding.principal.as_ref());
    let host = HeaderValue::from_str(&head.authority).ok()?;
    headers.insert(HOST, host.clone());
    if let Some(len) = head.content_length.filter(|_| head.has_body) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    let client_ip: std::net::IpAddr = forwarding.client_ip.parse().ok()?;
    let proto = if head.scheme == "https" {
        "https"
    } else {
        "http"
    };
    // An IPv4 address that parsed has one spelling (no leading zeros, no padding), so
    // the edge's text is already canonical; IPv6 has many and is written anew.
    let client_text = match client_ip {
        std::net::IpAddr::V4(_) => std::borrow::Cow::Borrowed(forwarding.client_ip.as_str()),
        std::net::IpAddr::V6(ip) => std::borrow::Cow::Owned(ip.to_string()),
    };
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set(&mut headers, "x-forwarded-for", &client_text);
    set(&mut headers, "x-forwarded-proto", proto);
    headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    // RFC 7239: an IPv6 node is quoted and bracketed.
    let v6 = client_ip.is_ipv6();
    let mut forwarded = String::with_capacity(client_text.len() + 20);
    forwarded.push_str(if v6 { "for=\"[" } else { "for=" });
    forwarded.push_str(&client_text);
    forwarded.push_str(if v6 { "]\";proto=" } else { ";proto=" });
    forwarded.push_str(proto);
    set(&mut headers, "forwarded", &forwarded);
    if let Ok(id) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(X_REQUEST_ID, id);
    }
    // A new span of the edge's trace (trace id = request id).
    if let Ok(tp) = HeaderValue::from_str(&request_id.traceparent()) {
        headers.insert(TRACEPARENT, tp);
    }
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Some(request)
}

/// Who an audit record is about.
pub(crate) struct Audit<'a> {
    pub(crate) request_id: &'a RequestId,
    route: &'a str,
    client: &'a str,
    /// The caller the edge authenticated, if any.
    principal: Option<&'a str>,
}

impl Audit<'_> {
    pub(crate) fn record(&self, denial: &Denial, action: audit::Action, explanation: &[String]) {
        let ctx = audit::Context {
            tier: "inner",
            request_id: self.request_id,
            route: self.route,
            client: self.client,
        };
        let details = audit::Details {
            principal: self.principal,
            ..Default::default()
        };
        audit::record_with(&ctx, &details, denial, action, explanation);
    }
}

impl Router {
    /// Reads and inspects the body as the route says, or refuses with a reason.
    async fn admit(
        &self,
        policy: &InspectionPolicy,
        head: &RequestHead,
        inbound: Inbound,
        bytes_in: Arc<AtomicU64>,
        deadline: Instant,
        audit: &Audit<'_>,
    ) -> Result<Admitted, Reason> {
        let declared = head.content_length;
        if policy.enforcement.is_none() {
            let (body, body_sent) =
                UpstreamBody::new(head.has_body.then_some(inbound), declared, bytes_in);
            return Ok(Admitted {
                body,
                body_sent,
                rewritten: None,
                head: None,
            });
        }
        let mut inbound = inbound;
        let read = if head.has_body {
            let limit = policy.max_body.as_u64();
            let read = read_body(&mut inbound, declared, limit, &bytes_in);
            match tokio::time::timeout_at(deadline.into(), read).await {
                Ok(Ok(read)) => read,
                Ok(Err(e)) => {
                    tracing::debug!(request_id = %audit.request_id, error = %e, "request body not received whole");
                    return Err(Reason::IncompleteBody);
                }
                Err(_) => return Err(Reason::RequestTimeout),
            }
        } else {
            ReadBody::Complete(Bytes::new(), Vec::new())
        };
        let (body, trailers) = match read {
            ReadBody::Complete(body, trailers) => (body, trailers),
            ReadBody::Exceeded(prefix) => {
                let denial =
                    Denial::new("inspection", Reason::BodyTooLarge).with_rule("inspection-size");
                if policy.oversize == Oversize::Refuse {
                    audit.record(&denial, audit::Action::Block, &[]);
                    return Err(Reason::BodyTooLarge);
                }
                // Written explicitly in the route: stream on, uninspected, and say so.
                audit.record(&denial, audit::Action::Report, &[]);
                let (body, body_sent) = UpstreamBody::resume(prefix, inbound, declared, bytes_in);
                return Ok(Admitted {
                    body,
                    body_sent,
                    rewritten: None,
                    head: None,
                });
            }
        };
        let view = HeadView {
            method: Method::from_bytes(head.method.as_bytes()).map_err(|_| Reason::BadRequest)?,
            uri: head
                .path_and_query
                .parse()
                .map_err(|_| Reason::BadRequest)?,
            headers: inspected_headers(head),
        };
        let original_len = body.len() as u64;
        let inspected = self.inspector.inspect(policy, view, body).await;
        let explanation: Vec<String> = inspected
            .findings
            .hits
            .iter()
            .map(|h| format!("{}@{}: {}", h.rule_id, h.location, h.fragment))
            .collect();
        for observation in &inspected.observations {
            match observation {
                Observation::WouldDeny(d) => audit.record(d, audit::Action::Report, &explanation),
                Observation::Skipped { check, error } => {
                    tracing::warn!(request_id = %audit.request_id, check, error = %error, "check could not decide; failing open as configured");
                }
            }
        }
        let cleared = match inspected.decision {
            Ok(cleared) => cleared,
            Err(denial) => {
                audit.record(&denial, audit::Action::Block, &explanation);
                return Err(denial.reason);
            }
        };
        let rewritten =
            (cleared.decoded || cleared.body.len() as u64 != original_len).then(|| Rewritten {
                length: cleared.body.len() as u64,
                drop_coding: cleared.decoded,
            });
        let (body, body_sent) = UpstreamBody::buffered(cleared.body, trailers);
        Ok(Admitted {
            body,
            body_sent,
            rewritten,
            head: inspected.head,
        })
    }

    /// Serves one exchange whose head was already read from `inbound`.
    pub(crate) async fn exchange(
        &self,
        mut head: RequestHead,
        inbound: Inbound,
    ) -> Result<PartStream, tonic::Status> {
        let forwarding = head.forwarding.as_ref().ok_or_else(|| {
            tonic::Status::invalid_argument("request head without forwarding facts")
        })?;
        let request_id = RequestId::parse(&forwarding.request_id)
            .map_err(|_| tonic::Status::invalid_argument("malformed request id"))?;
        // A diagnostic only: not worth parsing the traceparent when nobody reads it.
        if tracing::enabled!(tracing::Level::DEBUG)
            && trace_id_of(&forwarding.traceparent) != Some(request_id.as_str())
        {
            tracing::debug!(request_id = %request_id, "edge traceparent does not carry the request id");
        }
        let path = head
            .path_and_query
            .split('?')
            .next()
            .unwrap_or("/")
            .to_owned();
        let mut record = AccessRecord::new(
            "inner",
            request_id.clone(),
            &head.method,
            &path,
            forwarding.client_ip.clone(),
        );
        if let Some(p) = &forwarding.principal {
            record.principal.clone_from(&p.subject);
        }
        let bytes_in = record.bytes_in.clone();

        let Some(route) = self.routes.find(&head.authority, &path) else {
            return Ok(problem_parts(record, Reason::NoRoute));
        };
        record.route.clone_from(&route.name);
        let Some(upstream) = self.upstreams.get(&route.value.upstream) else {
            return Ok(problem_parts(record, Reason::Internal));
        };
        let deadline = Instant::now() + upstream.total_timeout;
        let operation = route.value.inspection.contract.as_ref().and_then(|c| {
            let names = head.headers.iter().map(|h| h.name.as_str());
            let (method, target) = (&head.method, &head.path_and_query);
            (self.undocumented).request(&route.name, &c.contract, method, target, names)
        });
        let ctx = Audit {
            request_id: &request_id,
            route: &route.name,
            client: &forwarding.client_ip,
            principal: forwarding.principal.as_ref().map(|p| p.subject.as_str()),
        };
        let inspecting = Instant::now();
        let admitted = self
            .admit(
                &crate::ops::inspection(&self.modes, &route.name, &route.value.inspection),
                &head,
                inbound,
                bytes_in,
                deadline,
                &ctx,
            )
            .await;
        metrics::phase("inner", Phase::InnerInspection, inspecting.elapsed());
        let admitted = match admitted {
            Ok(admitted) => admitted,
            Err(reason) => {
                let inspection = &route.value.inspection;
                let allow = (reason == Reason::MethodNotAllowed)
                    .then(|| {
                        let documented = inspection.contract.as_ref();
                        documented
                            .and_then(|c| c.contract.allow(&path))
                            .and_then(|a| HeaderValue::from_str(&a).ok())
                            // Otherwise a GraphQL route's 405 is a mutation over GET.
                            .or_else(|| {
                                inspection
                                    .options
                                    .graphql
                                    .then_some(HeaderValue::from_static("POST"))
                            })
                    })
                    .flatten();
                return Ok(problem_parts_allow(record, reason, allow));
            }
        };
        let body_sent = admitted.body_sent;
        let Some(mut request) = backend_request(
            &mut head,
            admitted.head,
            &request_id,
            &self.identity_headers,
            admitted.body,
        ) else {
            return Ok(problem_parts(record, Reason::BadRequest));
        };
        if let Some(rewritten) = admitted.rewritten {
            let headers = request.headers_mut();
            headers.insert(CONTENT_LENGTH, HeaderValue::from(rewritten.length));
            if rewritten.drop_coding {
                headers.remove(CONTENT_ENCODING);
            }
        }

        let sending = Instant::now();
        let sent = upstream.send(request, body_sent, deadline).await;
        metrics::phase("inner", Phase::Backend, sending.elapsed());
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(request_id = %request_id, route = %route.name, error = %e, "backend exchange failed");
                let reason = match e {
                    UpstreamError::TimedOut => Reason::UpstreamTimeout,
                    UpstreamError::Unavailable(_) => Reason::UpstreamUnavailable,
                };
                return Ok(problem_parts(record, reason));
            }
        };
        let (mut parts, body) = response.into_parts();
        let content_length = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        headers::sanitize_response(&mut parts.headers);
        parts.headers.remove(CONTENT_LENGTH);
        record.status = parts.status.as_u16();
        if let Some(operation) = &operation {
            (self.undocumented).response(&route.name, operation, record.status);
        }
        // The head lent its headers to the backend request; the facts are still there.
        let facts = head.forwarding.as_ref();
        let principal = facts.and_then(|f| f.principal.as_ref());
        let exchange = crate::response::Exchange {
            method: &head.method,
            path: &path,
            tls: facts.is_some_and(|f| !f.tls_version.is_empty()) || head.scheme == "https",
            authenticated: principal.is_some(),
            contract: route
                .value
                .inspection
                .contract
                .as_ref()
                .map(|c| &c.contract),
        };
        let ctx = Audit {
            request_id: &request_id,
            route: &route.name,
            client: facts.map_or("", |f| f.client_ip.as_str()),
            principal: principal.map(|p| p.subject.as_str()),
        };
        let released = crate::response::protect(
            &route.value.response,
            &exchange,
            &ctx,
            &mut parts,
            content_length,
            body,
            deadline,
        )
        .await;
        let (body, content_length) = match released {
            Ok(r) => (r.body, r.content_length),
            Err(reason) => return Ok(problem_parts(record, reason)),
        };
        let head = ResponseHead {
            status: u32::from(parts.status.as_u16()),
            headers: headers_to_wire(&parts.headers),
            content_length,
            route: route.name.clone(),
            reason: String::new(),
        };
        let stream = ResponseParts::new(
            ResponsePart {
                part: Some(response_part::Part::Head(head)),
            },
            body,
            self.max_chunk,
            tokio::time::Instant::from_std(deadline),
            record,
        );
        Ok(Box::pin(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_proto::v1::{Forwarding, Header};
    use std::sync::Arc;

    fn head(
        client_ip: &str,
        headers: &[(&str, &str)],
        content_length: Option<u64>,
        has_body: bool,
    ) -> RequestHead {
        let id = RequestId::generate();
        RequestHead {
            method: "POST".into(),
            scheme: "https".into(),
            authority: "api.example.com".into(),
            path_and_query: "/orders?id=7".into(),
            headers: headers
                .iter()
                .map(|(k, v)| Header {
                    name: (*k).into(),
                    value: bytes::Bytes::copy_from_slice(v.as_bytes()),
                })
                .collect(),
            forwarding: Some(Forwarding {
                request_id: id.as_str().into(),
                client_ip: client_ip.into(),
                traceparent: id.traceparent(),
                ..Default::default()
            }),
            content_length,
            has_body,
            ..Default::default()
        }
    }

    fn build(mut head: RequestHead) -> Option<Request<UpstreamBody>> {
        let id = RequestId::parse(&head.forwarding.as_ref().unwrap().request_id).unwrap();
        let (body, _) = UpstreamBody::new(None, head.content_length, Arc::default());
        backend_request(&mut head, None, &id, &IdentityHeaders::default(), body)
    }

    #[test]
    fn backend_sees_rampart_forwarding_headers_not_client_copies() {
        let request = build(head(
            "2001:db8::7",
            &[
                ("x-forwarded-for", "6.6.6.6"),
                ("x-request-id", "forged"),
                ("x-rampart-principal", "admin"),
                ("accept", "application/json"),
            ],
            Some(12),
            true,
        ))
        .unwrap();
        let h = request.headers();
        assert_eq!(h["host"], "api.example.com");
        assert_eq!(h["x-forwarded-for"], "2001:db8::7");
        assert_eq!(h["forwarded"], "for=\"[2001:db8::7]\";proto=https");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "api.example.com");
        assert_eq!(h["content-length"], "12");
        assert_eq!(h["accept"], "application/json");
        assert!(h.get("x-rampart-principal").is_none());
        let id = h["x-request-id"].to_str().unwrap();
        assert_eq!(trace_id_of(h["traceparent"].to_str().unwrap()), Some(id));
        assert_eq!(request.uri(), "/orders?id=7");
    }

    /// The backend request built on the inspected view of the head is the one built
    /// from the wire.
    #[test]
    fn the_inspected_view_builds_the_same_backend_request_as_the_wire() {
        let heads = [
            head("10.1.2.3", &[], None, false),
            head(
                "2001:db8::7",
                &[
                    ("x-forwarded-for", "6.6.6.6"),
                    ("accept", "application/json"),
                    ("accept", "text/plain"),
                    ("connection", "x-drop"),
                    ("x-drop", "1"),
                    ("host", "forged.example"),
                ],
                Some(12),
                true,
            ),
        ];
        for wire in heads {
            let id = RequestId::parse(&wire.forwarding.as_ref().unwrap().request_id).unwrap();
            let mut from_view = wire.clone();
            let view = HeadView {
                method: Method::from_bytes(wire.method.as_bytes()).unwrap(),
                uri: wire.path_and_query.parse().unwrap(),
                headers: inspected_headers(&wire),
            };
            let identity = IdentityHeaders::default();
            let (body, _) = UpstreamBody::new(None, wire.content_length, Arc::default());
            let a = backend_request(&mut from_view, Some(view), &id, &identity, body).unwrap();
            let b = build(wire).unwrap();
            assert_eq!(a.method(), b.method());
            assert_eq!(a.uri(), b.uri());
            let strip = |r: &Request<UpstreamBody>| {
                let mut h = r.headers().clone();
                // A new span id each time.
                h.remove(TRACEPARENT);
                h
            };
            assert_eq!(strip(&a), strip(&b));
        }
    }

    #[test]
    fn bodyless_requests_get_no_content_length_and_bad_heads_are_refused() {
        let request = build(head("10.1.2.3", &[], None, false)).unwrap();
        assert!(request.headers().get("content-length").is_none());
        assert_eq!(request.headers()["forwarded"], "for=10.1.2.3;proto=https");

        let mut bad_method = head("10.1.2.3", &[], None, false);
        bad_method.method = "GET POST".into();
        assert!(build(bad_method).is_none());
        let mut bad_ip = head("not-an-ip", &[], None, false);
        bad_ip.path_and_query = "/x".into();
        assert!(build(bad_ip).is_none());
        let mut bad_authority = head("10.1.2.3", &[], None, false);
        bad_authority.authority = "bad\nhost".into();
        assert!(build(bad_authority).is_none());
    }
}
