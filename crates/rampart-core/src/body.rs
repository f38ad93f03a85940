//! Bounded body reading: the only way to hold a whole request body in memory.
//!
//! Reads frame by frame and stops as soon as the limit is crossed, so a client cannot
//! make Rampart buffer more than the limit. Deadlines are the caller's: wrap the future
//! in the runtime's timeout (the core has no clock).

use bytes::{Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;

use crate::phase::{BufferedRequest, RequestHead};
use crate::units::ByteSize;

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is longer than the limit; reading stopped at the limit.
    #[error("body exceeds {limit}")]
    TooLarge {
        /// The limit crossed.
        limit: ByteSize,
    },
    /// The body stream failed (malformed framing, reset, truncated).
    #[error("body could not be read: {0}")]
    Broken(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads `body` completely, refusing more than `limit` bytes.
pub async fn read_to_limit<B>(body: B, limit: ByteSize) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit_bytes = limit.as_u64();
    if body.size_hint().lower() > limit_bytes {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Broken(e.into()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() as u64 + data.len() as u64 > limit_bytes {
                return Err(BodyError::TooLarge { limit });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Reads the body of `head` within `limit`, producing the body phase's input.
pub async fn read_bounded<B>(
    head: RequestHead,
    body: B,
    limit: ByteSize,
) -> Result<BufferedRequest, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let body = read_to_limit(body, limit).await?;
    Ok(BufferedRequest { head, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body::Frame;
    use http_body_util::StreamBody;

    fn chunked(
        parts: Vec<Result<&'static [u8], &'static str>>,
    ) -> impl Body<Data = Bytes, Error = std::io::Error> {
        StreamBody::new(stream::iter(parts.into_iter().map(|p| {
            p.map(|b| Frame::data(Bytes::from_static(b)))
                .map_err(std::io::Error::other)
        })))
    }

    #[tokio::test]
    async fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        let ok = read_to_limit(chunked(vec![Ok(b"abc"), Ok(b"de")]), ByteSize::bytes(5)).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"abcde"));
        let over = read_to_limit(chunked(vec![Ok(b"abc"), Ok(b"def")]), ByteSize::bytes(5)).await;
        assert!(matches!(over, Err(BodyError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn declared_length_over_the_limit_is_refused_before_reading() {
        let body = http_body_util::Full::new(Bytes::from_static(b"0123456789"));
        let result = read_to_limit(body, ByteSize::bytes(4)).await;
        assert!(matches!(result, Err(BodyError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn a_broken_stream_yields_no_partial_body() {
        let result = read_to_limit(chunked(vec![Ok(b"abc"), Err("reset")]), ByteSize::kib(1)).await;
        assert!(matches!(result, Err(BodyError::Broken(_))));
    }
}
