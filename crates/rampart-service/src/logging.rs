//! Log output: JSON lines by default, human-readable with `--log-format pretty`.
//!
//! Access-log records use the target [`ACCESS`], so they can be filtered separately
//! (`RUST_LOG=info,rampart::access=off`).

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// Target of the one-line-per-request access records.
pub const ACCESS: &str = "rampart::access";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line (for collectors).
    #[default]
    Json,
    /// Human-readable lines (for terminals).
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            other => Err(format!("unknown log format {other:?}; use json or pretty")),
        }
    }
}

/// Installs the global subscriber. `level` is an `EnvFilter` directive (e.g. `info`);
/// `RUST_LOG` overrides it when set.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    // A second init (tests, embedded use) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
}

/// One request as the access log records it: one line per request per tier, written
/// when the response ends (or is abandoned), sharing the request id across tiers.
#[derive(Debug)]
pub struct AccessRecord {
    /// `edge` or `inner`.
    pub tier: &'static str,
    /// The request id minted by the edge.
    pub request_id: rampart_core::id::RequestId,
    /// Request method.
    pub method: String,
    /// Request path without the query (queries can carry secrets).
    pub path: String,
    /// Client address used for decisions.
    pub client: String,
    /// Why that address: `socket`, or the trusted header or PROXY protocol it came from.
    pub client_source: &'static str,
    /// Route that served the request, when one matched.
    pub route: String,
    /// Status sent.
    pub status: u16,
    /// Problem reason code when Rampart refused or failed the request; empty when the
    /// backend's answer was relayed.
    pub reason: String,
    /// Request body bytes received so far.
    pub bytes_in: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Client HTTP version (`HTTP/1.1`, `HTTP/2`, `HTTP/3`); empty when not recorded.
    pub version: &'static str,
    /// The authenticated caller (subject), empty for anonymous requests.
    pub principal: String,
    /// When the request arrived.
    pub started: std::time::Instant,
}

impl AccessRecord {
    /// A record for a request that just arrived.
    pub fn new(
        tier: &'static str,
        request_id: rampart_core::id::RequestId,
        method: &str,
        path: &str,
        client: String,
    ) -> Self {
        Self {
            tier,
            request_id,
            method: method.to_owned(),
            path: path.to_owned(),
            client,
            client_source: "socket",
            route: String::new(),
            status: 0,
            reason: String::new(),
            bytes_in: Default::default(),
            version: "",
            principal: String::new(),
            started: std::time::Instant::now(),
        }
    }

    /// Writes the line.
    pub fn log(&self, bytes_out: u64, complete: bool) {
        crate::traffic::of(self.tier).observe(
            !self.reason.is_empty() && (400..500).contains(&self.status),
            self.started.elapsed(),
        );
        crate::metrics::request_finished(
            self.tier,
            &self.route,
            &self.method,
            self.status,
            self.started.elapsed(),
        );
        tracing::info!(
            target: ACCESS,
            tier = self.tier,
            request_id = %self.request_id,
            method = %self.method,
            path = %self.path,
            client = %self.client,
            client_source = self.client_source,
            version = self.version,
            route = %self.route,
            principal = %self.principal,
            status = self.status,
            verdict = if self.reason.is_empty() { "allow" } else { "deny" },
            reason = %self.reason,
            bytes_in = self.bytes_in.load(std::sync::atomic::Ordering::Relaxed),
            bytes_out,
            complete,
            duration_ms = self.started.elapsed().as_secs_f64() * 1000.0,
        );
    }
}
