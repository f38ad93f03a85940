//! Why a public handshake failed, in the few causes an operator acts on.

use std::sync::atomic::{AtomicU64, Ordering};

use rustls::{CertificateError, PeerIncompatible};

/// The cause of a failed handshake, as counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeFailure {
    /// The client's certificate does not chain to a configured CA (no issuer of that
    /// name, or one of that name that did not sign it).
    UnknownCa,
    /// The client's certificate is revoked by a configured CRL.
    Revoked,
    /// The client's certificate is expired.
    Expired,
    /// No cipher suite in common with the client.
    NoSharedCipher,
    /// No protocol version in common with the client (e.g. TLS 1.0 only).
    ProtocolVersion,
    /// The handshake did not finish within its deadline.
    Timeout,
    /// Anything else (malformed messages, the client hanging up, ...).
    Other,
}

impl HandshakeFailure {
    /// Every cause, in the order metrics print them.
    pub const ALL: [HandshakeFailure; 7] = [
        Self::UnknownCa,
        Self::Revoked,
        Self::Expired,
        Self::NoSharedCipher,
        Self::ProtocolVersion,
        Self::Timeout,
        Self::Other,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownCa => "unknown_ca",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::NoSharedCipher => "no_shared_cipher",
            Self::ProtocolVersion => "protocol_version",
            Self::Timeout => "timeout",
            Self::Other => "other",
        }
    }

    /// The cause of a rustls error.
    pub fn of_rustls(error: &rustls::Error) -> Self {
        match error {
            rustls::Error::InvalidCertificate(e) => match e {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => Self::UnknownCa,
                CertificateError::Revoked => Self::Revoked,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Self::Expired
                }
                _ => Self::Other,
            },
            rustls::Error::PeerIncompatible(e) => match e {
                PeerIncompatible::NoCipherSuitesInCommon => Self::NoSharedCipher,
                PeerIncompatible::Tls12NotOffered
                | PeerIncompatible::Tls12NotOfferedOrEnabled
                | PeerIncompatible::ServerDoesNotSupportTls12Or13
                | PeerIncompatible::SupportedVersionsExtensionRequired => Self::ProtocolVersion,
                _ => Self::Other,
            },
            _ => Self::Other,
        }
    }

    /// The cause of a failed accept; tokio-rustls wraps the rustls error in an I/O error.
    pub fn of_io(error: &std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::TimedOut {
            return Self::Timeout;
        }
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map_or(Self::Other, Self::of_rustls)
    }
}

/// Failed handshakes counted by cause.
#[derive(Debug, Default)]
pub struct HandshakeFailures {
    counts: [AtomicU64; 7],
}

impl HandshakeFailures {
    fn index(cause: HandshakeFailure) -> usize {
        HandshakeFailure::ALL
            .iter()
            .position(|c| *c == cause)
            .unwrap_or(HandshakeFailure::ALL.len() - 1)
    }

    /// Counts one failure.
    pub fn record(&self, cause: HandshakeFailure) {
        self.counts[Self::index(cause)].fetch_add(1, Ordering::Relaxed);
    }

    /// Failures so far with `cause`.
    pub fn count(&self, cause: HandshakeFailure) -> u64 {
        self.counts[Self::index(cause)].load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_rustls_errors_by_cause() {
        let table = [
            (
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                HandshakeFailure::UnknownCa,
            ),
            // A certificate naming a configured CA that did not sign it.
            (
                rustls::Error::InvalidCertificate(CertificateError::BadSignature),
                HandshakeFailure::UnknownCa,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Revoked),
                HandshakeFailure::Revoked,
            ),
            (
                rustls::Error::InvalidCertificate(CertificateError::Expired),
                HandshakeFailure::Expired,
            ),
            // Not yet valid is not "expired".
            (
                rustls::Error::InvalidCertificate(CertificateError::NotValidYet),
                HandshakeFailure::Other,
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
                HandshakeFailure::NoSharedCipher,
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::Tls12NotOffered),
                HandshakeFailure::ProtocolVersion,
            ),
            (
                rustls::Error::PeerIncompatible(PeerIncompatible::NoKxGroupsInCommon),
                HandshakeFailure::Other,
            ),
            (rustls::Error::General("x".into()), HandshakeFailure::Other),
        ];
        for (error, want) in table {
            assert_eq!(HandshakeFailure::of_rustls(&error), want, "{error:?}");
            let wrapped = std::io::Error::new(std::io::ErrorKind::InvalidData, error);
            assert_eq!(HandshakeFailure::of_io(&wrapped), want);
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(HandshakeFailure::of_io(&reset), HandshakeFailure::Other);
    }

    #[test]
    fn counts_each_cause_separately() {
        let failures = HandshakeFailures::default();
        failures.record(HandshakeFailure::Revoked);
        failures.record(HandshakeFailure::Revoked);
        failures.record(HandshakeFailure::Other);
        assert_eq!(failures.count(HandshakeFailure::Revoked), 2);
        assert_eq!(failures.count(HandshakeFailure::Other), 1);
        assert_eq!(failures.count(HandshakeFailure::UnknownCa), 0);
    }
}
