//! `rampart keys new` and `rampart passwd`: credentials for the edge's identity files.
//! Secrets are printed once, to stdout, and never stored: the files hold only hashes.

use std::io::{BufRead, IsTerminal as _, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// `rampart keys ...`
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a fresh API key: prints the key once and the lines for the consumers file.
    New {
        /// The consumer the key belongs to.
        #[arg(long)]
        consumer: String,
    },
}

/// `rampart admin ...`
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Make an admin API token: prints it once and the `[[admin.tokens]]` lines.
    Token {
        /// A name for the token's holder (shown in the audit log).
        name: String,
        /// viewer, operator or admin.
        role: String,
    },
    /// People who sign in with a password and a TOTP code (`[admin] users_file`).
    User {
        #[command(subcommand)]
        command: crate::adminuser::UserCommand,
    },
}

/// Runs `rampart admin`.
pub(crate) fn admin(command: &AdminCommand) -> anyhow::Result<ExitCode> {
    use rampart_service::admin::Role;
    match command {
        AdminCommand::Token { name, role } => {
            let role = match role.as_str() {
                "viewer" => Role::Viewer,
                "operator" => Role::Operator,
                "admin" => Role::Admin,
                other => anyhow::bail!("unknown role {other:?}: viewer, operator or admin"),
            };
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                anyhow::bail!("the name must be 1 to 64 printable characters");
            }
            let (token, snippet) = rampart_service::admin::new_admin_token(name, role);
            let mut out = std::io::stdout().lock();
            writeln!(out, "Admin token for {name} (shown once):")?;
            writeln!(out, "  {token}")?;
            writeln!(out)?;
            writeln!(out, "Add to the tier's config:")?;
            writeln!(out, "{snippet}")?;
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::User { command } => crate::adminuser::run(command),
    }
}

/// `rampart passwd USER`
#[derive(Debug, Args)]
pub(crate) struct PasswdArgs {
    /// The user name (letters, digits, `.`, `_`, `-`, `@`).
    user: String,
    #[command(flatten)]
    policy: crate::passwords::PolicyArgs,
}

/// Runs `rampart keys`.
pub(crate) fn keys(command: &KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::New { consumer } => {
            if consumer.is_empty() || consumer.len() > 128 || consumer.chars().any(char::is_control)
            {
                anyhow::bail!("--consumer must be 1 to 128 printable characters");
            }
            let new = rampart_identity::apikey::new_key(consumer);
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "API key for {consumer} (shown once; give it to the consumer):"
            )?;
            writeln!(out, "  {}", new.key)?;
            writeln!(out)?;
            writeln!(out, "Add to the consumers file:")?;
            write!(out, "{}", new.file_snippet)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs `rampart passwd`: reads the password twice from stdin (without echo on a
/// terminal), checks it against the password policy (length, user name, breached
/// corpus; see [`crate::passwords`]) and prints the users-file line.
pub(crate) fn passwd(args: &PasswdArgs) -> anyhow::Result<ExitCode> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "._-@".contains(c);
    if args.user.is_empty() || args.user.len() > 64 || !args.user.chars().all(valid) {
        anyhow::bail!("the user name must be 1 to 64 of letters, digits, '.', '_', '-', '@'");
    }
    let policy = args.policy.policy()?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let password = crate::passwords::read_new_password()?;
        return passwd_line(&policy, &args.user, &password);
    }
    let mut lines = stdin.lock().lines();
    let mut read = |prompt: &str| -> anyhow::Result<String> {
        eprint!("{prompt}");
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("no password on stdin"))??;
        Ok(line.trim_end_matches('\r').to_owned())
    };
    let password = read("Password: ")?;
    let again = read("Again: ")?;
    if password != again {
        anyhow::bail!("the two passwords differ");
    }
    passwd_line(&policy, &args.user, &password)
}

fn passwd_line(
    policy: &rampart_identity::breached::Policy,
    user: &str,
    password: &str,
) -> anyhow::Result<ExitCode> {
    crate::passwords::check(policy, user, password)?;
    let hash = rampart_identity::basic::hash_password(password)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{user}:{hash}")?;
    Ok(ExitCode::SUCCESS)
}
