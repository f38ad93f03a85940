//! `rampart certs init`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use rampart_tls::pki::{DevNames, write_dev_pki};

#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// Create a development CA plus the edge server, edge->inner client and inner
    /// server certificates. Keys are written with mode 0600.
    Init {
        /// Output directory.
        #[arg(long)]
        dir: PathBuf,
        /// Link identity of the edge (DNS SAN of its client certificate).
        #[arg(long, default_value = "rampart-edge")]
        edge_name: String,
        /// Link identity of the inner tier (DNS SAN of its server certificate).
        #[arg(long, default_value = "rampart-inner")]
        inner_name: String,
        /// Names on the edge's public certificate (repeatable).
        #[arg(long = "public-name", default_values = ["localhost", "127.0.0.1"])]
        public_names: Vec<String>,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

pub(crate) fn run(command: CertsCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertsCommand::Init {
            dir,
            edge_name,
            inner_name,
            public_names,
            force,
        } => {
            if !force && dir.join("ca.pem").exists() {
                anyhow::bail!(
                    "{} already holds a PKI; pass --force to replace it",
                    dir.display()
                );
            }
            let files = write_dev_pki(
                &dir,
                &DevNames {
                    edge_public: public_names,
                    edge: edge_name,
                    inner: inner_name,
                },
            )?;
            eprintln!("development PKI written to {}", dir.display());
            eprintln!("  CA:                 {}", files.ca_cert.display());
            eprintln!("  edge public cert:   {}", files.edge_server.0.display());
            eprintln!("  edge link client:   {}", files.edge_client.0.display());
            eprintln!("  inner link server:  {}", files.inner_server.0.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
