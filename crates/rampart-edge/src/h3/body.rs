//! The receiving half of an HTTP/3 request stream as an [`http_body::Body`], so the
//! proxy streams it to the link exactly like a hyper body.
//!
//! HTTP/3 frames its own DATA, so a stream that ends cleanly between frames looks like
//! a complete body; the declared `Content-Length` is therefore checked here (RFC 9114
//! §4.1.2: a mismatch makes the request malformed). A reset or truncated stream is an
//! error, which makes the proxy abort the link exchange without its end marker.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};

use crate::stream::BodyTooLarge;

/// The request body type the h3 crate hands out for quinn streams.
pub(crate) type RecvHalf = ::h3::server::RequestStream<h3_quinn::RecvStream, Bytes>;

/// Why an HTTP/3 request body is not usable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum H3BodyError {
    /// The stream was reset, truncated mid-frame, or the connection failed.
    #[error("request stream failed: {0}")]
    Stream(#[from] ::h3::error::StreamError),
    /// More or fewer bytes than `Content-Length` announced.
    #[error("body length differs from content-length")]
    LengthMismatch,
}

/// What the start-up probe already read from the stream.
enum Probed {
    Nothing,
    Data(Bytes),
    /// The stream ended, with these trailers.
    End(Option<http::HeaderMap>),
    Failed(H3BodyError),
}

/// An HTTP/3 request body.
pub(crate) struct H3Body {
    recv: Option<RecvHalf>,
    probed: Probed,
    data_done: bool,
    declared: Option<u64>,
    received: u64,
    /// The HTTP/3 body cap (`http3.max_request_body`), if any.
    max: Option<u64>,
}

impl H3Body {
    /// Wraps `recv`. Polls it once without waiting, so a request whose stream already
    /// ended with its head (a typical GET) reports an empty body at once instead of an
    /// open one.
    pub(crate) fn new(mut recv: RecvHalf, declared: Option<u64>, max: Option<u64>) -> Self {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut data_done = false;
        let probed = match recv.poll_recv_data(&mut cx) {
            Poll::Ready(Ok(Some(mut buf))) => Probed::Data(buf.copy_to_bytes(buf.remaining())),
            Poll::Ready(Ok(None)) => {
                data_done = true;
                match recv.poll_recv_trailers(&mut cx) {
                    Poll::Ready(Ok(trailers)) => Probed::End(trailers),
                    Poll::Ready(Err(e)) => Probed::Failed(e.into()),
                    Poll::Pending => Probed::Nothing,
                }
            }
            Poll::Ready(Err(e)) => Probed::Failed(e.into()),
            Poll::Pending => Probed::Nothing,
        };
        // Finished already, empty and as declared: nothing left to poll.
        let finished = matches!(probed, Probed::End(None)) && declared.is_none_or(|d| d == 0);
        Self {
            recv: (!finished).then_some(recv),
            probed: if finished { Probed::Nothing } else { probed },
            data_done,
            declared,
            received: 0,
            max,
        }
    }

    fn fail(&mut self, error: H3BodyError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.recv = None;
        Poll::Ready(Some(Err(Box::new(error))))
    }

    /// Counts `data` against the declared length and the cap.
    fn admit(&mut self, data: Bytes) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.received += data.len() as u64;
        if self.declared.is_some_and(|d| self.received > d) {
            return self.fail(H3BodyError::LengthMismatch);
        }
        if self.max.is_some_and(|m| self.received > m) {
            self.recv = None;
            return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    /// The stream ended (with `trailers`): complete only if it carried what it declared.
    fn end(
        &mut self,
        trailers: Option<http::HeaderMap>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.declared.is_some_and(|d| d != self.received) {
            return self.fail(H3BodyError::LengthMismatch);
        }
        self.recv = None;
        Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Body for H3Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.recv.is_none() {
            return Poll::Ready(None);
        }
        match std::mem::replace(&mut this.probed, Probed::Nothing) {
            Probed::Nothing => {}
            Probed::Data(data) => return this.admit(data),
            Probed::End(trailers) => return this.end(trailers),
            Probed::Failed(e) => return this.fail(e),
        }
        let Some(recv) = this.recv.as_mut() else {
            return Poll::Ready(None);
        };
        if !this.data_done {
            match ready!(recv.poll_recv_data(cx)) {
                Err(e) => return this.fail(e.into()),
                Ok(Some(mut buf)) => {
                    let data = buf.copy_to_bytes(buf.remaining());
                    return this.admit(data);
                }
                Ok(None) => this.data_done = true,
            }
        }
        match ready!(recv.poll_recv_trailers(cx)) {
            Err(e) => this.fail(e.into()),
            Ok(trailers) => this.end(trailers),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}
