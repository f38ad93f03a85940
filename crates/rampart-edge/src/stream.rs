//! Body adapters between hyper and the link: a client body becomes a stream of
//! [`RequestPart`]s, and the inner tier's [`ResponsePart`]s become a client body.
//!
//! Neither side ever holds more than one chunk. A body that fails midway ends the
//! link stream *without* its end marker, which the receiver treats as an aborted
//! exchange, so no partial body is ever presented as complete.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use bytes::Bytes;
use futures_util::Stream;
use http::HeaderMap;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use rampart_proto::v1::{End, RequestPart, ResponsePart, request_part, response_part};
use rampart_proto::wire::{headers_from_wire, headers_to_wire};
use rampart_service::logging::AccessRecord;

use crate::capacity::RequestGuards;

/// Why a client body could not be forwarded; recorded for the handler's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// The client's body stream failed (malformed framing, reset, early close).
    Broken,
    /// The body grew past the configured maximum.
    TooLarge,
    /// The body arrived too slowly (total deadline or minimum rate).
    TooSlow,
}

/// A client body error meaning "over a size limit" rather than "broken": a body
/// adapter that enforces its own cap (HTTP/3) fails with it to get a 413.
#[derive(Debug, thiserror::Error)]
#[error("request body over its size limit")]
pub(crate) struct BodyTooLarge;

/// How a client body must arrive: bounded in size, in total time and in pace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyPolicy {
    /// Largest body.
    pub(crate) max_bytes: u64,
    /// The whole body must arrive within this time.
    pub(crate) deadline: Duration,
    /// After `grace`, at least this many bytes per second on average (0 = off).
    pub(crate) min_rate: u64,
    /// Time before the rate is judged (a client may pause while it starts).
    pub(crate) grace: Duration,
}

/// A client request body of any HTTP version (hyper's for HTTP/1 and HTTP/2, the
/// QUIC stream's for HTTP/3); an error means the body is broken.
pub(crate) type ClientBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Boxes a request body as a [`ClientBody`].
pub(crate) fn client_body<B>(body: B) -> ClientBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// How often the pace of a body is judged.
const PACE_CHECK: Duration = Duration::from_secs(1);

/// A client request as link messages: head, body chunks, end.
pub(crate) struct RequestParts {
    head: Option<RequestPart>,
    body: Option<ClientBody>,
    pending: Bytes,
    queued_end: Option<End>,
    max_chunk: usize,
    failure: Arc<OnceLock<BodyFailure>>,
    bytes_in: Arc<AtomicU64>,
    /// Set once the whole body was handed to the link (or failed): the wait for the
    /// inner tier's answer is timed from then.
    sent: tokio::sync::watch::Sender<bool>,
    policy: BodyPolicy,
    /// When the body started. A per-read idle timeout would let a client trickle one
    /// byte at a time forever, so the body is judged on its total time and average rate.
    started: Instant,
    /// Next judgement; armed only once the edge actually waits for the client, so a body
    /// that is already buffered costs no timer.
    pace: Option<Pin<Box<Sleep>>>,
}

impl RequestParts {
    pub(crate) fn new(
        head: RequestPart,
        body: ClientBody,
        max_chunk: usize,
        failure: Arc<OnceLock<BodyFailure>>,
        bytes_in: Arc<AtomicU64>,
        sent: tokio::sync::watch::Sender<bool>,
        policy: BodyPolicy,
    ) -> Self {
        let body = (!body.is_end_stream()).then_some(body);
        Self {
            sent,
            policy,
            started: Instant::now(),
            pace: None,
            head: Some(head),
            queued_end: body.is_none().then(|| end(None)),
            body,
            pending: Bytes::new(),
            max_chunk,
            failure,
            bytes_in,
        }
    }

