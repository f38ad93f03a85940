//! The `Forward` call of the link contract (`proto/rampart/v1/forward.proto`), spoken
//! on an HTTP/2 stream from the request's own task.
//!
//! On the wire this is plain gRPC — `POST /rampart.v1.Forwarder/Forward`, messages
//! framed as a zero compression flag, a big-endian length and the protobuf bytes,
//! `grpc-status` in the trailers — and the inner serves it with tonic. The edge frames
//! it itself because this call is every exchange: the head, and a small body with its
//! end, go out at once without waiting for the stream to open (h2 holds them until it
//! does), and the rest of a body follows one batch at a time as the stream's window
//! drains, so an exchange costs no extra task unless the inner answers before the body
//! is all sent.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::header::{CONTENT_TYPE, TE};
use http::{HeaderValue, Method, Uri};
use rampart_proto::h2link::{self, BATCH, FIRST_UNWINDOWED, encode, status_in};
use rampart_proto::v1::{RequestPart, ResponsePart};

pub(super) use rampart_proto::h2link::FORWARD_PATH;

/// Why an exchange failed on the link.
#[derive(Debug, thiserror::Error)]
pub(super) enum CallError {
    /// The connection or stream failed (reset, go-away, closed).
    #[error("link stream failed: {0}")]
    Transport(#[from] h2::Error),
    /// The inner answered with a gRPC error status.
    #[error("inner answered {0}")]
    Status(tonic::Status),
    /// The inner broke the protocol.
    #[error("link protocol violation: {0}")]
    Protocol(&'static str),
}

impl CallError {
    /// Whether the endpoint itself looks broken (as opposed to this exchange).
    pub(super) fn marks_down(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status(status) => matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
            ),
            Self::Protocol(_) => false,
        }
    }
}

