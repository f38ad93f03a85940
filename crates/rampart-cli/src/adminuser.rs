//! `rampart admin user add NAME ROLE --users-file F`: a person who signs in to the admin
//! listener with a password and a TOTP code. Reads the password (checked against the
//! password policy), generates the TOTP secret, writes the users file (mode 0600) and
//! prints the enrolment URI and QR code once.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rampart_service::admin::Role;
use rampart_service::admin::totp::Secret;
use rampart_service::admin::users::{upsert_user, valid_user_name};

use crate::passwords::{self, PolicyArgs};

/// `rampart admin user ...`
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user (or replace one of the same name) in an admin users file.
    Add(AddArgs),
}

/// `rampart admin user add`
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The login name (letters, digits, `.`, `_`, `-`, `@`).
    name: String,
    /// viewer, operator or admin.
    role: String,
    /// The users file (`[admin] users_file`); created when missing.
    #[arg(long)]
    users_file: PathBuf,
    /// Also write the enrolment QR code as SVG to this file.
    #[arg(long)]
    qr_svg: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// Runs `rampart admin user`.
pub(crate) fn run(command: &UserCommand) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add(args) => add(args),
    }
}

fn add(args: &AddArgs) -> anyhow::Result<ExitCode> {
    if !valid_user_name(&args.name) {
        anyhow::bail!("the user name must be 1 to 64 of letters, digits, '.', '_', '-', '@'");
    }
    let role: Role = args.role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let policy = args.policy.policy()?;
    let password = passwords::read_new_password()?;
    passwords::check(&policy, &args.name, &password)?;
    let phc = rampart_identity::basic::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    let secret = Secret::generate();
    let existing = match std::fs::read_to_string(&args.users_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => anyhow::bail!("{}: {e}", args.users_file.display()),
    };
    let text = upsert_user(&existing, &args.name, role, &phc, &secret)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.users_file.display()))?;
    write_private(&args.users_file, &text)?;
    let uri = secret.otpauth_uri(&args.name);
    let code = qrcode::QrCode::new(uri.as_bytes())?;
    if let Some(svg) = &args.qr_svg {
        let image = code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        std::fs::write(svg, image)?;
    }
    let blocks = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "User {} ({role}) written to {}.",
        args.name,
        args.users_file.display()
    )?;
    writeln!(
        out,
        "Scan the code with an authenticator app, or enter the URI (shown once):"
    )?;
    writeln!(out, "  {uri}")?;
    writeln!(out)?;
    writeln!(out, "{blocks}")?;
    Ok(ExitCode::SUCCESS)
}

/// Replaces `path` with `text`, readable by the owner only (it holds TOTP secrets).
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&tmp)
            .map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Some(dir) = dir
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
