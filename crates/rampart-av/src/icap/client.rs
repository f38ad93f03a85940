//! The ICAP client: OPTIONS discovery, REQMOD with preview, a small connection pool.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout, timeout_at};

use super::conn::{Conn, io_error};
use super::options::{IcapOptions, OptionsCache};
use super::proto::{self, Plan};
use super::response::{self, IcapResponse};
use super::url::IcapUrl;
use crate::config::IcapConfig;
use crate::error::ScanError;
use crate::verdict::{Engine, EngineVerdict};

const ENGINE: Engine = Engine::Icap;
/// Idle connections older than this are closed rather than reused (c-icap keeps them 600 s
/// by default; other servers less).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// An ICAP antivirus client for one service URL.
#[derive(Debug)]
pub struct IcapClient {
    url: IcapUrl,
    connect_timeout: Duration,
    timeout: Duration,
    /// One permit per connection in use; lowered to the server's Max-Connections.
    permits: Semaphore,
    idle: Mutex<Vec<(TcpStream, Instant)>>,
    max_idle: usize,
    /// An async lock: concurrent scans that find the options stale wait for one fetch.
    state: tokio::sync::Mutex<State>,
    options_fetches: AtomicU64,
    connections_opened: AtomicU64,
}

#[derive(Debug)]
struct State {
    options: OptionsCache,
    /// Permits the semaphore was created with, minus those forgotten for Max-Connections.
    limit: usize,
}

#[derive(Clone, Copy)]
enum Request<'a> {
    Options,
    Reqmod { data: &'a [u8], plan: Plan },
}

enum Outcome {
    Options(IcapResponse),
    /// The verdict and the ISTag of the service instance that reached it.
    Verdict(EngineVerdict, Option<String>),
}

impl IcapClient {
    /// A client for `config`; connects lazily.
    pub fn new(config: &IcapConfig) -> Self {
        Self {
            url: config.url.clone(),
            connect_timeout: config.connect_timeout,
            timeout: config.timeout,
            permits: Semaphore::new(config.max_connections),
            idle: Mutex::new(Vec::new()),
            max_idle: config.max_connections,
            state: tokio::sync::Mutex::new(State {
                options: OptionsCache::default(),
                limit: config.max_connections,
            }),
            options_fetches: AtomicU64::new(0),
            connections_opened: AtomicU64::new(0),
        }
    }

    /// Scans `data` with REQMOD. Only a 204 is clean; a 200 is a finding (the threat named
    /// by the server, or `modified-by-icap`); anything else is an error.
    pub async fn scan(&self, data: &[u8]) -> Result<EngineVerdict, ScanError> {
        self.scan_tagged(data).await.map(|(verdict, _)| verdict)
    }

    /// [`IcapClient::scan`], also returning the ISTag the answer carried: the version of
    /// the service (its signatures) that reached the verdict.
    pub async fn scan_tagged(
        &self,
        data: &[u8],
    ) -> Result<(EngineVerdict, Option<String>), ScanError> {
        let deadline = Instant::now() + self.timeout;
        let work = async {
            let _permit = self.permits.acquire().await.map_err(|_| closed())?;
            let options = self.options(false).await?;
            let plan = Plan::new(data.len(), options.preview_for_request());
            match self.run(Request::Reqmod { data, plan }).await? {
                Outcome::Verdict(verdict, istag) => Ok((verdict, istag)),
                Outcome::Options(_) => Err(closed()),
            }
        };
        timeout_at(deadline, work)
            .await
            .map_err(|_| self.timed_out())?
    }

    /// The service's ISTag now, from OPTIONS on a new connection: a server that replaces
    /// its workers to load new signatures (c-icap's reconfigure) goes on answering
    /// connections the old ones hold, with the old tag.
    pub async fn current_istag(&self) -> Result<Option<String>, ScanError> {
        let work = async {
            let _permit = self.permits.acquire().await.map_err(|_| closed())?;
            let mut conn = self.connect().await?;
            let (outcome, reusable) = self.attempt(&mut conn, Request::Options).await?;
            let Outcome::Options(response) = outcome else {
                return Err(closed());
            };
            if reusable && conn.buf.is_empty() {
                self.checkin(conn.stream);
            }
            Ok(istag(&response))
        };
        timeout(self.timeout, work)
            .await
            .map_err(|_| self.timed_out())?
    }

