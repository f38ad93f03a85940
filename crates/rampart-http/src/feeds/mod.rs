//! Threat-intelligence address feeds: the formats, the checks an update must pass before it
//! replaces the last good copy, and the handle the new copy is swapped into.
//!
//! What it does not do: no fetching and no scheduling (the edge does the I/O and calls
//! [`parse_feed`] then [`FeedHandle::replace`]); the lookup structure is an [`IpSet`]
//! built here, off the request path, and published with one pointer swap.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::iplist::{Cidr, IpSet, LineError};

/// How a feed writes its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// One address or CIDR per line; `#` starts a comment.
    Cidr,
    /// The DROP-list shape: `1.10.16.0/20 ; SBL256894`; `;` starts a comment.
    Drop,
}

impl FeedFormat {
    /// `cidr` or `drop`, as written in config.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "cidr" => Some(Self::Cidr),
            "drop" => Some(Self::Drop),
            _ => None,
        }
    }

    fn comment(self) -> char {
        match self {
            Self::Cidr => '#',
            Self::Drop => ';',
        }
    }
}

/// One bad line in a hundred is tolerated (feeds occasionally carry an odd line); more
/// means the body is not the feed we expect (an HTML error page, the wrong format).
const TOLERANCE_PERCENT: usize = 1;

/// Line errors kept for the report; the rest are only counted.
const MAX_REPORTED: usize = 5;

/// Why a feed update was refused. The last good copy stays in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// The body is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
    /// The body exceeds `max_bytes`.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// More entries than `max_entries`.
    #[error("more than {limit} entries")]
    TooManyEntries {
        /// The cap.
        limit: usize,
    },
    /// Too many lines could not be parsed.
    #[error("{bad} of {lines} entry lines unparsable ({})", first.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Unparsable {
        /// Lines that failed.
        bad: usize,
        /// Entry lines seen (comments and blank lines excluded).
        lines: usize,
        /// The first few failures.
        first: Vec<LineError>,
    },
    /// The update is empty while the last good copy was not.
    #[error("empty, while the last good copy had {previous} entries")]
    Empty {
        /// Entries of the copy kept.
        previous: usize,
    },
    /// The source could not be read or fetched.
    #[error("fetch failed: {0}")]
    Fetch(String),
    /// The server answered with a status other than 200.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The fetch did not finish within its deadline.
    #[error("timed out")]
    Timeout,
}

/// A parsed update, not yet published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFeed {
    /// The lookup structure.
    pub set: IpSet,
    /// Entries accepted.
    pub entries: usize,
    /// Lines skipped within the tolerance.
    pub skipped: usize,
}

impl fmt::Display for ParsedFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} entries, {} skipped", self.entries, self.skipped)
    }
}

/// Parses a feed body, refusing it whole when it exceeds `max_entries` or when more than
/// one entry line in a hundred is unparsable.
pub fn parse_feed(
    bytes: &[u8],
    format: FeedFormat,
    max_entries: usize,
) -> Result<ParsedFeed, FeedError> {
    let text = std::str::from_utf8(bytes).map_err(|_| FeedError::NotText)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cidrs = Vec::new();
    let mut first = Vec::new();
    let mut bad = 0usize;
    for (i, line) in text.lines().enumerate() {
        let entry = line.split(format.comment()).next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        // One token per line: anything after the address is a sign of the wrong format.
        let parsed = if entry.contains(char::is_whitespace) {
            Err(crate::iplist::CidrError::Address(entry.to_owned()))
        } else {
            entry.parse::<Cidr>()
        };
        match parsed {
            Ok(cidr) if cidrs.len() < max_entries => cidrs.push(cidr),
            Ok(_) => return Err(FeedError::TooManyEntries { limit: max_entries }),
            Err(error) => {
                bad += 1;
                if first.len() < MAX_REPORTED {
                    first.push(LineError {
                        line: i + 1,
                        error: shorten(error),
                    });
                }
            }
        }
    }
    let lines = cidrs.len() + bad;
    if bad * 100 > lines * TOLERANCE_PERCENT {
        return Err(FeedError::Unparsable { bad, lines, first });
    }
    let entries = cidrs.len();
    Ok(ParsedFeed {
        set: IpSet::new(cidrs),
        entries,
        skipped: bad,
    })
}

/// Keeps refused text out of logs beyond a short prefix (a feed body is untrusted).
fn shorten(error: crate::iplist::CidrError) -> crate::iplist::CidrError {
    use crate::iplist::CidrError;
    let cut = |s: String| s.chars().take(48).collect();
    match error {
        CidrError::Address(s) => CidrError::Address(cut(s)),
        CidrError::Prefix(s) => CidrError::Prefix(cut(s)),
        other => other,
    }
}

/// The published copy of one feed, shared with the address policies that refer to it.
#[derive(Debug, Clone)]
pub struct FeedHandle {
    set: Arc<ArcSwap<IpSet>>,
    entries: Arc<std::sync::atomic::AtomicUsize>,
}

impl FeedHandle {
    pub(crate) fn new(set: Arc<ArcSwap<IpSet>>, entries: usize) -> Self {
        Self {
            set,
            entries: Arc::new(std::sync::atomic::AtomicUsize::new(entries)),
        }
    }

    /// Entries of the copy in use.
    pub fn entries(&self) -> usize {
        self.entries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The copy in use.
    pub fn current(&self) -> Arc<IpSet> {
        self.set.load_full()
    }

    /// Publishes the copy `other` publishes (a reload's new feed taking over the copy
    /// the running one already fetched, so the list never goes empty in between).
    pub fn adopt(&self, other: &FeedHandle) {
        self.set.store(other.current());
        self.entries
            .store(other.entries(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Publishes `update` unless it is empty while the copy in use is not; on refusal
    /// the copy in use stays. Returns the number of entries now published.
    pub fn replace(&self, update: ParsedFeed) -> Result<usize, FeedError> {
        let previous = self.entries();
        if update.entries == 0 && previous > 0 {
            return Err(FeedError::Empty { previous });
        }
        self.set.store(Arc::new(update.set));
        self.entries
            .store(update.entries, std::sync::atomic::Ordering::Relaxed);
        Ok(update.entries)
    }
}

#[cfg(test)]
mod tests;