    /// True once the body has taken too long or arrives too slowly. Registers the
    /// waker for the next judgement otherwise.
    fn too_slow(&mut self, cx: &mut Context<'_>) -> bool {
        let (policy, started) = (self.policy, self.started);
        let check = self.pace.get_or_insert_with(|| {
            Box::pin(tokio::time::sleep_until(
                started + PACE_CHECK.min(policy.deadline),
            ))
        });
        while check.as_mut().poll(cx).is_ready() {
            let elapsed = started.elapsed();
            if elapsed >= policy.deadline {
                return true;
            }
            if elapsed >= policy.grace {
                let expected = policy.min_rate.saturating_mul(elapsed.as_secs());
                if self.bytes_in.load(Ordering::Relaxed) < expected {
                    return true;
                }
            }
            let next = (Instant::now() + PACE_CHECK).min(started + policy.deadline);
            check.as_mut().reset(next);
        }
        false
    }

    /// Ends the link stream without its end marker, recording why.
    fn abort(&mut self, why: BodyFailure) -> Poll<Option<RequestPart>> {
        let _ = self.failure.set(why);
        self.body = None;
        self.sent.send_replace(true);
        Poll::Ready(None)
    }

    fn chunk(&mut self) -> RequestPart {
        let take = self.pending.len().min(self.max_chunk);
        let chunk = self.pending.split_to(take);
        RequestPart {
            part: Some(request_part::Part::Body(chunk)),
        }
    }
}

fn end(trailers: Option<&HeaderMap>) -> End {
    End {
        trailers: trailers.map(headers_to_wire).unwrap_or_default(),
    }
}

impl Stream for RequestParts {
    type Item = RequestPart;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RequestPart>> {
        let this = &mut *self;
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(head));
        }
        if !this.pending.is_empty() {
            return Poll::Ready(Some(this.chunk()));
        }
        if let Some(end) = this.queued_end.take() {
            this.sent.send_replace(true);
            return Poll::Ready(Some(RequestPart {
                part: Some(request_part::Part::End(end)),
            }));
        }
        loop {
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            let frame = match Pin::new(body).poll_frame(cx) {
                Poll::Ready(frame) => frame,
                // Waiting for the client: judge its pace (and register the timer).
                Poll::Pending if this.too_slow(cx) => return this.abort(BodyFailure::TooSlow),
                Poll::Pending => return Poll::Pending,
            };
            match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => {
                        let len = data.len() as u64;
                        let total = this.bytes_in.fetch_add(len, Ordering::Relaxed) + len;
                        if total > this.policy.max_bytes {
                            // End without the end marker: the inner aborts the exchange.
                            return this.abort(BodyFailure::TooLarge);
                        }
                        this.pending = data;
                        // Everything the body declared has arrived (it cannot fail or
                        // carry trailers any more): the end marker can follow this chunk
                        // at once instead of after another poll of the client.
                        if this.body.as_ref().is_some_and(Body::is_end_stream) {
                            this.body = None;
                            this.queued_end = Some(end(None));
                        }
                        return Poll::Ready(Some(this.chunk()));
                    }
                    Err(frame) => {
                        let trailers = frame.into_trailers().ok();
                        this.body = None;
                        this.sent.send_replace(true);
                        return Poll::Ready(Some(RequestPart {
                            part: Some(request_part::Part::End(end(trailers.as_ref()))),
                        }));
                    }
                },
                // End the stream without an end marker: the inner aborts the exchange.
                Some(Err(e)) if e.is::<BodyTooLarge>() => {
                    return this.abort(BodyFailure::TooLarge);
                }
                Some(Err(_)) => return this.abort(BodyFailure::Broken),
                None => {
                    this.body = None;
                    this.sent.send_replace(true);
                    return Poll::Ready(Some(RequestPart {
                        part: Some(request_part::Part::End(end(None))),
                    }));
                }
            }
        }
    }
}

/// Error surfaced to hyper when the inner tier's stream breaks: hyper then aborts the
/// client response instead of completing it.
#[derive(Debug, thiserror::Error)]
#[error("response stream from the inner tier was interrupted")]
pub(crate) struct Interrupted;

