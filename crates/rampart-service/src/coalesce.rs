//! Write coalescing under the link's HTTP/2 connections.
//!
//! Every write handed to a TLS stream becomes a TLS record and a system call. HTTP/2
//! writes a stream's HEADERS as soon as the stream opens, before the task that streams
//! the body had a chance to queue its first DATA frame, and it flushes after every large
//! DATA frame: a request crossing the link costs several small records and writes where
//! one would do. [`Coalesce`] buffers small writes and, on the first flush of a batch,
//! lets the other ready tasks run once (it wakes itself and returns `Pending`) before it
//! writes the batch out; the connection's next poll adds whatever frames they queued.
//!
//! Bounds: at most [`MAX_BUFFERED`] bytes are held; a flush is deferred at most once
//! and only while less than [`PASS_THROUGH`] bytes wait, so a flush always completes
//! on the connection's next poll and bulk data is never delayed or copied twice.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Writes at least this large go straight to the stream when nothing is buffered, and a
/// batch this large is written without deferring its flush.
pub const PASS_THROUGH: usize = 8 * 1024;

/// Most bytes buffered at once.
pub const MAX_BUFFERED: usize = 64 * 1024;

/// A stream whose small writes are gathered into one write per flush.
#[derive(Debug)]
pub struct Coalesce<T> {
    io: T,
    buf: Vec<u8>,
    /// Bytes of `buf` already written to `io`.
    written: usize,
    /// The current batch's flush was deferred once already.
    deferred: bool,
}

impl<T> Coalesce<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> Self {
        Self {
            io,
            buf: Vec::new(),
            written: 0,
            deferred: false,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    fn pending(&self) -> usize {
        self.buf.len() - self.written
    }
}

impl<T: AsyncWrite + Unpin> Coalesce<T> {
    /// Writes everything buffered to the stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Makes room for `len` more bytes; `Ready(true)` when they should bypass the buffer.
    fn poll_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<bool>> {
        if self.buf.len() + len > MAX_BUFFERED {
            ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(self.buf.is_empty() && len >= PASS_THROUGH))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Coalesce<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesce<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if ready!(this.poll_room(cx, data.len()))? {
            return Pin::new(&mut this.io).poll_write(cx, data);
        }
        this.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len = bufs.iter().map(|b| b.len()).sum::<usize>();
        if ready!(this.poll_room(cx, len))? {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        // A batch larger than the whole buffer takes what fits; the caller writes the rest.
        let mut taken = 0;
        for b in bufs {
            let fits = b.len().min(MAX_BUFFERED.saturating_sub(this.buf.len()));
            this.buf.extend_from_slice(&b[..fits]);
            taken += fits;
            if fits < b.len() {
                break;
            }
        }
        Poll::Ready(Ok(taken))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let waiting = this.pending();
        if waiting > 0 && waiting < PASS_THROUGH && !this.deferred {
            // Let the tasks that are ready add to this batch; polled again right after.
            this.deferred = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(this.poll_drain(cx))?;
        this.deferred = false;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records each write it receives, accepting at most `limit` bytes per
    /// write (0: all).
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        limit: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = if self.limit == 0 {
                data.len()
            } else {
                data.len().min(self.limit)
            };
            self.writes.push(data[..n].to_vec());
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    enum Step {
        Write(usize),
        Flush,
    }

    /// Runs `steps` (each flush polled until it completes) and returns the sizes of the
    /// writes the stream saw and how many flush polls were deferred.
    fn run(steps: &[Step], limit: usize) -> (Vec<usize>, usize) {
        let mut c = Coalesce::new(Recorder {
            limit,
            ..Recorder::default()
        });
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut sent = Vec::new();
        let mut deferred = 0;
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Write(len) => {
                    let data = vec![i as u8; *len];
                    let mut at = 0;
                    while at < data.len() {
                        match Pin::new(&mut c).poll_write(&mut cx, &data[at..]) {
                            Poll::Ready(Ok(n)) => at += n,
                            other => panic!("write: {other:?}"),
                        }
                    }
                    sent.extend(data);
                }
                Step::Flush => loop {
                    match Pin::new(&mut c).poll_flush(&mut cx) {
                        Poll::Ready(Ok(())) => break,
                        Poll::Pending => deferred += 1,
                        Poll::Ready(Err(e)) => panic!("flush: {e}"),
                    }
                },
            }
        }
        let seen: Vec<u8> = c.io.writes.concat();
        assert_eq!(seen, sent, "every byte once, in order");
        (c.io.writes.iter().map(Vec::len).collect(), deferred)
    }

    #[test]
    fn small_writes_leave_as_one_write_per_flush_and_bulk_passes_through() {
        use Step::{Flush, Write};
        let cases: &[(&[Step], usize, &[usize], usize)] = &[
            // HEADERS then DATA then the end: one write, the flush deferred once.
            (&[Write(38), Write(1287), Write(9), Flush], 0, &[1334], 1),
            // Each flush is a batch of its own.
            (&[Write(38), Flush, Write(9), Flush], 0, &[38, 9], 2),
            // A flush with nothing buffered is not deferred.
            (&[Flush], 0, &[], 0),
            // Bulk data is written as it comes, with no deferral.
            (&[Write(16_393), Flush], 0, &[16_393], 0),
            // A batch that grew past the pass-through size is flushed at once.
            (&[Write(100), Write(9_000), Flush], 0, &[9_100], 0),
            // More than the buffer holds: written out before it overflows.
            (
                &[Write(4_000), Write(MAX_BUFFERED - 4_000), Write(10), Flush],
                0,
                &[MAX_BUFFERED, 10],
                1,
            ),
            // A stream that takes little at a time still gets every byte.
            (&[Write(100), Flush], 30, &[30, 30, 30, 10], 1),
        ];
        for (i, (steps, limit, writes, deferred)) in cases.iter().enumerate() {
            assert_eq!(run(steps, *limit), (writes.to_vec(), *deferred), "case {i}");
        }
    }

    #[test]
    fn shutdown_writes_what_is_buffered_first() {
        let mut c = Coalesce::new(Recorder::default());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(
            Pin::new(&mut c).poll_write(&mut cx, b"goaway"),
            Poll::Ready(Ok(6))
        ));
        assert!(c.io.writes.is_empty());
        assert!(matches!(
            Pin::new(&mut c).poll_shutdown(&mut cx),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(c.io.writes, vec![b"goaway".to_vec()]);
    }
}
