//! Rules for a *new* password (`rampart passwd`, `rampart admin user add`): length,
//! context (not the user name, not the product name) and absence from a corpus of
//! breached passwords in the Pwned Passwords SHA-1 format.
//!
//! Corpus shapes:
//! - one big file of `HASH:COUNT` lines sorted by hash (40 upper-case hex digits of the
//!   password's SHA-1), searched by binary search with seeks: a few dozen reads of a
//!   few hundred bytes, whatever the file's size, never loaded whole;
//! - a directory of range files named by the hash's first 5 hex digits (`21BD1` or
//!   `21BD1.txt`), each holding `SUFFIX:COUNT` lines for the other 35; a missing range file
//!   counts as empty, so a partial corpus works;
//! - a k-anonymity range service (`GET <base>/range/<5 hex>`), through a
//!   [`RangeSource`] the caller provides: this crate does no network I/O. Lines ending
//!   in `:0` are padding and ignored.
//!
//! Lines may end in CRLF; malformed lines never match. Refusals never contain the
//! password.
//!
//! ```toml
//! [passwords]
//! min_length = 12
//! words = ["rampart"]                   # refused inside passwords, case-insensitively
//! breached_corpus = "pwned-passwords"   # a sorted file or a directory of range files
//! range_api = "https://ranges.example/" # base URL of a range service
//! range_ca = "ranges-ca.pem"            # roots for its HTTPS
//! range_timeout = "5s"
//! fail_open = false                     # true: accept when the range service is down
//! ```

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rampart_core::config::{Problems, resolve};
use serde::Deserialize;

/// Shortest password accepted by default, in characters.
pub const DEFAULT_MIN_LENGTH: usize = 12;
/// Longest password accepted, in bytes.
pub const MAX_LENGTH: usize = 1024;
/// Longest line considered in a sorted corpus file; longer ones are malformed.
const MAX_LINE: usize = 256;
/// Largest range file or range answer read.
pub const MAX_RANGE_BYTES: u64 = 8 * 1024 * 1024;

/// Why a new password is refused, or could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Fewer characters than the minimum.
    #[error("the password must have at least {0} characters")]
    TooShort(usize),
    /// More bytes than [`MAX_LENGTH`].
    #[error("the password must have at most {MAX_LENGTH} bytes")]
    TooLong,
    /// It contains the user name.
    #[error("the password must not contain the user name")]
    ContainsUser,
    /// It is the user name backwards.
    #[error("the password must not be the user name reversed")]
    ReversedUser,
    /// It contains a forbidden word (the product name, by default).
    #[error("the password must not contain {0:?}")]
    ContainsWord(String),
    /// It is in the breached-password corpus.
    #[error("this password appears in a breached-password corpus ({0} times); choose another")]
    Breached(u64),
    /// The corpus or range service could not be read, and the policy fails closed.
    #[error("cannot check the password against breached passwords: {0}")]
    Unavailable(String),
}

/// Fetches the body of `GET <base>/range/<prefix>` (5 upper-case hex digits), within a
/// deadline and a size cap, for [`Policy::check`].
pub trait RangeSource {
    /// The `SUFFIX:COUNT` lines for `prefix`, or why they could not be fetched.
    fn range(&self, prefix: &str) -> Result<String, String>;
}

/// Where breached passwords are looked up locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corpus {
    /// One sorted `HASH:COUNT` file.
    Sorted(PathBuf),
    /// A directory of range files.
    Ranges(PathBuf),
}

impl Corpus {
    /// A directory is a range corpus, anything else a sorted file.
    pub fn at(path: &Path) -> Corpus {
        if path.is_dir() {
            Corpus::Ranges(path.to_owned())
        } else {
            Corpus::Sorted(path.to_owned())
        }
    }

