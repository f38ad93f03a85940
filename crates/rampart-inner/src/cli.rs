//! Command line of the `rampart-inner` binary (also reachable as `rampart inner`).

use std::path::PathBuf;

use clap::Parser;
use rampart_service::logging::{self, LogFormat};

/// rampart-inner: the LAN tier of the Rampart API firewall.
#[derive(Debug, Parser)]
#[command(name = "rampart-inner", version)]
pub struct Args {
    /// Path to inner.toml.
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

/// Runs the edge with `args`; returns the process exit code.
pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    let config = match crate::InnerConfig::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return Ok(std::process::ExitCode::from(2));
        }
    };
    if args.check {
        eprintln!("{}: ok", args.config.display());
        return Ok(std::process::ExitCode::SUCCESS);
    }
    logging::init(args.log_format, &args.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listeners = crate::InnerListeners::bind(&config).await?;
        let shutdown = rampart_service::shutdown::on_termination_signal();
        crate::serve(config, listeners, shutdown).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
