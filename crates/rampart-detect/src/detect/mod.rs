//! Detectors: pure functions from a decoded value to the fragment that looks like an
//! attack. Each knows the grammar of its attack class well enough to tell an injection
//! shape from prose that shares its words.

mod cmdi;
mod cmdi_words;
mod crlf;
mod graphql;
mod jndi;
mod jwt;
mod schema;
mod serialized;
mod sqli;
mod ssrf;
#[cfg(test)]
mod tests;
mod traversal;
mod xss;

use crate::fastpath::Needs;
use crate::field::FieldKind;

/// A built-in detector a rule can name (`detector = "sqli"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Detector {
    /// SQL injection shapes from a tokenizer (`sqli`).
    Sqli,
    /// HTML/JS injection: dangerous tags, handlers, `javascript:` URLs, JS breakouts (`xss`).
    Xss,
    /// Shell command injection after a separator or in a substitution (`cmdi`).
    Cmdi,
    /// `..` path segments, with backslash and dot-run evasions (`traversal`).
    Traversal,
    /// A hidden (dot) file or directory segment in the URL path, public ones aside
    /// (`hidden-path`).
    HiddenPath,
    /// log4j lookups, including nested-lookup obfuscation (`jndi`).
    Jndi,
    /// CR/LF followed by a well-known header name or a status line (`crlf`).
    Crlf,
    /// CR/LF followed by any `Name:` (`crlf-any`).
    CrlfAny,
    /// URLs pointing at loopback, private, link-local or cloud metadata hosts (`ssrf`).
    Ssrf,
    /// A JWT whose header names a key URL (`jku`, `x5u`) off its issuer's site
    /// (`jwt-key-url`).
    JwtKeyUrl,
    /// A gzip stream in base64 that inflates to a Java serialized object
    /// (`gzip-serialized`).
    GzipSerialized,
    /// A schema or include reference that makes an XML parser fetch from a host a caller
    /// chose (`schema-location`).
    SchemaLocation,
    /// One mutation field called many times under aliases in one GraphQL document
    /// (`graphql-batching`).
    GraphqlBatching,
    /// A [`Detector::SchemaLocation`] fetch in a `schemaLocation` attribute of XML text
    /// held in one value (`schema-location-in-text`).
    SchemaLocationInText,
}

impl Detector {
    const ALL: [Detector; 14] = [
        Detector::Sqli,
        Detector::Xss,
        Detector::Cmdi,
        Detector::Traversal,
        Detector::HiddenPath,
        Detector::Jndi,
        Detector::Crlf,
        Detector::CrlfAny,
        Detector::Ssrf,
        Detector::JwtKeyUrl,
        Detector::GzipSerialized,
        Detector::SchemaLocation,
        Detector::GraphqlBatching,
        Detector::SchemaLocationInText,
    ];

