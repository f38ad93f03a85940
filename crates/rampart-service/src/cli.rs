//! The command line both tier binaries share: `--config`, `--check` and logging.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rampart_core::config::ConfigError;

use crate::logging::{self, LogFormat};
use crate::shutdown::Shutdown;

/// Arguments of a tier binary.
#[derive(Debug, clap::Args)]
pub struct TierArgs {
    /// Path to the tier's TOML configuration.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Validate the configuration, print every problem, and exit.
    #[arg(long)]
    pub check: bool,
    /// Log format: json or pretty.
    #[arg(long, default_value = "json")]
    pub log_format: LogFormat,
    /// Log level or filter directive (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

/// Loads the configuration with `load` (exit 2 with every problem on failure), stops
/// there for `--check`, else runs `serve` until SIGTERM/SIGINT.
pub fn run_tier<C, Fut>(
    args: &TierArgs,
    load: impl FnOnce(&Path) -> Result<C, ConfigError>,
    serve: impl FnOnce(C, Shutdown) -> Fut,
) -> anyhow::Result<ExitCode>
where
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = match load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.check {
        eprintln!("{}: ok", args.config.display());
        return Ok(ExitCode::SUCCESS);
    }
    logging::init(args.log_format, &args.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = crate::shutdown::on_termination_signal();
        serve(config, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}
