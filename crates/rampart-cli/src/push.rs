//! `rampart push keygen`: the Ed25519 key pair that signs the edge policy the inner
//! pushes. The private key stays on the LAN side (`[push] signing_key` of the inner);
//! the edge trusts only the printed public key (`[push] trusted_keys`).
//!
//! `rampart push check`: builds a policy the inner would publish against a copy of an
//! edge's config, exactly as that edge would on receipt, so a broken policy is caught on
//! the LAN instead of being refused by every edge.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

/// `rampart push ...`
#[derive(Debug, Subcommand)]
pub(crate) enum PushCommand {
    /// Make a signing key pair: writes the private key (mode 0600, refused if the file
    /// exists) and prints the public key and its id for the edge's `trusted_keys`.
    Keygen {
        /// Where the PKCS#8 private key is written.
        #[arg(long)]
        out: PathBuf,
        /// Also write the public key to this file (the edge may name the file).
        #[arg(long)]
        public: Option<PathBuf>,
    },
    /// Check the policy the inner publishes (`[push] policy` and the files it names)
    /// against an edge's config: exit 0 when that edge would apply it, 1 with every
    /// problem otherwise.
    Check {
        /// The policy document the inner's `[push] policy` names.
        #[arg(long)]
        policy: PathBuf,
        /// A copy of the edge's config (its `[push] sections` and everything a reload
        /// checks).
        #[arg(long)]
        edge_config: PathBuf,
    },
}

/// Runs `rampart push`.
pub(crate) fn run(command: &PushCommand) -> anyhow::Result<ExitCode> {
    match command {
        PushCommand::Keygen { out, public } => keygen(out, public.as_deref()),
        PushCommand::Check {
            policy,
            edge_config,
        } => check(policy, edge_config),
    }
}

fn check(policy: &Path, edge_config: &Path) -> anyhow::Result<ExitCode> {
    let problems = match rampart_inner::push::collect(policy) {
        Ok(documents) => {
            let bundle = rampart_proto::v1::PolicyBundle {
                version: 1,
                documents,
                ..Default::default()
            };
            rampart_edge::push::check(edge_config, &bundle, &std::env::temp_dir()).err()
        }
        Err(e) => Some(vec![e]),
    };
    let Some(problems) = problems else {
        writeln!(
            std::io::stdout().lock(),
            "{}: an edge with {} would apply it.",
            policy.display(),
            edge_config.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{}: the edge would refuse it:", policy.display())?;
    for p in problems {
        writeln!(stderr, "  {p}")?;
    }
    Ok(ExitCode::FAILURE)
}

fn keygen(out: &Path, public: Option<&Path>) -> anyhow::Result<ExitCode> {
    if out.exists() {
        anyhow::bail!(
            "{} exists; a signing key is never overwritten (remove it first)",
            out.display()
        );
    }
    let (pem, key) = rampart_proto::push::generate()?;
    // Mode 0600 before any byte of the key is written.
    rampart_tls::pki::write_file(out, &pem, true)?;
    if let Some(path) = public {
        rampart_tls::pki::write_file(path, &format!("{key}\n"), false)?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "Signing key written to {} (keep it on the LAN side).",
        out.display()
    )?;
    writeln!(stdout, "Key id: {}", key.id())?;
    writeln!(stdout)?;
    writeln!(stdout, "Add to the edge's config:")?;
    writeln!(stdout, "[push]")?;
    writeln!(stdout, "trusted_keys = [\"{key}\"]")?;
    Ok(ExitCode::SUCCESS)
}
