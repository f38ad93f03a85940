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
        #[arg(long, conflicts_with = "keep_existing")]
        force: bool,
        /// Succeed without writing anything when the directory already holds a PKI
        /// (for a one-shot init container that runs on every start).
        #[arg(long)]
        keep_existing: bool,
    },
}

/// Every file `write_dev_pki` writes.
const PKI_FILES: [&str; 11] = [
    "ca.pem",
    "edge-server.pem",
    "edge-server.key",
    "edge-client.pem",
    "edge-client.key",
    "inner-server.pem",
    "inner-server.key",
    "edge-link.pem",
    "edge-link.key",
    "inner-client.pem",
    "inner-client.key",
];

pub(crate) fn run(command: CertsCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertsCommand::Init {
            dir,
            edge_name,
            inner_name,
            public_names,
            force,
            keep_existing,
        } => {
            // Only a complete set is kept: a run cut short leaves a CA without leaves,
            // which must be an error, not a silent success.
            if keep_existing && PKI_FILES.iter().all(|f| dir.join(f).exists()) {
                eprintln!("{} already holds a PKI; keeping it", dir.display());
                return Ok(ExitCode::SUCCESS);
            }
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
            eprintln!(
                "  edge link server:   {}   (inner-dials)",
                files.edge_link.0.display()
            );
            eprintln!(
                "  inner link client:  {}   (inner-dials)",
                files.inner_client.0.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn init(dir: &std::path::Path, keep_existing: bool) -> anyhow::Result<ExitCode> {
        run(CertsCommand::Init {
            dir: dir.to_owned(),
            edge_name: "rampart-edge".into(),
            inner_name: "rampart-inner".into(),
            public_names: vec!["localhost".into()],
            force: false,
            keep_existing,
        })
    }

    #[test]
    fn keep_existing_keeps_a_complete_pki_and_refuses_a_partial_one() {
        let dir = std::env::temp_dir().join(format!(
            "rampart-certs-test-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        init(&dir, false).unwrap();
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        // A second one-shot run keeps the files; without the flag it refuses.
        init(&dir, true).unwrap();
        assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), ca);
        assert!(init(&dir, false).is_err());
        // A run cut short (a CA without leaves) is not mistaken for a PKI.
        std::fs::remove_file(dir.join("inner-server.key")).unwrap();
        assert!(init(&dir, true).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
