//! The backend's response body as the inner passes it on: streamed as received,
//! released whole after inspection, or an inspected prefix followed by the rest.

use std::pin::Pin;
use std::task::{Context, Poll};

use crate::upstream::ResponseBody;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// A backend response body: `prefix` first, then what is left of `rest`, then
/// `trailers` (only for a body read whole).
pub(crate) struct BackendBody {
    prefix: Option<Bytes>,
    rest: Option<ResponseBody>,
    trailers: Option<HeaderMap>,
}

impl BackendBody {
    /// The backend's body, untouched.
    pub(crate) fn streamed(body: ResponseBody) -> Self {
        Self {
            prefix: None,
            rest: Some(body),
            trailers: None,
        }
    }

    /// A body read whole (and inspected, possibly rewritten).
    pub(crate) fn whole(body: Bytes, trailers: Option<HeaderMap>) -> Self {
        Self {
            prefix: (!body.is_empty()).then_some(body),
            rest: None,
            trailers,
        }
    }

    /// The first `prefix` bytes were read already; `rest` streams on.
    pub(crate) fn resumed(prefix: Bytes, rest: ResponseBody) -> Self {
        Self {
            prefix: (!prefix.is_empty()).then_some(prefix),
            rest: Some(rest),
            trailers: None,
        }
    }
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Some(data) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(rest) = this.rest.as_mut() {
            return Pin::new(rest).poll_frame(cx);
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none()
            && self.trailers.is_none()
            && self.rest.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |b| b.len() as u64);
        match &self.rest {
            None => SizeHint::with_exact(prefix),
            Some(rest) => {
                let inner = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower().saturating_add(prefix));
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper.saturating_add(prefix));
                }
                hint
            }
        }
    }
}

/// A response body read for inspection.
pub(crate) enum Read {
    /// The whole body and its trailers.
    Whole(Bytes, Option<HeaderMap>),
    /// Longer than the limit: what was read (the rest is still in the body).
    Exceeded(Bytes),
}

/// Why a response body could not be read for inspection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The backend broke the body off (reset, framing error).
    #[error("backend response body failed")]
    Broken,
    /// The exchange's total deadline passed.
    #[error("backend response body exceeded the total deadline")]
    TimedOut,
}

/// Reads `body` whole when it is at most `limit` bytes, before `deadline`.
pub(crate) async fn read(
    body: &mut ResponseBody,
    limit: usize,
    deadline: tokio::time::Instant,
) -> Result<Read, ReadError> {
    use http_body_util::BodyExt as _;
    let mut buf = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(ReadError::TimedOut),
            Ok(None) => return Ok(Read::Whole(buf.freeze(), None)),
            Ok(Some(Err(_))) => return Err(ReadError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        match frame.into_data() {
            Ok(data) => {
                buf.extend_from_slice(&data);
                if buf.len() > limit {
                    return Ok(Read::Exceeded(buf.freeze()));
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    return Ok(Read::Whole(buf.freeze(), Some(trailers)));
                }
            }
        }
    }
}
