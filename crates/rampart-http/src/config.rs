//! Configuration problems, reported all at once with their key paths.

/// A configuration value that was refused while building a validated config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// One or more keys hold values out of range or unparsable; each entry is
    /// `key: problem`.
    #[error("invalid configuration: {}", problems.join("; "))]
    Invalid {
        /// Every problem found, with its key path.
        problems: Vec<String>,
    },
}

/// Collects problems so a config reports every bad key, not just the first.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<String>);

impl Problems {
    /// Records `key: message` unless `ok`.
    pub(crate) fn check(&mut self, ok: bool, key: &str, message: impl std::fmt::Display) {
        if !ok {
            self.0.push(format!("{key}: {message}"));
        }
    }

    /// Records `key: message`.
    pub(crate) fn push(&mut self, key: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{key}: {message}"));
    }

    /// `Ok(value)` when nothing was recorded.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError::Invalid { problems: self.0 })
        }
    }
}