    /// Fetches OPTIONS now and checks the service can answer clean.
    pub async fn health(&self) -> Result<Arc<IcapOptions>, ScanError> {
        let work = async {
            let _permit = self.permits.acquire().await.map_err(|_| closed())?;
            self.options(true).await
        };
        timeout(self.timeout, work)
            .await
            .map_err(|_| self.timed_out())?
    }

    /// OPTIONS requests sent so far.
    pub fn options_fetches(&self) -> u64 {
        self.options_fetches.load(Ordering::Relaxed)
    }

    /// TCP connections opened so far (reuse keeps this below the number of requests).
    pub fn connections_opened(&self) -> u64 {
        self.connections_opened.load(Ordering::Relaxed)
    }

    fn timed_out(&self) -> ScanError {
        ScanError::Timeout {
            engine: ENGINE,
            after: self.timeout,
        }
    }

    /// The options in force, fetched again when stale (or when `force`).
    async fn options(&self, force: bool) -> Result<Arc<IcapOptions>, ScanError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(options) = state.options.fresh(now).filter(|_| !force) {
            return Ok(options);
        }
        let Outcome::Options(response) = self.run(Request::Options).await? else {
            return Err(closed());
        };
        self.options_fetches.fetch_add(1, Ordering::Relaxed);
        let options =
            IcapOptions::from_response(&response).map_err(|d| ScanError::protocol(ENGINE, d))?;
        if let Some(detail) = options.unusable() {
            return Err(ScanError::Unusable {
                engine: ENGINE,
                detail: detail.to_owned(),
            });
        }
        if let Some(max) = options.max_connections.map(|m| m.max(1))
            && max < state.limit
        {
            // Permits in use now cannot be forgotten; the next refresh takes the rest.
            let forgotten = self.permits.forget_permits(state.limit - max);
            state.limit -= forgotten;
            tracing::info!(url = %self.url, max, limit = state.limit, "ICAP Max-Connections lowers the pool");
        }
        Ok(state.options.store(options, now))
    }

    /// One request on a pooled connection; retried once on a fresh connection when a
    /// reused one turns out to have been closed by the server before it answered.
    async fn run(&self, request: Request<'_>) -> Result<Outcome, ScanError> {
        let mut conn = self.checkout().await?;
        let result = match self.attempt(&mut conn, request).await {
            Err(ScanError::Io { .. }) if conn.reused && !conn.received => {
                conn = self.connect().await?;
                self.attempt(&mut conn, request).await
            }
            result => result,
        };
        let (outcome, reusable) = result?;
        if reusable && conn.buf.is_empty() {
            self.checkin(conn.stream);
        }
        Ok(outcome)
    }

    async fn attempt(
        &self,
        conn: &mut Conn,
        request: Request<'_>,
    ) -> Result<(Outcome, bool), ScanError> {
        match request {
            Request::Options => {
                conn.write(&proto::options_request(&self.url)).await?;
                let response = conn.read_head().await?;
                let reusable = response.keeps_alive() && response.is_bare();
                Ok((Outcome::Options(response), reusable))
            }
            Request::Reqmod { data, plan } => {
                let mut first = proto::reqmod_head(&self.url, data.len(), plan);
                first.extend_from_slice(&proto::preview_bytes(data, plan));
                conn.write(&first).await?;
                if let Plan::PreviewThenRest { .. } = plan {
                    let interim = conn.read_head().await?;
                    if interim.status != 100 {
                        let (verdict, reusable) = decide(&interim, Stage::AfterPartialPreview)?;
                        return Ok((Outcome::Verdict(verdict, istag(&interim)), reusable));
                    }
                }
                let rest = proto::remainder(data, plan);
                if matches!(plan, Plan::Whole | Plan::PreviewThenRest { .. }) {
                    conn.send_body(rest).await?;
                }
                let response = conn.read_head().await?;
                let (verdict, reusable) = decide(&response, Stage::Complete)?;
                Ok((Outcome::Verdict(verdict, istag(&response)), reusable))
            }
        }
    }

    async fn checkout(&self) -> Result<Conn, ScanError> {
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.retain(|(_, since)| since.elapsed() < MAX_IDLE);
            idle.pop()
        };
        match pooled {
            Some((stream, _)) => Ok(Conn::new(stream, true)),
            None => self.connect().await,
        }
    }

    fn checkin(&self, stream: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push((stream, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<Conn, ScanError> {
        let stream = match timeout(
            self.connect_timeout,
            TcpStream::connect(self.url.authority()),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(ScanError::Connect {
                    engine: ENGINE,
                    source,
                });
            }
            Err(_) => {
                return Err(ScanError::Timeout {
                    engine: ENGINE,
                    after: self.connect_timeout,
                });
            }
        };
        // Small final writes (the last chunk) must not wait for a delayed ACK.
        stream.set_nodelay(true).map_err(io_error)?;
        self.connections_opened.fetch_add(1, Ordering::Relaxed);
        Ok(Conn::new(stream, false))
    }
}

/// When a final answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// After a preview that was not the whole body: the service has not seen all of it.
    AfterPartialPreview,
    /// After the whole body.
    Complete,
}

