//! Loading and reporting configuration problems.
//!
//! Tiers parse TOML into raw structs (`deny_unknown_fields`) one top-level section at a
//! time, then validate into typed config. [`Problems`] collects every problem with its
//! key path so `--check` can print them all at once; a config with any problem is never
//! applied.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::units::{ByteSize, parse_duration};

/// One problem at one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted key path, e.g. `inner.endpoints[0]`; empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but has problems.
    #[error("{}", render(file, problems))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every problem found.
        problems: Vec<ConfigProblem>,
    },
}

fn render(file: &Path, problems: &[ConfigProblem]) -> String {
    let mut out = format!("{}: {} problem(s)", file.display(), problems.len());
    for p in problems {
        let key = if p.key.is_empty() { "(file)" } else { &p.key };
        out.push_str(&format!("\n  {}: {key}: {}", file.display(), p.message));
    }
    out
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Collects problems while validating.
#[derive(Debug, Default)]
pub struct Problems {
    list: Vec<ConfigProblem>,
}

impl Problems {
    /// Records a problem at `key`.
    pub fn push(&mut self, key: impl Into<String>, message: impl fmt::Display) {
        self.list.push(ConfigProblem {
            key: key.into(),
            message: message.to_string(),
        });
    }

    /// Parses a duration, recording a problem on failure.
    pub fn duration(&mut self, key: &str, raw: &str) -> Option<Duration> {
        parse_duration(raw)
            .map_err(|e| self.push(key, format!("{raw:?}: {e}")))
            .ok()
    }

    /// Parses a byte size, recording a problem on failure.
    pub fn size(&mut self, key: &str, raw: &str) -> Option<ByteSize> {
        raw.parse()
            .map_err(|e| self.push(key, format!("{raw:?}: {e}")))
            .ok()
    }

    /// Parses an optional duration; absent or broken values yield `default` (a broken one
    /// is recorded).
    pub fn duration_or(&mut self, key: &str, raw: Option<&String>, default: Duration) -> Duration {
        raw.and_then(|raw| self.duration(key, raw))
            .unwrap_or(default)
    }

    /// Parses an optional byte size; absent or broken values yield `default` (a broken
    /// one is recorded).
    pub fn size_or(&mut self, key: &str, raw: Option<&String>, default: ByteSize) -> ByteSize {
        raw.and_then(|raw| self.size(key, raw)).unwrap_or(default)
    }

    /// Parses an optional `IP:port`, recording a problem when it is malformed.
    pub fn socket_addr(&mut self, key: &str, raw: Option<&String>) -> Option<SocketAddr> {
        let raw = raw?;
        raw.parse()
            .map_err(|_| self.push(key, format!("{raw:?} is not an IP:port address")))
            .ok()
    }

    /// Records "is required" when `value` is absent.
    pub fn required<'a, T>(&mut self, key: &str, value: Option<&'a T>) -> Option<&'a T> {
        if value.is_none() {
            self.push(key, "is required");
        }
        value
    }

    /// Parses a required value with `parse`, recording "is required" or
    /// "`raw` is not `what`".
    pub fn required_parsed<T, E>(
        &mut self,
        key: &str,
        raw: Option<&String>,
        what: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.required(key, raw)?;
        parse(raw)
            .map_err(|_| self.push(key, format!("{raw:?} is not {what}")))
            .ok()
    }

    /// Checks every entry of a `host:port` list, recording each malformed one as
    /// `key[i]` (names are resolved later, so only the shape is checked here).
    pub fn host_ports(&mut self, key: &str, list: &[String]) {
        for (i, entry) in list.iter().enumerate() {
            let valid = entry.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !valid {
                self.push(format!("{key}[{i}]"), format!("{entry:?} is not host:port"));
            }
        }
    }

    /// Records a problem for each present key (full key paths) that has no meaning in
    /// `mode`.
    pub fn refuse_keys(&mut self, mode: &str, keys: &[(&str, bool)]) {
        for (key, present) in keys {
            if *present {
                self.push(*key, format!("is not used in {mode} mode; remove it"));
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Turns the collected problems into an error for `file`, or returns `value`.
    /// `value` is `None` only when a problem was recorded.
    pub fn finish<T>(self, file: &Path, value: Option<T>) -> Result<T, ConfigError> {
        match value {
            Some(v) if self.list.is_empty() => Ok(v),
            _ => Err(ConfigError::Invalid {
                file: file.to_owned(),
                problems: if self.list.is_empty() {
                    vec![ConfigProblem {
                        key: String::new(),
                        message: "invalid configuration".into(),
                    }]
                } else {
                    self.list
                },
            }),
        }
    }
}

/// A TOML document being taken apart section by section.
pub struct Sections {
    table: toml::Table,
}

impl Sections {
    /// Reads `file` as TOML. A syntax error is reported with its line and column.
    pub fn read(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_owned(),
            source,
        })?;
        Self::parse(file, &text)
    }

    /// Parses `text` (the contents of `file`) as TOML.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        text.parse::<toml::Table>()
            .map(|table| Self { table })
            .map_err(|e| {
                let mut problems = Problems::default();
                let at = e.span().map(|span| line_col(text, span.start));
                let message = match at {
                    Some((line, col)) => format!("line {line}, column {col}: {}", e.message()),
                    None => e.message().to_owned(),
                };
                problems.push("", message);
                ConfigError::Invalid {
                    file: file.to_owned(),
                    problems: problems.list,
                }
            })
    }

    /// Takes section `name` (absent -> `T::default()`); a structural problem inside it is
    /// recorded with its full key path and yields `None`.
    pub fn take<T: DeserializeOwned + Default>(
        &mut self,
        name: &str,
        problems: &mut Problems,
    ) -> Option<T> {
        match self.table.remove(name) {
            None => Some(T::default()),
            Some(value) => match serde_path_to_error::deserialize::<_, T>(value) {
                Ok(v) => Some(v),
                Err(e) => {
                    let path = e.path().to_string();
                    let key = if path == "." {
                        name.to_owned()
                    } else {
                        format!("{name}.{path}")
                    };
                    problems.push(key, e.into_inner().message());
                    None
                }
            },
        }
    }

    /// Records every section that no one took as unknown.
    pub fn finish(self, problems: &mut Problems) {
        for key in self.table.keys() {
            problems.push(key.clone(), "unknown section or key");
        }
    }
}