    /// How often the password with SHA-1 `hash` (40 upper-case hex digits) was seen;
    /// `None` when absent.
    pub fn count(&self, hash: &str) -> std::io::Result<Option<u64>> {
        match self {
            Corpus::Sorted(file) => search_sorted(file, hash),
            Corpus::Ranges(dir) => {
                let (prefix, suffix) = hash.split_at(5);
                for name in [prefix.to_owned(), format!("{prefix}.txt")] {
                    match read_capped(&dir.join(name)) {
                        Ok(text) => return Ok(range_count(&text, suffix)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(None)
            }
        }
    }
}

/// The rules a new password must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Fewest characters.
    pub min_length: usize,
    /// Words refused inside a password (compared lower-case).
    pub words: Vec<String>,
    /// The local corpus, if any.
    pub corpus: Option<Corpus>,
    /// Base URL of a range service, if any (fetched through the caller's [`RangeSource`]).
    pub range_api: Option<String>,
    /// Roots (PEM) for an https range service.
    pub range_ca: Option<PathBuf>,
    /// Deadline of one range request.
    pub range_timeout: Duration,
    /// Accept the password when the range service cannot be asked. Default false: a
    /// password set while the check is down is never checked again.
    pub fail_open: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_length: DEFAULT_MIN_LENGTH,
            words: vec!["rampart".to_owned()],
            corpus: None,
            range_api: None,
            range_ca: None,
            range_timeout: Duration::from_secs(5),
            fail_open: false,
        }
    }
}

/// `[passwords]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Fewest characters.
    pub min_length: Option<usize>,
    /// Refused words.
    pub words: Option<Vec<String>>,
    /// Sorted file or range directory.
    pub breached_corpus: Option<PathBuf>,
    /// Range service base URL.
    pub range_api: Option<String>,
    /// Roots for an https range service.
    pub range_ca: Option<PathBuf>,
    /// Range request deadline.
    pub range_timeout: Option<String>,
    /// Accept when the range service is down.
    pub fail_open: Option<bool>,
}

impl Policy {
    /// Validates `[passwords]`, resolving the corpus path against `base`.
    pub fn validate(raw: &RawPolicy, base: &Path, p: &mut Problems) -> Option<Policy> {
        let defaults = Policy::default();
        let mut ok = true;
        let min_length = raw.min_length.unwrap_or(defaults.min_length);
        if !(8..=128).contains(&min_length) {
            p.push("passwords.min_length", "must be between 8 and 128");
            ok = false;
        }
        let range_timeout = p.duration_or(
            "passwords.range_timeout",
            raw.range_timeout.as_ref(),
            defaults.range_timeout,
        );
        if range_timeout.is_zero() || range_timeout > Duration::from_secs(60) {
            p.push(
                "passwords.range_timeout",
                "must be more than 0s and at most 60s",
            );
            ok = false;
        }
        if let Some(url) = &raw.range_api
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            p.push("passwords.range_api", "must be an http:// or https:// URL");
            ok = false;
        }
        let corpus = raw.breached_corpus.as_ref().map(|f| resolve(base, f));
        if let Some(path) = &corpus
            && !path.exists()
        {
            p.push(
                "passwords.breached_corpus",
                format!("{} does not exist", path.display()),
            );
            ok = false;
        }
        ok.then(|| Policy {
            min_length,
            words: raw
                .words
                .clone()
                .unwrap_or(defaults.words)
                .into_iter()
                .map(|w| w.to_lowercase())
                .filter(|w| !w.is_empty())
                .collect(),
            corpus: corpus.map(|c| Corpus::at(&c)),
            range_api: raw.range_api.clone(),
            range_ca: raw.range_ca.as_ref().map(|f| resolve(base, f)),
            range_timeout,
            fail_open: raw.fail_open.unwrap_or(false),
        })
    }

    /// Checks `password` for `user`: length and context first (no I/O), then the corpus,
    /// then the range service through `range` (when both it and `range_api` are set).
    pub fn check(
        &self,
        user: &str,
        password: &str,
        range: Option<&dyn RangeSource>,
    ) -> Result<(), Refusal> {
        self.check_context(user, password)?;
        let hash = sha1_hex(password);
        if let Some(corpus) = &self.corpus {
            match corpus.count(&hash) {
                Ok(Some(n)) => return Err(Refusal::Breached(n)),
                Ok(None) => {}
                // A configured local corpus that cannot be read always fails closed.
                Err(e) => return Err(Refusal::Unavailable(format!("corpus: {e}"))),
            }
        }
        if let (Some(_), Some(range)) = (&self.range_api, range) {
            let (prefix, suffix) = hash.split_at(5);
            match range.range(prefix) {
                Ok(text) => {
                    if let Some(n) = range_count(&text, suffix) {
                        return Err(Refusal::Breached(n));
                    }
                }
                Err(_) if self.fail_open => {}
                Err(e) => return Err(Refusal::Unavailable(e)),
            }
        }
        Ok(())
    }

    /// The rules that need no corpus.
    pub fn check_context(&self, user: &str, password: &str) -> Result<(), Refusal> {
        if password.len() > MAX_LENGTH {
            return Err(Refusal::TooLong);
        }
        if password.chars().count() < self.min_length {
            return Err(Refusal::TooShort(self.min_length));
        }
        let lower = password.to_lowercase();
        let user = user.to_lowercase();
        if !user.is_empty() {
            if lower.contains(&user) {
                return Err(Refusal::ContainsUser);
            }
            if lower == user.chars().rev().collect::<String>() {
                return Err(Refusal::ReversedUser);
            }
        }
        if let Some(word) = self.words.iter().find(|w| lower.contains(w.as_str())) {
            return Err(Refusal::ContainsWord(word.clone()));
        }
        Ok(())
    }
}

