//! One stream of a link connection: a `Forward` exchange read and answered here, or
//! another call handed to tonic.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderValue, Method, Response};
use http_body::Body as _;
use rampart_proto::h2link::{self, BATCH, FIRST_UNWINDOWED, FrameError, encode};
use rampart_proto::v1::{RequestPart, request_part};
use tower::ServiceExt as _;

use super::LinkServer;
use crate::exchange::PartStream;

/// Why the edge's messages stopped before their end.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InboundError {
    #[error("link stream failed: {0}")]
    Transport(#[from] h2::Error),
    #[error("link protocol violation: {0}")]
    Protocol(#[from] FrameError),
}

/// The edge's request parts, decoded as they arrive; flow-control window is given
/// back as the exchange takes them, so a body the exchange does not read holds the
/// edge back.
pub(crate) struct Inbound {
    recv: h2::RecvStream,
    buf: BytesMut,
    max_message: usize,
    done: bool,
}

impl Inbound {
    pub(crate) fn new(recv: h2::RecvStream, max_message: usize) -> Self {
        Self {
            recv,
            buf: BytesMut::new(),
            max_message,
            done: false,
        }
    }
}

impl Stream for Inbound {
    type Item = Result<RequestPart, InboundError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match h2link::decode::<RequestPart>(&mut this.buf, this.max_message) {
                Ok(Some(part)) => return Poll::Ready(Some(Ok(part))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
            if this.done {
                if this.buf.is_empty() {
                    return Poll::Ready(None);
                }
                this.buf.clear();
                return Poll::Ready(Some(Err(FrameError::Truncated.into())));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    this.buf.extend_from_slice(&data);
                }
                Some(Err(e)) => {
                    this.done = true;
                    this.buf.clear();
                    return Poll::Ready(Some(Err(e.into())));
                }
                None => this.done = true,
            }
        }
    }
}

/// Serves a `Forward` stream: the head, the exchange, the answer.
pub(super) async fn serve(
    server: &LinkServer,
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) {
    if request.method() != Method::POST {
        return trailers_only(&mut respond, &tonic::Status::unimplemented("POST only"));
    }
    let mut inbound = Inbound::new(request.into_body(), server.limits.max_message);
    let exchange = async {
        let head = match inbound.next().await {
            Some(Ok(RequestPart {
                part: Some(request_part::Part::Head(head)),
            })) => head,
            Some(Err(InboundError::Transport(e))) => {
                return Err(tonic::Status::cancelled(e.to_string()));
            }
            _ => {
                return Err(tonic::Status::invalid_argument(
                    "the first message must be the request head",
                ));
            }
        };
        let router = server.router.load_full();
        router.exchange(head, inbound).await
    };
    let mut exchange = std::pin::pin!(exchange);
    // A reset from the edge (its client went away) cancels the exchange, backend call
    // included, as hyper's server did.
    let answered = std::future::poll_fn(|cx| {
        if let Poll::Ready(answer) = exchange.as_mut().poll(cx) {
            return Poll::Ready(Some(answer));
        }
        respond.poll_reset(cx).map(|_| None)
    })
    .await;
    match answered {
        Some(Ok(parts)) => send_parts(respond, parts).await,
        Some(Err(status)) => trailers_only(&mut respond, &status),
        None => {}
    }
}

/// Answers a call that failed before any message with its status in the headers.
fn trailers_only(respond: &mut h2::server::SendResponse<Bytes>, status: &tonic::Status) {
    let mut response = grpc_response();
    response
        .headers_mut()
        .insert("grpc-status", HeaderValue::from(status.code() as i32));
    let _ = respond.send_response(response, true);
}

fn grpc_response() -> Response<()> {
    let mut response = Response::new(());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

/// Streams the answer's parts onto the stream in batches, then the `grpc-status`.
pub(super) async fn send_parts(
    mut respond: h2::server::SendResponse<Bytes>,
    mut parts: PartStream,
) {
    let Ok(mut stream) = respond.send_response(grpc_response(), false) else {
        return;
    };
    let mut first = true;
    loop {
        let mut batch = BytesMut::new();
        let mut end = None;
        let gathered = std::future::poll_fn(|cx| {
            while batch.len() < BATCH {
                match parts.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(part))) => encode(&part, &mut batch),
                    Poll::Ready(Some(Err(status))) => {
                        end = Some(status.code());
                        break;
                    }
                    Poll::Ready(None) => {
                        end = Some(tonic::Code::Ok);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if !batch.is_empty() || end.is_some() {
                return Poll::Ready(true);
            }
            // Waiting for the backend; the edge going away ends the exchange.
            stream.poll_reset(cx).map(|_| false)
        })
        .await;
        if !gathered {
            return;
        }
        if !batch.is_empty() {
            let unwindowed = std::mem::take(&mut first) && batch.len() <= FIRST_UNWINDOWED;
            if !unwindowed {
                match std::future::poll_fn(|cx| h2link::poll_window(&mut stream, cx)).await {
                    Ok(true) => {}
                    Ok(false) | Err(_) => return,
                }
            }
            if stream.send_data(batch.freeze(), false).is_err() {
                return;
            }
        }
        if let Some(code) = end {
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from(code as i32));
            let _ = stream.send_trailers(trailers);
            return;
        }
    }
}

/// Hands a call other than `Forward` to tonic and streams its answer back.
pub(super) async fn other(
    server: &LinkServer,
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) {
    let request = request.map(h2link::RecvBody);
    let Ok(response) = server.others.clone().oneshot(request).await;
    let (parts, body) = response.into_parts();
    let end = body.is_end_stream();
    let Ok(stream) = respond.send_response(Response::from_parts(parts, ()), end) else {
        return;
    };
    if !end {
        h2link::pipe(body, stream).await;
    }
}
