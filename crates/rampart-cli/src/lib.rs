//! `rampart`: the admin command.
//!
//! - `rampart certs init`: a development PKI for both tiers.
//! - `rampart up`: both tiers as two child processes talking mutual-TLS gRPC, in front
//!   of a built-in demo backend or `--upstream`.
//! - `rampart edge` / `rampart inner`: run one tier (what `up` starts; the same code as
//!   the `rampart-edge` and `rampart-inner` binaries).
//! - `rampart demo-backend`: the demo backend alone (container deployments).
//! - `rampart push keygen`: the key pair that signs the edge policy pushed from the LAN.

mod adminuser;
mod certs;
mod credentials;
mod demo;
mod edge_policy;
mod passwords;
mod push;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart API firewall: admin command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Certificates for development and testing.
    Certs {
        #[command(subcommand)]
        command: certs::CertsCommand,
    },
    /// Run both tiers in front of a demo backend or --upstream.
    Up(up::UpArgs),
    /// Run the edge (DMZ) tier.
    Edge(rampart_edge::cli::Args),
    /// Run the inner (LAN) tier.
    Inner(rampart_inner::cli::Args),
    /// Run the demo backend alone, logging one line per request.
    DemoBackend(demo::DemoBackendArgs),
    /// API keys for the edge's consumers file.
    Keys {
        #[command(subcommand)]
        command: credentials::KeysCommand,
    },
    /// Hash a password for the edge's users file (HTTP Basic), read from stdin.
    Passwd(credentials::PasswdArgs),
    /// Admin API credentials.
    Admin {
        #[command(subcommand)]
        command: credentials::AdminCommand,
    },
    /// Config push from the LAN: the key pair that signs the edge policy.
    Push {
        #[command(subcommand)]
        command: push::PushCommand,
    },
}

/// Runs the `rampart` command line with the process arguments.
pub fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Certs { command } => certs::run(command),
        Command::Up(args) => up::run(args),
        Command::Edge(args) => rampart_edge::cli::run(&args),
        Command::Inner(args) => rampart_inner::cli::run(&args),
        Command::DemoBackend(args) => demo::run(&args),
        Command::Keys { command } => credentials::keys(&command),
        Command::Passwd(args) => credentials::passwd(&args),
        Command::Admin { command } => credentials::admin(&command),
        Command::Push { command } => push::run(&command),
    }
}
