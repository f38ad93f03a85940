//! Body adapters between the link and the backend.
//!
//! [`UpstreamBody`] feeds the edge's body chunks to the backend and turns a stream that
//! ends without its end marker, or a length that differs from the declared one, into a
//! body error, so hyper aborts the backend request instead of completing it: a partial
//! body is never presented to a backend as a whole one. [`ResponseParts`] streams the
//! backend's answer back under the exchange's total deadline.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Body, Frame, SizeHint};
use rampart_proto::v1::{End, Header, RequestPart, ResponsePart, request_part, response_part};
use rampart_proto::wire::headers_to_wire;
use rampart_service::logging::AccessRecord;
use tokio::time::Sleep;

use crate::link_server::Inbound;

/// Why a request body could not be passed on whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestBodyError {
    /// The edge's stream ended without the end marker (client aborted or body error).
    #[error("request body aborted before its end")]
    Aborted,
    /// The body is longer or shorter than its declared Content-Length.
    #[error("request body length differs from Content-Length")]
    LengthMismatch,
    /// The edge sent something other than body chunks after the head.
    #[error("link protocol violation in request body")]
    Protocol,
}

/// The edge's body chunks as a backend request body.
pub(crate) struct UpstreamBody {
    inbound: Option<Inbound>,
    /// Bytes already read from the link, sent before the rest of `inbound`.
    buffered: Option<Bytes>,
    /// Trailers of a buffered body, sent after it.
    trailers: Option<Vec<Header>>,
    declared: Option<u64>,
    seen: u64,
    bytes_in: Arc<AtomicU64>,
    /// Set once the body was sent whole: the first-byte deadline starts then.
    sent: tokio::sync::watch::Sender<bool>,
}

impl UpstreamBody {
    /// A body read from `inbound` after the head; `None` for a request without body.
    pub(crate) fn new(
        inbound: Option<Inbound>,
        declared: Option<u64>,
        bytes_in: Arc<AtomicU64>,
    ) -> (Self, tokio::sync::watch::Receiver<bool>) {
        let (sent, watch) = tokio::sync::watch::channel(inbound.is_none());
        let body = Self {
            inbound,
            buffered: None,
            trailers: None,
            declared,
            seen: 0,
            bytes_in,
            sent,
        };
        (body, watch)
    }
}

impl UpstreamBody {
    /// A body that was read whole (and inspected) before the backend sees any of it.
    pub(crate) fn buffered(
        body: Bytes,
        trailers: Vec<Header>,
    ) -> (Self, tokio::sync::watch::Receiver<bool>) {
        let (sent, watch) = tokio::sync::watch::channel(body.is_empty() && trailers.is_empty());
        let body = Self {
            inbound: None,
            declared: Some(body.len() as u64),
            buffered: (!body.is_empty()).then_some(body),
            trailers: (!trailers.is_empty()).then_some(trailers),
            seen: 0,
            bytes_in: Arc::new(AtomicU64::new(0)),
            sent,
        };
        (body, watch)
    }

    /// A body whose first `prefix` bytes were already read from `inbound`; the rest
    /// streams on (a route that lets oversize bodies pass uninspected).
    pub(crate) fn resume(
        prefix: Bytes,
        inbound: Inbound,
        declared: Option<u64>,
        bytes_in: Arc<AtomicU64>,
    ) -> (Self, tokio::sync::watch::Receiver<bool>) {
        let (mut body, watch) = Self::new(Some(inbound), declared, bytes_in);
        body.buffered = (!prefix.is_empty()).then_some(prefix);
        (body, watch)
    }
}

/// A request body read whole from the link, or the part of it read before a limit.
pub(crate) enum ReadBody {
    /// The complete body and its trailers.
    Complete(Bytes, Vec<Header>),
    /// The body is longer than the limit; this much was read.
    Exceeded(Bytes),
}

/// A body gathered chunk by chunk: a body that arrives in one chunk (the common case)
/// is kept as it came, without a copy; only a second chunk starts a buffer.
#[derive(Default)]
struct Gathered {
    first: Bytes,
    joined: Option<bytes::BytesMut>,
}