/// The inner tier's response body as a client body; writes the access record when it
/// ends or is dropped.
pub(crate) struct ResponseBody {
    stream: Option<crate::link::Responses>,
    bytes_out: u64,
    /// Declared length: once reached hyper stops polling, so the end marker is not read.
    content_length: Option<u64>,
    record: AccessRecord,
    /// Capacity slots held until the response is done.
    held: Option<RequestGuards>,
}

impl ResponseBody {
    pub(crate) fn new(
        stream: crate::link::Responses,
        content_length: Option<u64>,
        record: AccessRecord,
        held: RequestGuards,
    ) -> Self {
        Self {
            stream: Some(stream),
            bytes_out: 0,
            content_length,
            record,
            held: Some(held),
        }
    }

    fn finish(&mut self, complete: bool) {
        self.held = None;
        if self.stream.take().is_some() {
            self.record.log(self.bytes_out, complete);
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        let complete = self.content_length == Some(self.bytes_out);
        self.finish(complete);
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Interrupted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Interrupted>>> {
        let this = &mut *self;
        let Some(stream) = this.stream.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            let message = ready!(Pin::new(&mut *stream).poll_next(cx));
            match message {
                Some(Ok(ResponsePart {
                    part: Some(response_part::Part::Body(data)),
                })) => {
                    if data.is_empty() {
                        continue;
                    }
                    this.bytes_out += data.len() as u64;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Ok(ResponsePart {
                    part: Some(response_part::Part::End(end)),
                })) => {
                    this.finish(true);
                    if end.trailers.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::trailers(headers_from_wire(end.trailers)))));
                }
                // A second head, an empty part, an error or a stream without end marker.
                _ => {
                    this.finish(false);
                    return Poll::Ready(Some(Err(Interrupted)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One data frame, then either nothing more (pending forever) with
    /// `is_end_stream` saying whether the body is complete.
    struct OneChunk {
        data: Option<Bytes>,
        complete: bool,
    }

    impl Body for OneChunk {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.data.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Poll::Pending,
            }
        }

        fn is_end_stream(&self) -> bool {
            self.data.is_none() && self.complete
        }
    }

    fn kind(part: &Poll<Option<RequestPart>>) -> &'static str {
        match part {
            Poll::Pending => "pending",
            Poll::Ready(None) => "none",
            Poll::Ready(Some(p)) => match &p.part {
                Some(request_part::Part::Head(_)) => "head",
                Some(request_part::Part::Body(_)) => "body",
                Some(request_part::Part::End(_)) => "end",
                None => "empty",
            },
        }
    }

    #[tokio::test]
    async fn the_end_marker_follows_the_last_chunk_only_when_the_body_says_it_is_complete() {
        // A complete body gets its end marker at once; a body that may still send
        // (more data, trailers, an error) is waited for, never ended early.
        let cases = [
            (true, ["head", "body", "end", "none"]),
            (false, ["head", "body", "pending", "pending"]),
        ];
        for (complete, want) in cases {
            let (sent, watch) = tokio::sync::watch::channel(false);
            let mut parts = RequestParts::new(
                RequestPart {
                    part: Some(request_part::Part::Head(Default::default())),
                },
                client_body(OneChunk {
                    data: Some(Bytes::from_static(b"{}")),
                    complete,
                }),
                1024,
                Arc::default(),
                Arc::default(),
                sent,
                BodyPolicy {
                    max_bytes: 1024,
                    deadline: Duration::from_secs(3600),
                    min_rate: 0,
                    grace: Duration::from_secs(3600),
                },
            );
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let seen = want.map(|_| kind(&Pin::new(&mut parts).poll_next(&mut cx)));
            assert_eq!(seen, want, "complete: {complete}");
            assert_eq!(*watch.borrow(), complete, "body_sent, complete: {complete}");
        }
    }
}