/// Reads a final answer: `(verdict, connection reusable)`.
fn decide(response: &IcapResponse, stage: Stage) -> Result<(EngineVerdict, bool), ScanError> {
    match response.status {
        // A 204 before the whole body was seen means the service chose not to scan the
        // rest (e.g. a file type missing from ScanFileTypes): not a clean answer.
        204 if stage == Stage::AfterPartialPreview => Ok((
            EngineVerdict::Refuse {
                message: "answered 204 after a partial preview, so the body was not scanned".into(),
            },
            false,
        )),
        204 => Ok((
            EngineVerdict::Clean,
            response.keeps_alive() && response.is_bare(),
        )),
        // The encapsulated answer is not read: the connection is dropped instead.
        200 => Ok((
            EngineVerdict::found(&response::threat_name(response)),
            false,
        )),
        100 => Err(ScanError::protocol(ENGINE, "unexpected 100 Continue")),
        status => Err(ScanError::Status {
            engine: ENGINE,
            status,
        }),
    }
}

fn closed() -> ScanError {
    ScanError::protocol(ENGINE, "client closed")
}

fn istag(response: &IcapResponse) -> Option<String> {
    response.header("ISTag").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icap::response::parse_head;

    fn head(text: &str) -> IcapResponse {
        parse_head(text.as_bytes()).unwrap()
    }

    #[test]
    fn only_a_204_after_the_whole_body_is_clean() {
        let clean = head("ICAP/1.0 204 Unmodified\r\nISTag: \"x\"\r\n\r\n");
        assert_eq!(
            decide(&clean, Stage::Complete).unwrap(),
            (EngineVerdict::Clean, true)
        );
        let (early, reusable) = decide(&clean, Stage::AfterPartialPreview).unwrap();
        assert!(matches!(early, EngineVerdict::Refuse { .. }), "{early:?}");
        assert!(!reusable);

        let closing = head("ICAP/1.0 204 Unmodified\r\nConnection: close\r\n\r\n");
        assert_eq!(
            decide(&closing, Stage::Complete).unwrap(),
            (EngineVerdict::Clean, false)
        );

        let modified = head("ICAP/1.0 200 OK\r\nEncapsulated: req-hdr=0, req-body=90\r\n\r\n");
        for stage in [Stage::Complete, Stage::AfterPartialPreview] {
            let (verdict, reusable) = decide(&modified, stage).unwrap();
            assert_eq!(
                verdict,
                EngineVerdict::Infected {
                    signature: response::MODIFIED_BY_ICAP.into()
                }
            );
            assert!(!reusable);
        }
        for status in [
            "100 Continue",
            "500 Server Error",
            "404 Not Found",
            "206 Partial",
            "201 Created",
        ] {
            let r = head(&format!("ICAP/1.0 {status}\r\n\r\n"));
            assert!(decide(&r, Stage::Complete).is_err(), "{status}");
        }
    }
}
