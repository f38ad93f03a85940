//! One ICAP connection: writes, the chunked body, bounded reads of response heads.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::proto;
use super::response::{self, IcapResponse};
use crate::error::ScanError;
use crate::verdict::Engine;

const ENGINE: Engine = Engine::Icap;

pub(super) struct Conn {
    pub(super) stream: TcpStream,
    /// Bytes read past the last response head.
    pub(super) buf: Vec<u8>,
    pub(super) reused: bool,
    pub(super) received: bool,
}

pub(super) fn io_error(source: std::io::Error) -> ScanError {
    ScanError::Io {
        engine: ENGINE,
        source,
    }
}

impl Conn {
    pub(super) fn new(stream: TcpStream, reused: bool) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            reused,
            received: false,
        }
    }

    pub(super) async fn write(&mut self, bytes: &[u8]) -> Result<(), ScanError> {
        self.stream.write_all(bytes).await.map_err(io_error)
    }

    /// The body after any preview, chunked, then the last chunk.
    pub(super) async fn send_body(&mut self, rest: &[u8]) -> Result<(), ScanError> {
        let mut out = Vec::with_capacity(proto::CHUNK + 32);
        let mut chunks = rest.chunks(proto::CHUNK).peekable();
        while let Some(chunk) = chunks.next() {
            out.clear();
            proto::push_chunk(&mut out, chunk);
            if chunks.peek().is_none() {
                out.extend_from_slice(proto::LAST_CHUNK);
            }
            self.write(&out).await?;
        }
        if rest.is_empty() {
            self.write(proto::LAST_CHUNK).await?;
        }
        Ok(())
    }

    /// Reads one response head (bounded); bytes after it stay in `buf`.
    pub(super) async fn read_head(&mut self) -> Result<IcapResponse, ScanError> {
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(end) = response::head_end(&self.buf) {
                let head: Vec<u8> = self.buf.drain(..end).collect();
                return response::parse_head(&head).map_err(|d| ScanError::protocol(ENGINE, d));
            }
            if self.buf.len() > response::MAX_HEAD {
                return Err(ScanError::protocol(ENGINE, "response head too long"));
            }
            let n = self.stream.read(&mut tmp).await.map_err(io_error)?;
            if n == 0 {
                return Err(io_error(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.received = true;
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }
}