/// Resolves a path from a config file against the file's directory.
pub fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Server {
        #[allow(dead_code)] // only its type matters: a number must be refused
        listen: Option<String>,
        timeout: Option<String>,
    }

    fn problems_of(text: &str) -> Vec<String> {
        let file = Path::new("edge.toml");
        let mut problems = Problems::default();
        let mut sections = match Sections::parse(file, text) {
            Ok(s) => s,
            Err(ConfigError::Invalid { problems, .. }) => {
                return problems.iter().map(ToString::to_string).collect();
            }
            Err(e) => panic!("{e}"),
        };
        let a: Option<Server> = sections.take("a", &mut problems);
        let b: Option<Server> = sections.take("b", &mut problems);
        sections.finish(&mut problems);
        if let Some(Server {
            timeout: Some(t), ..
        }) = a
        {
            problems.duration("a.timeout", &t);
        }
        drop(b);
        problems.list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reports_every_problem_with_its_key_path() {
        let found = problems_of("[a]\nlisten = 1\n[b]\nlisten = \"x\"\nextra = true\n[c]\n");
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("a.listen: invalid type"), "{found:?}");
        assert!(
            found[1].starts_with("b: unknown field `extra`") || found[1].starts_with("b.extra"),
            "{found:?}"
        );
        assert_eq!(found[2], "c: unknown section or key");
    }

    #[test]
    fn reports_semantic_problems_after_structure() {
        let found = problems_of("[a]\ntimeout = \"30\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("a.timeout: \"30\""), "{found:?}");
    }

    #[test]
    fn reports_syntax_errors_with_line_and_column() {
        let found = problems_of("[a]\nlisten = \n");
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("line 2"), "{found:?}");
    }

    #[test]
    fn host_port_lists_name_each_bad_entry_by_index() {
        let mut p = Problems::default();
        let list: Vec<String> = [
            "inner:7443",
            "[::1]:443",
            "inner",
            ":80",
            "inner:0",
            "inner:x",
        ]
        .map(String::from)
        .to_vec();
        p.host_ports("link.edges", &list);
        let keys: Vec<&str> = p.list.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "link.edges[2]",
                "link.edges[3]",
                "link.edges[4]",
                "link.edges[5]"
            ]
        );
    }

    #[test]
    fn keys_of_the_other_mode_are_refused_by_full_path() {
        let mut p = Problems::default();
        p.refuse_keys(
            "inner-dials",
            &[("inner.endpoints", true), ("inner.ca", false)],
        );
        assert_eq!(p.list.len(), 1);
        assert_eq!(p.list[0].key, "inner.endpoints");
        assert!(p.list[0].message.contains("inner-dials"));
    }

    #[test]
    fn a_required_parsed_value_is_missing_malformed_or_taken() {
        let parse = |s: &str| s.parse::<u16>();
        let mut p = Problems::default();
        assert_eq!(p.required_parsed("a", None, "a port", parse), None);
        let bad = "x1".to_owned();
        assert_eq!(p.required_parsed("b", Some(&bad), "a port", parse), None);
        let good = "443".to_owned();
        assert_eq!(
            p.required_parsed("c", Some(&good), "a port", parse),
            Some(443)
        );
        let got: Vec<String> = p.list.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].contains("is required"), "{got:?}");
        assert!(got[1].contains("\"x1\" is not a port"), "{got:?}");
    }
}
