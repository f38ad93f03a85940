//! `rampart push keygen`: the Ed25519 key pair that signs the edge policy the inner
//! pushes. The private key stays on the LAN side (`[push] signing_key` of the inner);
//! the edge trusts only the printed public key (`[push] trusted_keys`).

use std::io::Write as _;
use std::path::PathBuf;
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
}

/// Runs `rampart push`.
pub(crate) fn run(command: &PushCommand) -> anyhow::Result<ExitCode> {
    let PushCommand::Keygen { out, public } = command;
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