impl Gathered {
    fn len(&self) -> usize {
        self.joined
            .as_ref()
            .map_or(self.first.len(), bytes::BytesMut::len)
    }

    fn push(&mut self, data: Bytes) {
        match &mut self.joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if self.first.is_empty() => self.first = data,
            None => {
                let mut joined = bytes::BytesMut::with_capacity(self.first.len() + data.len());
                joined.extend_from_slice(&self.first);
                joined.extend_from_slice(&data);
                self.first = Bytes::new();
                self.joined = Some(joined);
            }
        }
    }

    fn freeze(self) -> Bytes {
        self.joined.map_or(self.first, bytes::BytesMut::freeze)
    }
}

/// Reads the edge's body chunks until the end marker, holding at most `limit` bytes.
pub(crate) async fn read_body(
    inbound: &mut Inbound,
    declared: Option<u64>,
    limit: u64,
    bytes_in: &AtomicU64,
) -> Result<ReadBody, RequestBodyError> {
    use futures_util::StreamExt as _;
    let mut body = Gathered::default();
    loop {
        match inbound.next().await {
            Some(Ok(RequestPart {
                part: Some(request_part::Part::Body(data)),
            })) => {
                bytes_in.fetch_add(data.len() as u64, Ordering::Relaxed);
                let total = body.len() as u64 + data.len() as u64;
                if declared.is_some_and(|d| total > d) {
                    return Err(RequestBodyError::LengthMismatch);
                }
                body.push(data);
                if total > limit {
                    return Ok(ReadBody::Exceeded(body.freeze()));
                }
            }
            Some(Ok(RequestPart {
                part: Some(request_part::Part::End(end)),
            })) => {
                if declared.is_some_and(|d| body.len() as u64 != d) {
                    return Err(RequestBodyError::LengthMismatch);
                }
                return Ok(ReadBody::Complete(body.freeze(), end.trailers));
            }
            Some(Ok(_)) => return Err(RequestBodyError::Protocol),
            Some(Err(_)) | None => return Err(RequestBodyError::Aborted),
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let this = &mut *self;
        if let Some(data) = this.buffered.take() {
            this.seen += data.len() as u64;
            if this.inbound.is_none() && this.trailers.is_none() {
                this.sent.send_replace(true);
            }
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        let Some(inbound) = this.inbound.as_mut() else {
            if let Some(trailers) = this.trailers.take() {
                this.sent.send_replace(true);
                let trailers = rampart_proto::wire::headers_from_wire(trailers);
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            return Poll::Ready(None);
        };
        let message = ready!(Pin::new(inbound).poll_next(cx));
        let result = match message {
            Some(Ok(RequestPart {
                part: Some(request_part::Part::Body(data)),
            })) => {
                this.seen += data.len() as u64;
                this.bytes_in
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                if this.declared.is_some_and(|d| this.seen > d) {
                    Err(RequestBodyError::LengthMismatch)
                } else {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
            }
            Some(Ok(RequestPart {
                part: Some(request_part::Part::End(end)),
            })) => {
                this.inbound = None;
                if this.declared.is_some_and(|d| this.seen != d) {
                    Err(RequestBodyError::LengthMismatch)
                } else if end.trailers.is_empty() {
                    this.sent.send_replace(true);
                    return Poll::Ready(None);
                } else {
                    this.sent.send_replace(true);
                    let trailers = rampart_proto::wire::headers_from_wire(end.trailers);
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
            }
            Some(Ok(_)) => Err(RequestBodyError::Protocol),
            Some(Err(_)) | None => Err(RequestBodyError::Aborted),
        };
        this.inbound = None;
        Poll::Ready(Some(result))
    }

    fn is_end_stream(&self) -> bool {
        self.inbound.is_none() && self.buffered.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.inbound.is_none() {
            let left = self.buffered.as_ref().map_or(0, |b| b.len() as u64);
            return SizeHint::with_exact(left);
        }
        match (self.declared, &self.inbound) {
            (_, None) => SizeHint::with_exact(0),
            (Some(n), Some(_)) => SizeHint::with_exact(n.saturating_sub(self.seen)),
            (None, Some(_)) => SizeHint::default(),
        }
    }
}

/// The backend's response as link messages: head, body chunks, end.
pub(crate) struct ResponseParts {
    head: Option<ResponsePart>,
    body: Option<crate::response::BackendBody>,
    pending: Bytes,
    max_chunk: usize,
    deadline: Pin<Box<Sleep>>,
    bytes_out: u64,
    record: AccessRecord,
}

impl ResponseParts {
    pub(crate) fn new(
        head: ResponsePart,
        body: crate::response::BackendBody,
        max_chunk: usize,
        deadline: tokio::time::Instant,
        record: AccessRecord,
    ) -> Self {
        Self {
            head: Some(head),
            body: Some(body),
            pending: Bytes::new(),
            max_chunk,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            bytes_out: 0,
            record,
        }
    }

    fn finish(&mut self, complete: bool) {
        if self.body.take().is_some() {
            self.record.log(self.bytes_out, complete);
        }
    }
}

impl Drop for ResponseParts {
    fn drop(&mut self) {
        self.finish(false);
    }
}

fn end_part(trailers: Vec<Header>) -> ResponsePart {
    ResponsePart {
        part: Some(response_part::Part::End(End { trailers })),
    }
}

impl Stream for ResponseParts {
    type Item = Result<ResponsePart, tonic::Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(head)));
        }
        if !this.pending.is_empty() {
            let take = this.pending.len().min(this.max_chunk);
            let chunk = this.pending.split_to(take);
            return Poll::Ready(Some(Ok(ResponsePart {
                part: Some(response_part::Part::Body(chunk)),
            })));
        }
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.finish(false);
            return Poll::Ready(Some(Err(tonic::Status::deadline_exceeded(
                "backend response exceeded the total deadline",
            ))));
        }
        loop {
            match ready!(Pin::new(&mut *body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => {
                        this.bytes_out += data.len() as u64;
                        let take = data.len().min(this.max_chunk);
                        let mut data = data;
                        let chunk = data.split_to(take);
                        this.pending = data;
                        return Poll::Ready(Some(Ok(ResponsePart {
                            part: Some(response_part::Part::Body(chunk)),
                        })));
                    }
                    Err(frame) => {
                        let trailers = frame
                            .into_trailers()
                            .map(|t| headers_to_wire(&t))
                            .unwrap_or_default();
                        this.finish(true);
                        return Poll::Ready(Some(Ok(end_part(trailers))));
                    }
                },
                Some(Err(_)) => {
                    this.finish(false);
                    return Poll::Ready(Some(Err(tonic::Status::unavailable(
                        "backend response interrupted",
                    ))));
                }
                None => {
                    this.finish(true);
                    return Poll::Ready(Some(Ok(end_part(Vec::new()))));
                }
            }
        }
    }
}

use std::future::Future as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_bodies_keep_every_byte_in_order_and_one_chunk_is_not_copied() {
        let cases: &[&[&str]] = &[
            &[],
            &["whole"],
            &["", "whole"],
            &["who", "le"],
            &["w", "", "ho", "le"],
        ];
        for chunks in cases {
            let mut gathered = Gathered::default();
            let mut want = String::new();
            for c in *chunks {
                gathered.push(Bytes::from_static(c.as_bytes()));
                want.push_str(c);
                assert_eq!(gathered.len(), want.len(), "{chunks:?}");
            }
            assert_eq!(gathered.freeze(), want.as_bytes(), "{chunks:?}");
        }
        let one = Bytes::from(vec![7u8; 1024]);
        let mut gathered = Gathered::default();
        gathered.push(one.clone());
        assert_eq!(
            gathered.freeze().as_ptr(),
            one.as_ptr(),
            "one chunk is kept as it came"
        );
    }
}
