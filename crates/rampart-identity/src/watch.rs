//! Credential files that reload when they change, keeping the last good version.
//!
//! The edge calls [`Watched::reload_if_changed`] on a timer (on the blocking pool: it
//! may read a file). A changed file is parsed whole and swapped in only when it is
//! entirely valid; a bad file keeps the previous contents, as `rampart-http`'s IP lists do.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use rampart_core::config::ConfigError;

/// A credential file format.
pub trait FromFile: Sized + Send + Sync {
    /// Largest file accepted, in bytes; the file is read whole.
    const MAX_BYTES: u64;

    /// Parses the text of `file`, reporting every problem.
    fn parse(file: &Path, text: &str) -> Result<Self, ConfigError>;

    /// Reads and parses `file` (blocking).
    fn load(file: &Path) -> Result<Self, ConfigError> {
        let (text, _) = read(file, Self::MAX_BYTES)?;
        Self::parse(file, &text)
    }
}

/// What identifies one version of a file, cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Missing,
    Seen {
        modified: Option<SystemTime>,
        len: u64,
    },
}

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).map_or(Stamp::Missing, |m| Stamp::Seen {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

fn read_error(file: &Path, source: std::io::Error) -> ConfigError {
    ConfigError::Read {
        file: file.to_owned(),
        source,
    }
}

/// Reads `file` as UTF-8, at most `max` bytes. Stamped before reading: a write during
/// the read changes the stamp again, so the next poll reloads.
fn read(file: &Path, max: u64) -> Result<(String, Stamp), ConfigError> {
    let before = stamp(file);
    let handle = std::fs::File::open(file).map_err(|e| read_error(file, e))?;
    let mut bytes = Vec::new();
    handle
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(file, e))?;
    if bytes.len() as u64 > max {
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        );
        return Err(read_error(file, e));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        read_error(
            file,
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        )
    })?;
    Ok((text, before))
}

/// What a reload poll found.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reload {
    /// The file did not change.
    Unchanged,
    /// The file changed and its new contents are in use.
    Reloaded,
    /// The file changed but cannot be used; the previous contents stay in use. Reported
    /// once per change.
    KeepPrevious(ConfigError),
}

/// A loaded credential file and the means to reload it.
#[derive(Debug)]
pub struct Watched<T> {
    path: PathBuf,
    stamp: Mutex<Stamp>,
    current: RwLock<Arc<T>>,
}

impl<T: FromFile> Watched<T> {
    /// Loads `path` (blocking; at startup). Fails when the file is missing or invalid.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let (text, stamp) = read(path, T::MAX_BYTES)?;
        let value = T::parse(path, &text)?;
        Ok(Self {
            path: path.to_owned(),
            stamp: Mutex::new(stamp),
            current: RwLock::new(Arc::new(value)),
        })
    }

    /// The contents in use.
    pub fn current(&self) -> Arc<T> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reloads the file if its modification time or size changed (blocking).
    pub fn reload_if_changed(&self) -> Reload {
        let mut known = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        let now = stamp(&self.path);
        if now == *known {
            return Reload::Unchanged;
        }
        let parsed = read(&self.path, T::MAX_BYTES).and_then(|(text, seen)| {
            *known = seen;
            T::parse(&self.path, &text)
        });
        match parsed {
            Ok(value) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
                Reload::Reloaded
            }
            Err(e) => {
                // Remember the failing version so it is reported once, not every poll.
                *known = now;
                Reload::KeepPrevious(e)
            }
        }
    }
}
