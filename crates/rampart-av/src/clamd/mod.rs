//! The clamd client: INSTREAM scans, PING and VERSION over TCP or a unix socket.
//!
//! Own code rather than the `clamav-client` crate: its INSTREAM writes the whole body
//! before reading and returns the write error when clamd closes early on its size limit,
//! losing the `size limit exceeded` reply; it also reads replies without a size bound.
//! Here the reply is read concurrently with the upload, capped, under one deadline.
//!
//! One connection per scan: clamd closes after each INSTREAM unless IDSESSION is used, and
//! IDSESSION serialises commands on one connection and ends the session on any error, so
//! it would buy little on loopback while adding failure modes. A semaphore bounds the
//! scans in flight (and so the connections) per client.

pub(crate) mod proto;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};

use crate::config::ClamdConfig;
use crate::error::ScanError;
use crate::verdict::{Engine, EngineVerdict};

const ENGINE: Engine = Engine::Clamd;
/// Chunks stay small so clamd's per-read buffers do too; well under any StreamMaxLength.
const MAX_CHUNK: usize = 64 * 1024;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddress {
    /// `TCPSocket` / `TCPAddr`.
    Tcp(SocketAddr),
    /// `LocalSocket`.
    Unix(PathBuf),
}

/// A clamd client with a bounded number of concurrent scans.
#[derive(Debug)]
pub struct ClamdClient {
    address: ClamdAddress,
    connect_timeout: Duration,
    timeout: Duration,
    stream_max_length: u64,
    chunk_size: usize,
    permits: Semaphore,
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl ClamdClient {
    /// A client for `config`; connects lazily.
    pub fn new(config: &ClamdConfig) -> Self {
        let max = config.stream_max_length.as_usize().max(1);
        Self {
            address: config.address.clone(),
            connect_timeout: config.connect_timeout,
            timeout: config.timeout,
            stream_max_length: config.stream_max_length.as_u64(),
            chunk_size: max.min(MAX_CHUNK),
            permits: Semaphore::new(config.max_concurrency),
        }
    }

    /// Scans `data` with INSTREAM. Bodies over `stream_max_length` are [`EngineVerdict::Oversize`]
    /// without contacting clamd. Waiting for a slot, connecting and the exchange all
    /// count against the deadline.
    pub async fn scan(&self, data: &[u8]) -> Result<EngineVerdict, ScanError> {
        if u64::try_from(data.len()).unwrap_or(u64::MAX) > self.stream_max_length {
            return Ok(EngineVerdict::Oversize);
        }
        let deadline = Instant::now() + self.timeout;
        let work = async {
            let _permit = self.permits.acquire().await.map_err(|_| closed())?;
            match self.connect().await? {
                Conn::Tcp(s) => instream(s, data, self.chunk_size).await,
                Conn::Unix(s) => instream(s, data, self.chunk_size).await,
            }
        };
        timeout_at(deadline, work)
            .await
            .map_err(|_| ScanError::Timeout {
                engine: ENGINE,
                after: self.timeout,
            })?
    }

    /// PING, expecting PONG, within the deadline.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let reply = self.ask(proto::PING).await?;
        if proto::is_pong(&reply) {
            Ok(())
        } else {
            Err(ScanError::protocol(
                ENGINE,
                format!("PING answered {:?}", String::from_utf8_lossy(&reply)),
            ))
        }
    }

    /// VERSION, within the deadline: the engine and signature database versions, which
    /// change when clamd loads new signatures.
    pub async fn version(&self) -> Result<String, ScanError> {
        let reply = self.ask(proto::VERSION).await?;
        proto::parse_version(&reply).map_err(|d| ScanError::protocol(ENGINE, d))
    }

    /// Sends one command on a new connection and reads its reply, within the deadline.
    async fn ask(&self, cmd: &[u8]) -> Result<Vec<u8>, ScanError> {
        let work = async {
            match self.connect().await? {
                Conn::Tcp(s) => command(s, cmd).await,
                Conn::Unix(s) => command(s, cmd).await,
            }
        };
        timeout(self.timeout, work)
            .await
            .map_err(|_| ScanError::Timeout {
                engine: ENGINE,
                after: self.timeout,
            })?
    }

    async fn connect(&self) -> Result<Conn, ScanError> {
        let connect = async {
            match &self.address {
                ClamdAddress::Tcp(addr) => {
                    let stream = TcpStream::connect(addr).await?;
                    // The zero-length end chunk must not wait for a delayed ACK.
                    stream.set_nodelay(true)?;
                    Ok(Conn::Tcp(stream))
                }
                ClamdAddress::Unix(path) => UnixStream::connect(path).await.map(Conn::Unix),
            }
        };
        match timeout(self.connect_timeout, connect).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(source)) => Err(ScanError::Connect {
                engine: ENGINE,
                source,
            }),
            Err(_) => Err(ScanError::Timeout {
                engine: ENGINE,
                after: self.connect_timeout,
            }),
        }
    }
}

fn closed() -> ScanError {
    ScanError::protocol(ENGINE, "client closed")
}

fn io_error(source: io::Error) -> ScanError {
    ScanError::Io {
        engine: ENGINE,
        source,
    }
}

/// Uploads `data` while reading the reply: clamd answers and closes early when the
/// stream exceeds its limit, and that answer decides even though the upload then fails.
async fn instream<S: AsyncRead + AsyncWrite>(
    stream: S,
    data: &[u8],
    chunk_size: usize,
) -> Result<EngineVerdict, ScanError> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let upload = async {
        wr.write_all(proto::INSTREAM).await?;
        for chunk in data.chunks(chunk_size) {
            wr.write_all(&proto::chunk_prefix(chunk.len())).await?;
            wr.write_all(chunk).await?;
        }
        wr.write_all(&proto::END_OF_STREAM).await?;
        wr.flush().await
    };
    let reply = read_reply(&mut rd);
    tokio::pin!(upload, reply);
    let mut upload_error = None;
    let mut uploading = true;
    let reply = loop {
        tokio::select! {
            reply = &mut reply => break reply,
            sent = &mut upload, if uploading => {
                uploading = false;
                upload_error = sent.err();
            }
        }
    };
    match reply {
        Ok(reply) => proto::parse_scan_reply(&reply).map_err(|d| ScanError::protocol(ENGINE, d)),
        // No reply: the upload error, if any, says more than the EOF that followed it.
        Err(e) => Err(upload_error.map_or(e, io_error)),
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    cmd: &[u8],
) -> Result<Vec<u8>, ScanError> {
    stream.write_all(cmd).await.map_err(io_error)?;
    read_reply(&mut stream).await
}

/// Reads up to the NUL terminator, at most [`proto::MAX_REPLY`] bytes.
async fn read_reply<R: AsyncRead + Unpin>(rd: &mut R) -> Result<Vec<u8>, ScanError> {
    let mut buf = Vec::with_capacity(128);
    let mut tmp = [0u8; 256];
    loop {
        let n = rd.read(&mut tmp).await.map_err(io_error)?;
        if n == 0 {
            return Err(ScanError::protocol(
                ENGINE,
                format!(
                    "connection closed after {:?}",
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = proto::reply_end(&buf) {
            buf.truncate(end);
            return Ok(buf);
        }
        if buf.len() > proto::MAX_REPLY {
            return Err(ScanError::protocol(ENGINE, "reply too long"));
        }
    }
}
