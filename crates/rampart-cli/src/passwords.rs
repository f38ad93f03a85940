//! New passwords for `rampart passwd` and `rampart admin user add`: read from stdin
//! (twice, without echo, on a terminal), checked by `rampart_identity::breached`.
//!
//! The policy comes from, highest first: `--breached-corpus` / `--range-api` flags, the
//! `RAMPART_BREACHED_CORPUS` / `RAMPART_RANGE_API` environment, the `[passwords]`
//! section of `--passwords-config FILE`, then the defaults (12 characters, no corpus).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use rampart_identity::breached::{MAX_RANGE_BYTES, Policy, RangeSource, RawPolicy};

/// Flags shared by the commands that set a password.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// Breached-password corpus: a sorted `HASH:COUNT` file or a directory of range files
    /// (env RAMPART_BREACHED_CORPUS).
    #[arg(long)]
    breached_corpus: Option<PathBuf>,
    /// Base URL of a k-anonymity range service (env RAMPART_RANGE_API).
    #[arg(long)]
    range_api: Option<String>,
    /// A TOML file whose `[passwords]` section sets the policy.
    #[arg(long)]
    passwords_config: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct PasswordsFile {
    #[serde(default)]
    passwords: RawPolicy,
}

impl PolicyArgs {
    /// The policy in force.
    pub(crate) fn policy(&self) -> anyhow::Result<Policy> {
        let (mut raw, base) = match &self.passwords_config {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                // Other sections (a tier's whole config) are allowed and ignored.
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let section = toml::Value::Table(table)
                    .try_into::<PasswordsFile>()
                    .map_err(|e| anyhow::anyhow!("{}: [passwords]: {e}", file.display()))?;
                let base = file.parent().unwrap_or(Path::new("")).to_owned();
                (section.passwords, base)
            }
            None => (RawPolicy::default(), PathBuf::new()),
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(corpus) = self
            .breached_corpus
            .clone()
            .or_else(|| env("RAMPART_BREACHED_CORPUS").map(PathBuf::from))
        {
            // Flags and env are relative to the working directory, not the config file.
            raw.breached_corpus = Some(std::path::absolute(corpus)?);
        }
        if let Some(api) = self.range_api.clone().or_else(|| env("RAMPART_RANGE_API")) {
            raw.range_api = Some(api);
        }
        let mut problems = rampart_core::config::Problems::default();
        let policy = Policy::validate(&raw, &base, &mut problems);
        let file = self
            .passwords_config
            .clone()
            .unwrap_or_else(|| PathBuf::from("(flags)"));
        Ok(problems.finish(&file, policy)?)
    }
}

/// Reads a new password: on a terminal twice without echo, else one line of stdin.
pub(crate) fn read_new_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = prompt_hidden("Password: ")?;
        let again = prompt_hidden("Again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    stdin
        .lock()
        .take_line(&mut line)
        .map_err(|e| anyhow::anyhow!("reading stdin: {e}"))?;
    if line.is_empty() {
        anyhow::bail!("no password on stdin");
    }
    Ok(line)
}

trait TakeLine {
    fn take_line(&mut self, out: &mut String) -> std::io::Result<()>;
}

impl<R: std::io::BufRead> TakeLine for R {
    fn take_line(&mut self, out: &mut String) -> std::io::Result<()> {
        // Bounded: a password longer than the policy's maximum is refused anyway.
        let mut bytes = Vec::new();
        std::io::Read::take(self.by_ref(), 4096).read_until(b'\n', &mut bytes)?;
        *out = String::from_utf8(bytes)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))?
            .trim_end_matches(['\n', '\r'])
            .to_owned();
        Ok(())
    }
}

fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let saved = tcgetattr(&stdin)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
    let mut line = String::new();
    let read = stdin.lock().take_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    read?;
    Ok(line)
}

/// Checks `password` for `user` against `policy`, asking the range service when set.
pub(crate) fn check(policy: &Policy, user: &str, password: &str) -> anyhow::Result<()> {
    let service = policy.range_api.as_ref().map(|base| HttpRanges {
        base: base.trim_end_matches('/').to_owned(),
        ca: policy.range_ca.clone(),
        timeout: policy.range_timeout,
    });
    policy
        .check(
            user,
            password,
            service.as_ref().map(|s| s as &dyn RangeSource),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// `GET <base>/range/<prefix>` with `Add-Padding: true`, a deadline and a size cap.
struct HttpRanges {
    base: String,
    ca: Option<PathBuf>,
    timeout: Duration,
}

impl RangeSource for HttpRanges {
    fn range(&self, prefix: &str) -> Result<String, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let fetch = self.fetch(prefix);
        runtime.block_on(async {
            match tokio::time::timeout(self.timeout, fetch).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {}s", self.timeout.as_secs())),
            }
        })
    }
}

impl HttpRanges {
    async fn fetch(&self, prefix: &str) -> Result<String, String> {
        use http_body_util::{BodyExt as _, Empty, Limited};
        let uri: http::Uri = format!("{}/range/{prefix}", self.base)
            .parse()
            .map_err(|e| format!("range_api: {e}"))?;
        let roots = match &self.ca {
            Some(ca) => rampart_tls::load_roots(ca).map_err(|e| e.to_string())?,
            None if uri.scheme_str() == Some("https") => {
                return Err("an https range_api needs range_ca (its roots)".into());
            }
            None => rustls::RootCertStore::empty(),
        };
        let tls = rampart_tls::upstream_client_config(roots).map_err(|e| e.to_string())?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, Empty<bytes::Bytes>>(connector);
        let request = http::Request::get(uri)
            .header("add-padding", "true")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = client.request(request).await.map_err(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        })?;
        if !response.status().is_success() {
            return Err(format!("the range service answered {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_RANGE_BYTES as usize)
            .collect()
            .await
            .map_err(|e| format!("range answer: {e}"))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| "range answer is not UTF-8".to_owned())
    }
}
