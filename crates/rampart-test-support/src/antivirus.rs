//! Real clamd and c-icap for antivirus tests, on loopback and in a temp dir, started by
//! `scripts/av-services.sh` (one copy of the signatures and configs for tests, CI and
//! developers). Each [`AvServices`] has its own daemons, stopped on drop (also when the test
//! panics); if the test process dies without dropping, the script's watchdog stops them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The harmless "malware" of the project's signature database (`Rampart.Test.Marker`).
pub const TEST_MARKER: &str = "RAMPART-TEST-MALWARE-MARKER-7f3a";

/// The 68-byte EICAR test file.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A private clamd and c-icap.
pub struct AvServices {
    dir: tempfile::TempDir,
    /// clamd's TCP socket.
    pub clamd_tcp: SocketAddr,
    /// clamd's unix socket.
    pub clamd_socket: PathBuf,
    /// The safe `avscan` alias (`allow204=on&sizelimit=off&mode=simple`).
    pub icap_url: String,
    /// The bare `virus_scan` service, which answers some infected uploads with a plain 200.
    pub icap_bare_url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/av-services.sh")
}

fn run(args: &[&str], dir: &Path, envs: &[(&str, String)]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .arg(dir)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .map_err(|e| format!("cannot run av-services.sh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "av-services.sh {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl AvServices {
    /// Starts both daemons with clamd's StreamMaxLength and MaxFileSize at 8 MiB.
    pub fn start() -> Self {
        Self::start_with_stream_max("8M")
    }

    /// Starts both daemons with clamd's StreamMaxLength (and MaxFileSize) at `max`, in
    /// clamd's notation (`"8M"`).
    pub fn start_with_stream_max(max: &str) -> Self {
        let mut last_error = String::new();
        // Ports are picked free but may be taken before the daemon binds: try again.
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("rampart-av-")
                .tempdir()
                .unwrap();
            let envs = [
                ("AV_STREAM_MAX_LENGTH", max.to_owned()),
                ("RAMPART_AV_OWNER_PID", std::process::id().to_string()),
            ];
            match run(&["start"], dir.path(), &envs) {
                Ok(stdout) => return Self::from_endpoints(dir, &stdout),
                Err(e) => last_error = e,
            }
        }
        panic!("{last_error}");
    }

    fn from_endpoints(dir: tempfile::TempDir, stdout: &str) -> Self {
        let value = |key: &str| -> String {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("av-services.sh did not print {key}: {stdout}"))
                .to_owned()
        };
        Self {
            clamd_tcp: value("CLAMD_TCP").parse().unwrap(),
            clamd_socket: value("CLAMD_SOCKET").into(),
            icap_url: value("ICAP_URL"),
            icap_bare_url: value("ICAP_BARE_URL"),
            dir,
        }
    }

    /// The directory holding configs, signatures, sockets and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pid(&self, file: &str) -> Pid {
        let text = std::fs::read_to_string(self.dir().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e} (not running?)"));
        Pid::from_raw(text.trim().parse().unwrap())
    }

    /// Freezes clamd (SIGSTOP): it still accepts connections but never answers.
    pub fn pause_clamd(&self) {
        kill(self.pid("clamd.pid"), Signal::SIGSTOP).unwrap();
    }

    /// Thaws clamd (SIGCONT).
    pub fn resume_clamd(&self) {
        kill(self.pid("clamd.pid"), Signal::SIGCONT).unwrap();
    }

    /// Stops clamd; its sockets refuse connections afterwards.
    pub fn stop_clamd(&self) {
        run(&["stop-clamd"], self.dir(), &[]).unwrap();
    }

    /// Starts clamd again with the same config, sockets and port; waits until it answers.
    pub fn restart_clamd(&self) {
        run(&["stop-clamd"], self.dir(), &[]).unwrap();
        run(&["start-clamd"], self.dir(), &[]).unwrap();
    }

    /// Stops c-icap.
    pub fn stop_icap(&self) {
        run(&["stop-icap"], self.dir(), &[]).unwrap();
    }

    /// Starts c-icap again with the same config and port; waits until it answers OPTIONS.
    /// Connections to the old process are gone.
    pub fn restart_icap(&self) {
        run(&["stop-icap"], self.dir(), &[]).unwrap();
        run(&["start-icap"], self.dir(), &[]).unwrap();
    }

    /// A signature update: clamd reloads database version `version`, which adds a
    /// signature (`Rampart.Test.Update`) for `marker`, and c-icap's ISTag changes with it.
    /// Returns once both serve the new signatures.
    pub fn update_signatures(&self, version: u32, marker: &str) {
        let envs = [
            ("SIGNATURE_VERSION", version.to_string()),
            ("SIGNATURE_MARKER", marker.to_owned()),
        ];
        if let Err(e) = run(&["update-signatures"], self.dir(), &envs) {
            panic!("{e}");
        }
    }

    fn print_logs(&self) {
        for log in ["clamd.out", "clamd.log", "c-icap.out", "c-icap-server.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir().join(log)) {
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                eprintln!("--- {log} (last lines) ---");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

impl Drop for AvServices {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        if let Err(e) = run(&["stop"], self.dir.path(), &[]) {
            eprintln!("{e}");
        }
    }
}
