//! Why a spec could not be loaded. Every variant names where in the document the
//! problem is (a JSON pointer), so an operator can fix the spec.

/// A spec that cannot be turned into a contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than the configured cap.
    #[error("the spec is larger than {max_bytes} bytes")]
    TooLarge {
        /// The cap.
        max_bytes: u64,
    },
    /// Neither valid JSON nor valid YAML.
    #[error("the spec is not valid JSON or YAML: {0}")]
    Syntax(String),
    /// Not an OpenAPI 3.0 or 3.1 document.
    #[error("unsupported document: {0} (OpenAPI 3.0.x and 3.1.x are supported)")]
    Version(String),
    /// A `$ref` outside the document.
    #[error("at {at}: external $ref {target:?} is not supported (only local #/... references)")]
    ExternalRef {
        /// Where the reference is.
        at: String,
        /// What it points at.
        target: String,
    },
    /// A `$ref` to nothing.
    #[error("at {at}: $ref {target:?} points at nothing")]
    DanglingRef {
        /// Where the reference is.
        at: String,
        /// What it points at.
        target: String,
    },
    /// References (or applicators) that loop without consuming input.
    #[error("at {at}: $ref cycle ({detail})")]
    RefCycle {
        /// Where the cycle was found.
        at: String,
        /// Which references form it.
        detail: String,
    },
    /// A keyword this validator refuses to ignore (it would silently accept too much).
    #[error("at {at}: unsupported keyword {keyword}")]
    Unsupported {
        /// Where.
        at: String,
        /// The keyword.
        keyword: String,
    },
    /// A `pattern` the regex engine cannot compile (ECMA-only syntax such as
    /// look-around or back-references, or too large).
    #[error("at {at}: pattern cannot be compiled: {message}")]
    Pattern {
        /// Where.
        at: String,
        /// The engine's message.
        message: String,
    },
    /// Anything else that is malformed.
    #[error("at {at}: {message}")]
    Invalid {
        /// Where.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A load limit was reached (schemas, reference hops, nesting).
    #[error("the spec exceeds the {what} limit ({limit})")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: usize,
    },
}

impl LoadError {
    pub(crate) fn invalid(at: &str, message: impl Into<String>) -> Self {
        LoadError::Invalid {
            at: at.to_owned(),
            message: message.into(),
        }
    }
}
