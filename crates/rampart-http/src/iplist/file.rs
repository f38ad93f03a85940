//! List files: one CIDR or address per line, `#` and `;` comments, blank lines, so the
//! common DROP-list format `192.0.2.0/24 ; SBL123` reads as is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{CidrError, IpSet};

/// Largest list file read (bytes). A list is loaded whole, and its set takes at most
/// a few times the file's size.
pub const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024;

/// Most line errors kept per file: enough to fix a file, bounded for a garbage file.
const MAX_LINE_ERRORS: usize = 20;

/// A bad line of a list file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    pub error: CidrError,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// Why an IP list could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpListError {
    /// The file could not be read.
    #[error("{}: {message}", path.display())]
    Read {
        /// The list file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// The file is larger than [`MAX_LIST_BYTES`].
    #[error("{}: larger than {limit} bytes", path.display())]
    TooLarge {
        /// The list file.
        path: PathBuf,
        /// The cap.
        limit: u64,
    },
    /// Some lines are not CIDRs or addresses (the first few are listed).
    #[error("{}: {}", path.display(), errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Parse {
        /// The list file.
        path: PathBuf,
        /// The bad lines, in file order.
        errors: Vec<LineError>,
    },
}

/// Parses the text of a list file.
pub fn parse_list(text: &str) -> Result<IpSet, Vec<LineError>> {
    let mut cidrs = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split(['#', ';']).next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        match entry.parse() {
            Ok(cidr) => cidrs.push(cidr),
            Err(error) if errors.len() < MAX_LINE_ERRORS => {
                errors.push(LineError { line: i + 1, error });
            }
            Err(_) => {}
        }
    }
    if errors.is_empty() {
        Ok(IpSet::new(cidrs))
    } else {
        Err(errors)
    }
}

/// What identifies one version of a file, cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// The file could not be examined.
    Missing,
    /// Modification time and size.
    Seen {
        modified: Option<SystemTime>,
        len: u64,
    },
}

impl Stamp {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Self::Seen {
            modified: meta.modified().ok(),
            len: meta.len(),
        }
    }
}

fn read_error(path: &Path, e: &std::io::Error) -> IpListError {
    IpListError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Parses the bytes read from `path`.
pub(crate) fn parse_file(path: &Path, bytes: &[u8]) -> Result<IpSet, IpListError> {
    let text = std::str::from_utf8(bytes).map_err(|_| IpListError::Read {
        path: path.to_owned(),
        message: "not UTF-8 text".to_owned(),
    })?;
    parse_list(text).map_err(|errors| IpListError::Parse {
        path: path.to_owned(),
        errors,
    })
}

fn too_large(path: &Path) -> IpListError {
    IpListError::TooLarge {
        path: path.to_owned(),
        limit: MAX_LIST_BYTES,
    }
}

/// Reads and parses a list file (blocking; for startup). Returns its stamp as read.
pub(crate) fn load_blocking(path: &Path) -> Result<(IpSet, Stamp), IpListError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| read_error(path, &e))?;
    let meta = file.metadata().map_err(|e| read_error(path, &e))?;
    let mut bytes = Vec::new();
    // `take` bounds the read even if the file grows after the size was looked at.
    file.take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(path, &e))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(too_large(path));
    }
    Ok((parse_file(path, &bytes)?, Stamp::of(&meta)))
}

/// The current stamp of `path`, and its set if the stamp differs from `known`.
pub(crate) async fn reload_if_changed(
    path: &Path,
    known: Stamp,
) -> (Stamp, Option<Result<IpSet, IpListError>>) {
    use tokio::io::AsyncReadExt as _;
    let meta = match tokio::fs::metadata(path).await {
        Ok(meta) => meta,
        Err(_) if known == Stamp::Missing => return (Stamp::Missing, None),
        Err(e) => return (Stamp::Missing, Some(Err(read_error(path, &e)))),
    };
    let stamp = Stamp::of(&meta);
    if stamp == known {
        return (stamp, None);
    }
    if meta.len() > MAX_LIST_BYTES {
        return (stamp, Some(Err(too_large(path))));
    }
    // Stamped before reading: a write during the read changes the stamp again, so the
    // next poll reloads the file.
    let mut bytes = Vec::new();
    let read = match tokio::fs::File::open(path).await {
        Ok(file) => file.take(MAX_LIST_BYTES + 1).read_to_end(&mut bytes).await,
        Err(e) => Err(e),
    };
    let result = match read {
        Ok(_) if bytes.len() as u64 > MAX_LIST_BYTES => Err(too_large(path)),
        Ok(_) => parse_file(path, &bytes),
        Err(e) => Err(read_error(path, &e)),
    };
    (stamp, Some(result))
}
