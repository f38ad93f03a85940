//! A link connection as the link server sees it, accepted or dialled: its writes are
//! coalesced, so a response's frames (and those of the exchanges ready with it) leave in
//! one TLS record.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rampart_service::coalesce::Coalesce;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::{TlsStream, client, server};

pub(crate) struct LinkIo {
    io: Coalesce<TlsStream<TcpStream>>,
    /// Dialled connections only: dropped with the connection, it tells the dial task to
    /// dial again.
    _closed: Option<oneshot::Sender<()>>,
}

impl LinkIo {
    /// A connection the inner accepted on its link listener.
    pub(crate) fn accepted(stream: server::TlsStream<TcpStream>) -> Self {
        LinkIo {
            io: Coalesce::new(stream.into()),
            _closed: None,
        }
    }

    /// A connection the inner dialled; `closed` fires when the server drops it.
    pub(crate) fn dialled(
        stream: client::TlsStream<TcpStream>,
        closed: oneshot::Sender<()>,
    ) -> Self {
        LinkIo {
            io: Coalesce::new(stream.into()),
            _closed: Some(closed),
        }
    }
}

impl AsyncRead for LinkIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LinkIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
