//! Command line of the `rampart-inner` binary (also reachable as `rampart inner`).

use clap::Parser;
use rampart_service::cli::{TierArgs, run_tier};

/// rampart-inner: the LAN tier of the Rampart API firewall.
#[derive(Debug, Parser)]
#[command(name = "rampart-inner", version)]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tier: TierArgs,
}

/// Runs the inner tier with `args`; returns the process exit code.
pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    run_tier(
        &args.tier,
        crate::InnerConfig::load,
        |config, shutdown| async move {
            let listeners = crate::InnerListeners::bind(&config).await?;
            crate::serve(config, listeners, shutdown).await?;
            Ok(())
        },
    )
}
