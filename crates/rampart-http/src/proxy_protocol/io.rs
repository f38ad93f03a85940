//! Reading a PROXY header from a connection, and replaying what was read past it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::{MAX_TLV_BYTES, ProxyError, ProxyHeader, parse_proxy_header};

/// Most bytes a header may take: a v2 header with UNIX addresses and capped TLVs.
const MAX_HEADER_BYTES: usize = 16 + 216 + MAX_TLV_BYTES;

/// Reads one PROXY header from `io`, which must arrive before `deadline`. Returns the
/// header and the bytes read past it, which belong to the client's stream: wrap the
/// connection in [`PrefixedIo`] to replay them.
pub async fn read_proxy_header<IO>(
    io: &mut IO,
    deadline: Instant,
) -> Result<(ProxyHeader, Bytes), ProxyError>
where
    IO: AsyncRead + Unpin,
{
    tokio::time::timeout_at(deadline, read(io))
        .await
        .map_err(|_| ProxyError::Timeout)?
}

async fn read<IO: AsyncRead + Unpin>(io: &mut IO) -> Result<(ProxyHeader, Bytes), ProxyError> {
    let mut buf = BytesMut::with_capacity(512);
    loop {
        if let Some((header, used)) = parse_proxy_header(&buf)? {
            buf.advance(used);
            return Ok((header, buf.freeze()));
        }
        // parse_proxy_header refuses anything longer than MAX_HEADER_BYTES, so the
        // buffer stays bounded; keep reads within it.
        if buf.len() >= MAX_HEADER_BYTES {
            return Err(ProxyError::MalformedV2);
        }
        buf.reserve(MAX_HEADER_BYTES - buf.len());
        let mut limited = (&mut *io).take((MAX_HEADER_BYTES - buf.len()) as u64);
        if limited.read_buf(&mut buf).await? == 0 {
            return Err(ProxyError::Truncated);
        }
    }
}

pin_project! {
    /// A connection that first yields `prefix`, then reads from the inner connection.
    /// Writes go straight through.
    #[derive(Debug)]
    pub struct PrefixedIo<IO> {
        prefix: Bytes,
        #[pin]
        io: IO,
    }
}

impl<IO> PrefixedIo<IO> {
    /// Replays `prefix` before reading from `io`.
    pub fn new(prefix: Bytes, io: IO) -> Self {
        Self { prefix, io }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncRead> AsyncRead for PrefixedIo<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if this.prefix.is_empty() {
            return this.io.poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite> AsyncWrite for PrefixedIo<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}
