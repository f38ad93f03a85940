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
    /// A private key does not belong to the certificate it is configured with.
    #[error("{}: does not match the certificate {}: {reason}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls found.
        reason: String,
    },
    /// A non-default certificate answers for no name: none configured, no DNS SAN.
    #[error("{}: no server_names configured and no DNS name in the certificate", .0.display())]
    NoServerNames(PathBuf),
    /// A server name is not a DNS name or `*.` followed by one with two labels or more.
    #[error("{0:?} is not a DNS name or a wildcard such as *.example.com")]
    BadServerName(String),
    /// A principal rule is not one of the known ones.
    #[error("{0:?} is not a principal rule (san_uri, san_dns, san_email, subject_cn)")]
    BadPrincipalRule(String),
    /// A client certificate could not be parsed after the handshake accepted it.
    #[error("client certificate is not parsable X.509")]
    BadClientCertificate,
    /// No principal rule yields a usable value for a client certificate.
    #[error("no principal rule yields a value for the client certificate")]
    NoPrincipal,
    /// Development PKI generation failed.
    #[cfg(feature = "pki")]
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}
