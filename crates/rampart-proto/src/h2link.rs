//! The link's HTTP/2 plumbing that both tiers share: gRPC message framing, the
//! `grpc-status` of a header block, flow-controlled sending and an HTTP/2 stream as an
//! [`http_body::Body`].
//!
//! Each tier serves or sends the `Forward` call on `h2` directly (every exchange is
//! one, and hyper's dispatch tasks cost more than the exchange's own work there); the
//! other calls go through tonic's generated code over the same connections, with
//! [`RecvBody`] and [`pipe`] as the adapters.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use prost::Message;

/// The request path of the `Forward` method.
pub const FORWARD_PATH: &str = "/rampart.v1.Forwarder/Forward";

/// Bytes of encoded parts gathered before they are handed to a stream.
pub const BATCH: usize = 16 * 1024;
/// A first batch up to this size is handed over before the stream has any window (h2
/// holds it): both tiers open streams with 1 MiB windows, so nothing waits on it.
pub const FIRST_UNWINDOWED: usize = 64 * 1024;

/// Why a gRPC message could not be taken off a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.as_str())]
pub enum FrameError {
    /// The compressed flag is set; no compression is ever negotiated on the link.
    Compressed,
    /// The length prefix is over the receiver's limit.
    TooLarge,
    /// The bytes are not the expected protobuf message.
    Undecodable,
    /// The stream ended inside a message.
    Truncated,
}

impl FrameError {
    /// The error as static text (also its `Display`), for errors that carry no
    /// allocation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compressed => "compressed message",
            Self::TooLarge => "message over the size limit",
            Self::Undecodable => "undecodable message",
            Self::Truncated => "stream ended inside a message",
        }
    }
}

/// Appends `message` to `out` as one gRPC message.
pub fn encode<M: Message>(message: &M, out: &mut BytesMut) {
    let len = message.encoded_len();
    out.reserve(5 + len);
    out.put_u8(0);
    // Parts are bounded far below 4 GiB (chunks of the configured size, bounded heads).
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    // Cannot fail: the capacity was reserved above.
    let _ = message.encode(out);
}

/// Takes one whole message off the front of `buf`; `None` until one is complete. The
/// size limit is checked on the length prefix, before the rest is buffered.
pub fn decode<M: Message + Default>(
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<M>, FrameError> {
    let Some(prefix) = buf.get(..5) else {
        return Ok(None);
    };
    if prefix[0] != 0 {
        return Err(FrameError::Compressed);
    }
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if len > max {
        return Err(FrameError::TooLarge);
    }
    if buf.len() < 5 + len {
        // No reservation on the prefix's word: memory follows the bytes that arrived.
        return Ok(None);
    }
    buf.advance(5);
    let bytes = buf.split_to(len).freeze();
    M::decode(bytes)
        .map(Some)
        .map_err(|_| FrameError::Undecodable)
}

/// The `grpc-status` of a header block as a status; `None` when absent.
pub fn status_in(headers: &HeaderMap) -> Option<tonic::Status> {
    let code = headers.get("grpc-status")?;
    let code = code
        .to_str()
        .ok()
        .and_then(|c| c.parse::<i32>().ok())
        .map_or(tonic::Code::Unknown, tonic::Code::from_i32);
    // The message is the peer's text: not carried further than the code.
    Some(tonic::Status::new(code, code.description()))
}

/// Waits until `stream` may take data: claims one byte of window, as hyper does, and
/// is ready once any window is granted. Streams that together want more than the
/// connection's window would otherwise each hold a slice of it and every exchange
/// would finish late; h2 raises the claim to what is buffered once the data is handed
/// over whole. `Ok(false)`: the stream was closed (reset by the peer).
pub fn poll_window(
    stream: &mut h2::SendStream<Bytes>,
    cx: &mut Context<'_>,
) -> Poll<Result<bool, h2::Error>> {
    stream.reserve_capacity(1);
    while stream.capacity() == 0 {
        match ready!(stream.poll_capacity(cx)) {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => return Poll::Ready(Ok(false)),
        }
    }
    Poll::Ready(Ok(true))
}

/// Copies `body` onto `stream` as the stream's window allows, trailers included; a
/// reset from the peer ends the copy (and drops the body) even while the body is idle.
pub async fn pipe<B>(body: B, mut stream: h2::SendStream<Bytes>)
where
    B: Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    loop {
        let frame = std::future::poll_fn(|cx| {
            if let Poll::Ready(frame) = body.as_mut().poll_frame(cx) {
                return Poll::Ready(Some(frame));
            }
            // Waiting for the body; the peer going away ends the wait.
            stream.poll_reset(cx).map(|_| None)
        })
        .await;
        let Some(frame) = frame else { return };
        match frame {
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
            Some(Err(_)) => {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    match std::future::poll_fn(|cx| poll_window(&mut stream, cx)).await {
                        Ok(true) => {}
                        Ok(false) | Err(_) => return,
                    }
                    if stream.send_data(data, false).is_err() {
                        return;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let _ = stream.send_trailers(trailers);
                    }
                    return;
                }
            },
        }
    }
}

/// A body read from an HTTP/2 stream, returning flow-control capacity as the data is
/// taken (so a slow reader holds back the sender).
pub struct RecvBody(pub h2::RecvStream);

impl Body for RecvBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let recv = &mut self.0;
        if !recv.is_end_stream() {
            match ready!(recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {}
            }
        }
        match ready!(recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
