//! A tier running as a child process: its announced listeners, its JSON log lines,
//! its memory, and signals.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct TierProcess {
    pub name: String,
    child: Child,
    logs: Arc<Mutex<Vec<serde_json::Value>>>,
    /// When the reader last took a line: [`Self::logs`] lets a burst finish first.
    last_line: Arc<Mutex<Instant>>,
    listeners: HashMap<String, SocketAddr>,
}

impl TierProcess {
    /// Starts `bin --config config` and waits until every listener in `expect` is
    /// announced in the log.
    pub fn start(name: &str, bin: &Path, config: &Path, expect: &[&str]) -> Self {
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(["--log-level", "info,rampart_edge=debug,rampart_inner=debug"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let last_line = Arc::new(Mutex::new(Instant::now()));
        let stdout = child.stdout.take().unwrap();
        let sink = logs.clone();
        let stamp = last_line.clone();
        let label = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                *stamp.lock().unwrap() = Instant::now();
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) => sink.lock().unwrap().push(v),
                    Err(_) => eprintln!("[{label}] {line}"),
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let label = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{label} stderr] {line}");
            }
        });
        let mut process = Self {
            name: name.to_owned(),
            child,
            logs,
            last_line,
            listeners: HashMap::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            process.listeners = process
                .logs()
                .iter()
                .filter(|l| l["message"] == "listening")
                .filter_map(|l| {
                    Some((
                        l["listener"].as_str()?.to_owned(),
                        l["addr"].as_str()?.parse().ok()?,
                    ))
                })
                .collect();
            if expect.iter().all(|e| process.listeners.contains_key(*e)) {
                return process;
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("{name} exited during start-up: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not announce {expect:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id (for `/proc/<pid>/...`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.listeners[listener]
    }

    /// The log lines so far. While lines are still arriving (a request's access and audit
    /// records come in a burst after its response) it waits, up to 300 ms, for a 25 ms
    /// pause, so a test reading right after a response sees that response's records.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        let settle = Instant::now() + Duration::from_millis(300);
        while self.last_line.lock().unwrap().elapsed() < Duration::from_millis(25)
            && Instant::now() < settle
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.logs.lock().unwrap().clone()
    }

    /// Log lines whose message contains `text`.
    pub fn logs_containing(&self, text: &str) -> Vec<serde_json::Value> {
        self.logs()
            .into_iter()
            .filter(|l| l["message"].as_str().is_some_and(|m| m.contains(text)))
            .collect()
    }

    /// Access-log records.
    pub fn access_log(&self) -> Vec<serde_json::Value> {
        self.logs()
            .into_iter()
            .filter(|l| l["target"] == "rampart::access")
            .collect()
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| {
                l.strip_prefix(field)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Peak resident set size so far.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Resets the peak (VmHWM) to the current RSS, so the next peak is one case's
    /// (Linux `clear_refs`, value 5).
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").unwrap();
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TierProcess {
    fn drop(&mut self) {
        self.kill();
        // A failing test shows what each tier logged.
        if std::thread::panicking() {
            for line in self.logs() {
                eprintln!("[{}] {line}", self.name);
            }
        }
    }
}