/// Takes one whole message off the front of `buf`; `None` until one is complete.
pub(super) fn decode<M: prost::Message + Default>(
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<M>, CallError> {
    h2link::decode(buf, max).map_err(|e| CallError::Protocol(e.as_str()))
}

/// Sends one exchange on `send` and waits for the inner's first message.
pub(super) async fn forward<S>(
    send: h2::client::SendRequest<Bytes>,
    origin: &Uri,
    parts: S,
    max_message: usize,
) -> Result<(ResponsePart, Responses), CallError>
where
    S: Stream<Item = RequestPart> + Send + Unpin + 'static,
{
    let mut send = send.ready().await?;
    let (response, stream) = send.send_request(request_head(origin)?, false)?;
    let mut pump = Pump {
        parts,
        stream,
        pending: None,
        first: true,
        ended: false,
    };
    let mut response = std::pin::pin!(response);
    let mut pumped = false;
    let answer = std::future::poll_fn(|cx| {
        if !pumped && Pin::new(&mut pump).poll(cx).is_ready() {
            pumped = true;
        }
        response.as_mut().poll(cx)
    })
    .await;
    if !pumped {
        // The inner answered before the whole body was sent (a refusal, or a response
        // it streams): the body still goes on, as the inner reads it to its end.
        tokio::spawn(pump);
    }
    let response = answer?;
    if response.status() != http::StatusCode::OK {
        return Err(CallError::Protocol("non-200 status"));
    }
    if let Some(status) = status_in(response.headers()) {
        // A trailers-only answer: the call failed before any message.
        return Err(CallError::Status(status));
    }
    let mut responses = Responses {
        recv: response.into_body(),
        buf: BytesMut::new(),
        max_message,
        data_done: false,
        finished: false,
    };
    match std::future::poll_fn(|cx| Pin::new(&mut responses).poll_next(cx)).await {
        Some(Ok(first)) => Ok((first, responses)),
        Some(Err(status)) => Err(CallError::Status(status)),
        None => Err(CallError::Protocol("stream ended before the response head")),
    }
}

fn request_head(origin: &Uri) -> Result<http::Request<()>, CallError> {
    let mut uri = origin.clone().into_parts();
    uri.path_and_query = Some(http::uri::PathAndQuery::from_static(FORWARD_PATH));
    let uri = Uri::from_parts(uri).map_err(|_| CallError::Protocol("bad link origin"))?;
    let mut request = http::Request::new(());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    Ok(request)
}

/// Moves request parts onto the exchange's stream.
struct Pump<S> {
    parts: S,
    stream: h2::SendStream<Bytes>,
    /// A batch waiting for window: at most one is buffered in h2 at a time.
    pending: Option<Bytes>,
    /// No batch was sent yet.
    first: bool,
    /// The parts stream ended (with or without its end marker).
    ended: bool,
}

impl<S: Stream<Item = RequestPart> + Unpin> Future for Pump<S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match this.step(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Ready(Err(e)) => {
                // The stream or the connection is already gone (the inner answered and
                // reset it, or the link failed): the response tells the request what
                // happened. Not reset again: a local reset is tracked per stream, and
                // h2 ends the connection after too many of them.
                tracing::debug!(error = %e, "link request body not sent whole");
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: Stream<Item = RequestPart> + Unpin> Pump<S> {
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), h2::Error>> {
        loop {
            if let Some(data) = self.pending.take() {
                if !data.is_empty() {
                    // `false`: the inner closed the stream, nothing more to send.
                    match h2link::poll_window(&mut self.stream, cx) {
                        Poll::Ready(Ok(true)) => {}
                        Poll::Ready(Ok(false)) => return Poll::Ready(Ok(())),
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {
                            self.pending = Some(data);
                            return Poll::Pending;
                        }
                    }
                }
                self.stream.send_data(data, self.ended)?;
                if self.ended {
                    return Poll::Ready(Ok(()));
                }
            }
            let mut batch = BytesMut::new();
            while batch.len() < BATCH {
                match Pin::new(&mut self.parts).poll_next(cx) {
                    Poll::Ready(Some(part)) => encode(&part, &mut batch),
                    Poll::Ready(None) => {
                        self.ended = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if batch.is_empty() && !self.ended {
                // Waiting for the client; a reset from the inner ends the wait.
                if let Poll::Ready(reset) = self.stream.poll_reset(cx) {
                    let _ = reset?;
                    return Poll::Ready(Ok(()));
                }
                return Poll::Pending;
            }
            let batch = batch.freeze();
            if std::mem::take(&mut self.first) && batch.len() <= FIRST_UNWINDOWED {
                self.stream.send_data(batch, self.ended)?;
                if self.ended {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            self.pending = Some(batch);
        }
    }
}

/// The inner's messages after the first, as a stream; an `Err` item or the end of the
/// stream without an `End` part means the exchange broke.
pub struct Responses {
    recv: h2::RecvStream,
    buf: BytesMut,
    max_message: usize,
    /// The data frames ended; the trailers are next.
    data_done: bool,
    finished: bool,
}

impl Stream for Responses {
    type Item = Result<ResponsePart, tonic::Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            match decode::<ResponsePart>(&mut this.buf, this.max_message) {
                Ok(Some(part)) => return Poll::Ready(Some(Ok(part))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(this.fail(e)))),
            }
            if this.data_done {
                this.finished = true;
                let trailers = ready!(this.recv.poll_trailers(cx));
                let status = match trailers {
                    Ok(Some(trailers)) => status_in(&trailers),
                    Ok(None) => Some(tonic::Status::internal("stream ended without status")),
                    Err(e) => Some(tonic::Status::unavailable(e.to_string())),
                };
                return Poll::Ready(match status {
                    Some(status) if status.code() != tonic::Code::Ok => Some(Err(status)),
                    _ if !this.buf.is_empty() => Some(Err(tonic::Status::internal(
                        "stream ended inside a message",
                    ))),
                    _ => None,
                });
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    this.buf.extend_from_slice(&data);
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(this.fail(e.into())))),
                None => this.data_done = true,
            }
        }
    }
}

impl Responses {
    fn fail(&mut self, e: CallError) -> tonic::Status {
        self.finished = true;
        match e {
            CallError::Status(status) => status,
            CallError::Transport(e) => tonic::Status::unavailable(e.to_string()),
            CallError::Protocol(why) => tonic::Status::internal(why),
        }
    }
}

#[cfg(test)]
mod tests;
