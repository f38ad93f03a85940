//! Command line of the `rampart-edge` binary (also reachable as `rampart edge`).

use clap::Parser;
use rampart_service::cli::{TierArgs, run_tier};

/// rampart-edge: the DMZ tier of the Rampart API firewall.
#[derive(Debug, Parser)]
#[command(name = "rampart-edge", version)]
pub struct Args {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tier: TierArgs,
}

/// Runs the edge with `args`; returns the process exit code.
pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    run_tier(
        &args.tier,
        crate::EdgeConfig::load,
        |config, shutdown| async move {
            let listeners = crate::EdgeListeners::bind(&config).await?;
            crate::serve(config, listeners, shutdown).await?;
            Ok(())
        },
    )
}
