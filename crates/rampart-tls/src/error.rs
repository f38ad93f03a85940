use std::path::PathBuf;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        what: String,
    },
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(String),
    /// A link server must allow at least one client identity.
    #[error("no allowed client identities configured")]
    NoAllowedIdentities,
    /// An identity pattern is not a DNS name or URI.
    #[error("{0:?} is not a DNS name or a URI")]
    BadIdentity(String),
    /// Development PKI generation failed.
    #[cfg(feature = "pki")]
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}