/// Upper-case hex SHA-1 of `password`, as the corpus stores it.
pub fn sha1_hex(password: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

fn read_capped(path: &Path) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(MAX_RANGE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_RANGE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {MAX_RANGE_BYTES} bytes", path.display()),
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The count of `suffix` (35 hex digits) in a range answer; `:0` padding lines and
/// malformed lines never match.
pub fn range_count(text: &str, suffix: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (s, count) = line.trim_end_matches('\r').trim().split_once(':')?;
        if s.len() != 35 || !s.eq_ignore_ascii_case(suffix) {
            return None;
        }
        match count.trim().parse::<u64>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            // A matching hash with a broken count is still a breached password.
            Err(_) => Some(1),
        }
    })
}

/// One line of a sorted file: where it starts, where the next starts, its key (the part
/// before `:`, upper-cased) and its count.
struct Line {
    start: u64,
    next: u64,
    key: Vec<u8>,
    count: Option<u64>,
}

/// Reads the first line starting at or after `pos`.
fn line_from(reader: &mut BufReader<File>, pos: u64, len: u64) -> std::io::Result<Option<Line>> {
    let mut start = pos;
    if pos > 0 {
        // Skip the rest of the line `pos` falls in (pos may be a line start itself).
        reader.seek(SeekFrom::Start(pos - 1))?;
        let mut skipped = Vec::new();
        let n = reader
            .by_ref()
            .take(64 * 1024)
            .read_until(b'\n', &mut skipped)?;
        if n == 0 || skipped.last() != Some(&b'\n') {
            if n as u64 >= 64 * 1024 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a HASH:COUNT file (a line longer than 64 KiB)",
                ));
            }
            return Ok(None);
        }
        start = pos - 1 + n as u64;
    } else {
        reader.seek(SeekFrom::Start(0))?;
    }
    if start >= len {
        return Ok(None);
    }
    let mut raw = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut raw)?;
    let mut next = start + n as u64;
    if raw.last() != Some(&b'\n') && next < len {
        // Over-long line: skip to its end; it is malformed and never matches.
        let mut rest = Vec::new();
        next += reader
            .by_ref()
            .take(64 * 1024)
            .read_until(b'\n', &mut rest)? as u64;
        raw.clear();
    }
    let text = String::from_utf8_lossy(&raw);
    let text = text.trim_end_matches(['\n', '\r']);
    let (key, count) = match text.split_once(':') {
        Some((k, c)) => (k, c.trim().parse().ok()),
        None => (text, None),
    };
    Ok(Some(Line {
        start,
        next,
        key: key.trim().to_ascii_uppercase().into_bytes(),
        count,
    }))
}

/// Binary search of a sorted `HASH:COUNT` file by byte offset.
fn search_sorted(file: &Path, hash: &str) -> std::io::Result<Option<u64>> {
    let handle = File::open(file)?;
    let len = handle.metadata()?.len();
    let mut reader = BufReader::with_capacity(4096, handle);
    let target = hash.to_ascii_uppercase().into_bytes();
    // Invariant: the target's line, if present, starts in [lo, hi).
    let (mut lo, mut hi) = (0u64, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let Some(line) = line_from(&mut reader, mid, len)? else {
            hi = mid;
            continue;
        };
        if line.start >= hi {
            hi = mid;
            continue;
        }
        match line.key.as_slice().cmp(target.as_slice()) {
            std::cmp::Ordering::Equal => return Ok(Some(line.count.unwrap_or(1).max(1))),
            std::cmp::Ordering::Less => lo = line.next,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    Ok(None)
}

#[cfg(test)]
#[path = "breached_tests.rs"]
mod tests;
