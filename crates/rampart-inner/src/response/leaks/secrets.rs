//! Secret patterns: built-in ones chosen by name, plus the operator's own regexes.

use regex::bytes::{Regex, RegexSet};

/// Built-in secret patterns by name. `jwt` is not on by default: login routes hand
/// tokens out on purpose.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    ("aws-access-key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    // The whole PEM block when its end is there, else the header.
    (
        "private-key",
        r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:[A-Za-z0-9+/=\s\\:,-]*?-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?",
    ),
    ("github-token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
    ("slack-token", r"\bxox[abpors]-[A-Za-z0-9-]{10,250}"),
    ("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
    ),
];

/// Built-ins on when a route names none.
pub(crate) const DEFAULT: &[&str] = &[
    "aws-access-key",
    "private-key",
    "github-token",
    "slack-token",
    "google-api-key",
];

/// A route's compiled secret patterns.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    /// Rule names (`secret:aws-access-key`, `secret:pattern-0`), by pattern index.
    names: Vec<String>,
    set: RegexSet,
    each: Vec<Regex>,
}

/// Longest operator pattern, and the compiled size each may take.
const MAX_PATTERN_BYTES: usize = 1024;
const MAX_REGEX_BYTES: usize = 1 << 20;

impl Secrets {
    /// Compiles the named built-ins and `patterns`; errors name the index that failed.
    pub(crate) fn new(builtin: &[String], patterns: &[String]) -> Result<Self, (String, String)> {
        let mut names = Vec::new();
        let mut sources = Vec::new();
        for (i, name) in builtin.iter().enumerate() {
            let Some((_, source)) = BUILTIN.iter().find(|(n, _)| n == name) else {
                let known: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                return Err((
                    format!("secrets[{i}]"),
                    format!("{name:?} is not one of {}", known.join(", ")),
                ));
            };
            names.push(format!("secret:{name}"));
            sources.push((*source).to_owned());
        }
        for (i, source) in patterns.iter().enumerate() {
            let key = format!("secret_patterns[{i}]");
            if source.len() > MAX_PATTERN_BYTES {
                return Err((key, format!("longer than {MAX_PATTERN_BYTES} bytes")));
            }
            if let Err(e) = build(source) {
                return Err((key, e.to_string()));
            }
            names.push(format!("secret:pattern-{i}"));
            sources.push(source.clone());
        }
        let set = regex::bytes::RegexSetBuilder::new(&sources)
            .size_limit(MAX_REGEX_BYTES * sources.len().max(1))
            .build()
            .map_err(|e| ("secret_patterns".to_owned(), e.to_string()))?;
        let each = sources
            .iter()
            .map(|s| build(s))
            .collect::<Result<_, _>>()
            .map_err(|e| ("secret_patterns".to_owned(), e.to_string()))?;
        Ok(Self { names, set, each })
    }

    /// Every match of every pattern: `(rule, range)`, at most `cap` of them.
    pub(crate) fn find(&self, text: &[u8], cap: usize) -> Vec<(&str, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        for i in self.set.matches(text).iter() {
            for m in self.each[i].find_iter(text) {
                if out.len() >= cap {
                    return out;
                }
                out.push((self.names[i].as_str(), m.range()));
            }
        }
        out
    }
}

fn build(source: &str) -> Result<Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(source)
        .size_limit(MAX_REGEX_BYTES)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(secrets: &Secrets, text: &str) -> Vec<String> {
        secrets
            .find(text.as_bytes(), 16)
            .into_iter()
            .map(|(r, range)| format!("{r}={}", &text[range]))
            .collect()
    }

    #[test]
    fn finds_configured_secrets_and_not_look_alikes() {
        let all: Vec<String> = BUILTIN.iter().map(|(n, _)| (*n).to_owned()).collect();
        let s = Secrets::new(&all, &["\\bacme_live_[0-9a-f]{24}\\b".to_owned()]).unwrap();
        let pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEow==\\n-----END RSA PRIVATE KEY-----";
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let cases = [
            (
                "key=AKIAIOSFODNN7EXAMPLE".to_owned(),
                vec!["secret:aws-access-key=AKIAIOSFODNN7EXAMPLE".to_owned()],
            ),
            (
                format!(r#"{{"key":"{pem}"}}"#),
                vec![format!("secret:private-key={pem}")],
            ),
            (
                "-----BEGIN PRIVATE KEY-----\n(truncated)".to_owned(),
                vec!["secret:private-key=-----BEGIN PRIVATE KEY-----".to_owned()],
            ),
            (format!("token {jwt}"), vec![format!("secret:jwt={jwt}")]),
            (
                "acme_live_0123456789abcdef01234567".to_owned(),
                vec!["secret:pattern-0=acme_live_0123456789abcdef01234567".to_owned()],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(rules(&s, &text), expected, "{text}");
        }
        let legitimate = [
            "AKIA is a prefix; AKIAshort",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----",
            "eyJhbGciOiJIUzI1NiJ9 alone is a header",
            "acme_live_tooshort",
        ];
        for text in legitimate {
            assert_eq!(rules(&s, text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn unknown_names_and_broken_patterns_are_refused_with_their_index() {
        let err = Secrets::new(&["aws-access-key".into(), "ssh".into()], &[]).unwrap_err();
        assert_eq!(err.0, "secrets[1]");
        let err = Secrets::new(&[], &["ok".into(), "(unclosed".into()]).unwrap_err();
        assert_eq!(err.0, "secret_patterns[1]");
    }
}
