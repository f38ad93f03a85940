//! Revoked or leaked credentials.
//!
//! ```text
//! # one entry per line; `#` starts a comment
//! sha256:5f2b...c9   # SHA-256 of an API key or of a whole bearer token
//! jti:8d6c1e0a-...   # a JWT id
//! ```
//!
//! Secrets are listed by hash so the file itself leaks nothing. Wrap it in
//! [`crate::watch::Watched`] to reload it when it changes, keeping the last good list.

use std::collections::HashSet;
use std::path::Path;

use rampart_core::config::{ConfigError, Problems};

use crate::digest::{parse_sha256, sha256};
use crate::watch::FromFile;

/// Longest JWT id accepted in the file.
pub const MAX_JTI_LEN: usize = 256;

/// Most line problems reported per file: enough to fix a file, bounded for garbage.
const MAX_LINE_PROBLEMS: usize = 20;

/// A loaded deny list.
#[derive(Debug, Clone, Default)]
pub struct DenyList {
    secrets: HashSet<[u8; 32]>,
    jtis: HashSet<String>,
}

impl DenyList {
    /// True when the SHA-256 of `secret` (an API key, a whole bearer token) is listed.
    pub fn contains_secret(&self, secret: &[u8]) -> bool {
        self.secrets.contains(&sha256(secret))
    }

    /// True when the JWT id is listed.
    pub fn contains_jti(&self, jti: &str) -> bool {
        self.jtis.contains(jti)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.secrets.len() + self.jtis.len()
    }

    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FromFile for DenyList {
    const MAX_BYTES: u64 = 16 * 1024 * 1024;

    fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let mut list = DenyList::default();
        let mut p = Problems::default();
        let mut bad = 0usize;
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let outcome = if let Some(jti) = entry.strip_prefix("jti:") {
                check_jti(jti).map(|()| {
                    list.jtis.insert(jti.to_owned());
                })
            } else {
                parse_sha256(entry).map(|h| {
                    list.secrets.insert(h);
                })
            };
            if let Err(message) = outcome {
                bad += 1;
                if bad <= MAX_LINE_PROBLEMS {
                    p.push(format!("line {}", i + 1), message);
                }
            }
        }
        p.finish(file, Some(list))
    }
}

fn check_jti(jti: &str) -> Result<(), &'static str> {
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err("a jti must be 1 to 256 bytes");
    }
    if jti.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a jti must not contain spaces or control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::digest::hex;
    use crate::watch::{Reload, Watched};

    fn entry_for(secret: &[u8]) -> String {
        format!("sha256:{}", hex(&sha256(secret)))
    }

    #[test]
    fn lists_secrets_by_hash_and_jwt_ids() {
        let text = format!(
            "# revoked\n{}  # partner-a leaked it\n\njti:abc-123\n",
            entry_for(b"rk_leaked")
        );
        let list = DenyList::parse(Path::new("deny"), &text).unwrap();
        assert!(list.contains_secret(b"rk_leaked"));
        assert!(
            !list.contains_secret(b"rk_leaked2"),
            "look-alike is not listed"
        );
        assert!(list.contains_jti("abc-123"));
        assert!(!list.contains_jti("abc-1234") && !list.contains_jti("ABC-123"));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn reports_every_bad_line_with_its_number() {
        let text = "sha256:00\njti:\nmd5:abcd\njti:ok\njti:a b\n";
        let Err(ConfigError::Invalid { problems, .. }) = DenyList::parse(Path::new("d"), text)
        else {
            panic!("bad lines accepted")
        };
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["line 1", "line 2", "line 3", "line 5"]);
    }

    #[test]
    fn reload_swaps_a_good_file_and_keeps_the_last_good_list_on_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deny.list");
        std::fs::write(&path, "jti:one\n").unwrap();
        let watched = Watched::<DenyList>::load(&path).unwrap();
        assert!(matches!(watched.reload_if_changed(), Reload::Unchanged));

        std::fs::write(&path, "jti:one\njti:two\n").unwrap();
        assert!(matches!(watched.reload_if_changed(), Reload::Reloaded));
        assert!(watched.current().contains_jti("two"));

        std::fs::write(&path, "jti:one\njti:two\nnot an entry at all\n").unwrap();
        assert!(matches!(
            watched.reload_if_changed(),
            Reload::KeepPrevious(_)
        ));
        assert!(watched.current().contains_jti("two"), "last good list kept");
        assert!(
            matches!(watched.reload_if_changed(), Reload::Unchanged),
            "a bad version is reported once"
        );

        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            watched.reload_if_changed(),
            Reload::KeepPrevious(_)
        ));
        assert!(
            watched.current().contains_jti("one"),
            "a deleted file keeps the list"
        );
    }

    #[test]
    fn refuses_to_start_without_a_valid_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing");
        assert!(matches!(
            Watched::<DenyList>::load(&path),
            Err(ConfigError::Read { .. })
        ));
        std::fs::write(&path, "jti:\n").unwrap();
        assert!(matches!(
            Watched::<DenyList>::load(&path),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
