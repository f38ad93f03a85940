//! The writer: one thread per auditor draining a bounded queue into stdout or a file
//! rotated by size. Request handling only ever `try_send`s, so a slow disk or a full
//! pipe drops records (counted) instead of stalling traffic.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use super::config::Sink;
use super::{AuditError, AuditEvent};

/// Counters shown on `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) written: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) write_errors: AtomicU64,
}

pub(crate) enum Msg {
    /// Serialised here, off the request path.
    Event(Arc<AuditEvent>),
    Flush(mpsc::Sender<()>),
    /// Tests hold the writer to fill the queue deterministically.
    #[cfg(test)]
    Hold(mpsc::Receiver<()>),
}

/// Starts the writer thread; it ends when every sender is gone.
pub(crate) fn spawn(
    sink: &Sink,
    queue: usize,
    counters: Arc<Counters>,
) -> Result<mpsc::SyncSender<Msg>, AuditError> {
    let mut out = match sink {
        Sink::Stdout => Output::Stdout,
        Sink::File {
            path,
            max_size,
            keep,
        } => Output::File(RotatingFile::open(path, max_size.as_u64(), *keep)?),
    };
    let (tx, rx) = mpsc::sync_channel::<Msg>(queue);
    std::thread::Builder::new()
        .name("rampart-audit".into())
        .spawn(move || {
            let mut failing = false;
            for msg in rx {
                match msg {
                    Msg::Event(event) => match out.write(&event.to_line()) {
                        Ok(()) => {
                            counters.written.fetch_add(1, Ordering::Relaxed);
                            failing = false;
                        }
                        Err(e) => {
                            counters.write_errors.fetch_add(1, Ordering::Relaxed);
                            // One warning per failing stretch, not one per record.
                            if !failing {
                                tracing::warn!(error = %e, "audit record could not be written");
                                failing = true;
                            }
                        }
                    },
                    Msg::Flush(done) => {
                        let _ = done.send(());
                    }
                    #[cfg(test)]
                    Msg::Hold(release) => {
                        let _ = release.recv();
                    }
                }
            }
        })
        .map_err(AuditError::Thread)?;
    Ok(tx)
}

enum Output {
    Stdout,
    File(RotatingFile),
}

impl Output {
    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
            Output::File(file) => file.write(line),
        }
    }
}

/// A file that is renamed to `.1` (older ones shifted up to `.{keep}`, the oldest
/// removed) before a line would make it larger than `max_size`.
pub(crate) struct RotatingFile {
    path: PathBuf,
    max_size: u64,
    keep: u32,
    file: Option<File>,
    size: u64,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    // Audit trails name clients and rules: readable by the service account only.
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl RotatingFile {
    pub(crate) fn open(path: &Path, max_size: u64, keep: u32) -> Result<Self, AuditError> {
        let file = open_append(path).map_err(|source| AuditError::Open {
            path: path.to_owned(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(RotatingFile {
            path: path.to_owned(),
            max_size,
            keep,
            file: Some(file),
            size,
        })
    }

    pub(crate) fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.size > 0 && self.size.saturating_add(line.len() as u64) > self.max_size {
            self.rotate()?;
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                // A failed rotation or write left no file: try again for this line.
                let file = open_append(&self.path)?;
                self.size = file.metadata().map(|m| m.len()).unwrap_or(0);
                self.file.insert(file)
            }
        };
        match file.write_all(line) {
            Ok(()) => {
                self.size += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.file = None;
                Err(e)
            }
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        match std::fs::remove_file(numbered(&self.path, self.keep)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..self.keep).rev() {
            match std::fs::rename(numbered(&self.path, n), numbered(&self.path, n + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = Some(open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rampart-audit-{name}-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn rotation_by_size_creates_numbered_files_and_caps_them_at_keep() {
        let dir = temp_dir("rotate");
        let path = dir.join("audit.log");
        let mut file = RotatingFile::open(&path, 100, 3).unwrap();
        let line = |i: usize| format!("{{\"n\":{i:04},\"pad\":\"{}\"}}\n", "x".repeat(20));
        // Each line is 36 bytes: two fit under 100, the third rotates.
        for i in 0..20 {
            file.write(line(i).as_bytes()).unwrap();
        }
        let live = std::fs::read_to_string(&path).unwrap();
        assert!(live.len() <= 100 && !live.is_empty());
        assert!(live.ends_with(&line(19)));
        for n in 1..=3 {
            let rotated = std::fs::read_to_string(numbered(&path, n)).unwrap();
            assert!(rotated.len() <= 100, "{n}: {rotated}");
            assert_eq!(rotated.lines().count(), 2, "{n}");
        }
        assert!(!numbered(&path, 4).exists(), "capped at keep = 3");
        // .1 is the newest rotated file: it holds the lines just before the live ones.
        assert!(
            std::fs::read_to_string(numbered(&path, 1))
                .unwrap()
                .ends_with(&line(17))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reopening_continues_the_size_count() {
        let dir = temp_dir("reopen");
        let path = dir.join("audit.log");
        std::fs::write(&path, "x".repeat(90)).unwrap();
        let mut file = RotatingFile::open(&path, 100, 2).unwrap();
        file.write(b"0123456789abcdef\n").unwrap();
        assert!(numbered(&path, 1).exists(), "the existing 90 bytes count");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0123456789abcdef\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
