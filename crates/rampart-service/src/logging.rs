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