    /// The name used in rule files.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Sqli => "sqli",
            Detector::Xss => "xss",
            Detector::Cmdi => "cmdi",
            Detector::Traversal => "traversal",
            Detector::HiddenPath => "hidden-path",
            Detector::Jndi => "jndi",
            Detector::Crlf => "crlf",
            Detector::CrlfAny => "crlf-any",
            Detector::Ssrf => "ssrf",
            Detector::JwtKeyUrl => "jwt-key-url",
            Detector::GzipSerialized => "gzip-serialized",
            Detector::SchemaLocation => "schema-location",
            Detector::GraphqlBatching => "graphql-batching",
            Detector::SchemaLocationInText => "schema-location-in-text",
        }
    }

    /// Looks a detector up by its rule-file name.
    pub fn from_name(name: &str) -> Option<Detector> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// What a value must contain for [`Detector::detect`] to possibly fire (its gate): the
    /// engine skips the detector when none of it occurs. Widen it with the detector's gate;
    /// `fastpath` tests check it against random values and every attack in `tests.rs`.
    pub(crate) fn needs(self) -> Needs {
        let (bytes, non_ascii, atoms): (&[u8], bool, &[&str]) = match self {
            Detector::Sqli => (b"'\"`;(=<>#", false, &["--", "/*", "union", "true", "null"]),
            Detector::Xss => (b"<:='\"`", false, &[]),
            // The reconnaissance tools: a lone one split off by a raw `&` ([`cmdi::detect`]).
            Detector::Cmdi => (b";|&`$\n/-({[<>'\"\\", false, cmdi::RECON_NAMES),
            Detector::Traversal => (b"", true, &["..", "0x2e", "0x2f", "0x5c"]),
            Detector::HiddenPath => (b".", false, &[]),
            Detector::Jndi => (b"", false, &["${"]),
            // Every JWT header is a JSON object: base64 `eyJ`.
            Detector::JwtKeyUrl => (b"", false, &["eyj"]),
            // The base64 of gzip's magic and method bytes.
            Detector::GzipSerialized => (b"", false, &["h4si"]),
            Detector::SchemaLocation => (
                b"",
                false,
                &[
                    "//", "\\\\", "file:", "jar:", "php:", "expect:", "gopher:", "netdoc:",
                    "data:", "ftp:", "dict:", "ldap:",
                ],
            ),
            Detector::GraphqlBatching => (b"", false, &["mutation"]),
            Detector::SchemaLocationInText => (b"", false, &["schemalocation"]),
            Detector::Crlf | Detector::CrlfAny => (b"\r\n", true, &[]),
            Detector::Ssrf => (
                b"",
                false,
                &[
                    "://",
                    "http:",
                    "https:",
                    "ftp:",
                    "ws:",
                    "wss:",
                    "localhost",
                    "localdomain",
                    "internal",
                    "localtest.me",
                    "lvh.me",
                    "localh.st",
                    "vcap.me",
                    "ip6-",
                    "ipv6-",
                    "metadata",
                    "cluster.local",
                    "instance-data",
                    "kubernetes",
                    // A bare metadata address ([`ssrf::detect`]'s `bare_hosts`): dotted,
                    // in brackets (`[::ffff:a9fe:a9fe]`, `[fe80::1]`) or in hex.
                    "169.254",
                    "[",
                    "0x",
                ],
            ),
        };
        Needs {
            bytes,
            non_ascii,
            atoms,
        }
    }

    /// Runs the detector; returns the matching fragment.
    pub fn detect(self, text: &str, kind: FieldKind) -> Option<String> {
        let slice = |r: std::ops::Range<usize>| {
            text.as_bytes()
                .get(r)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        match self {
            Detector::Sqli => sqli::detect(text).and_then(slice),
            Detector::Xss => xss::detect(text).and_then(slice),
            Detector::Cmdi => cmdi::detect(text),
            Detector::Traversal => traversal::detect(text, kind == FieldKind::Path).and_then(slice),
            Detector::HiddenPath => traversal::hidden_segment(text).and_then(slice),
            Detector::Jndi => jndi::detect(text),
            Detector::JwtKeyUrl => jwt::detect(text),
            Detector::GzipSerialized => serialized::gzip_java(text),
            Detector::SchemaLocation => schema::detect(text),
            Detector::GraphqlBatching => graphql::detect(text),
            Detector::SchemaLocationInText => schema::detect_in_text(text),
            Detector::Crlf => crlf::detect(text, false).and_then(slice),
            Detector::CrlfAny => crlf::detect(text, true).and_then(slice),
            Detector::Ssrf => ssrf::detect(
                text,
                matches!(
                    kind,
                    FieldKind::QueryValue | FieldKind::BodyValue | FieldKind::CookieValue
                ),
            )
            .or_else(|| {
                (kind == FieldKind::Path)
                    .then(|| ssrf::in_path(text))
                    .flatten()
            })
            .and_then(slice),
        }
    }
}

/// Calls `f` with `s` ASCII-lowercased, copied to the stack when short: detectors run on
/// most values, and an allocation per call cost more than their scan.
pub(crate) fn with_lowercase<R>(s: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 512];
    match buf.get_mut(..s.len()) {
        Some(lower) => {
            lower.copy_from_slice(s);
            lower.make_ascii_lowercase();
            f(lower)
        }
        None => f(&s.to_ascii_lowercase()),
    }
}

/// The first occurrence of a short `needle` (a few bytes) in `hay`: `memmem::find` builds
/// a searcher per call, which costs more than these values take to scan.
pub(crate) fn find_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memchr_iter(first, hay).find(|&i| hay.get(i + 1..i + needle.len()) == Some(rest))
}

/// Whether `b` can continue an identifier (used for word-boundary checks).
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
