//! Why a QUIC handshake failed, in the causes the TLS listener's metrics use.
//!
//! quinn reports a TLS failure as a transport error carrying the TLS alert
//! (`CRYPTO_ERROR`, 0x100 + alert), not the rustls error; the alert names the cause.

use rampart_tls::HandshakeFailure;

/// TLS alert numbers (RFC 8446 section 6).
const HANDSHAKE_FAILURE: u8 = 40;
const CERTIFICATE_REVOKED: u8 = 44;
const CERTIFICATE_EXPIRED: u8 = 45;
const UNKNOWN_CA: u8 = 48;
const DECRYPT_ERROR: u8 = 51;
const PROTOCOL_VERSION: u8 = 70;

/// The cause of a failed QUIC handshake (the deadline is counted by the caller).
pub(super) fn cause(error: &quinn::ConnectionError) -> HandshakeFailure {
    match error {
        quinn::ConnectionError::TransportError(e) => of_code(u64::from(e.code)),
        quinn::ConnectionError::TimedOut => HandshakeFailure::Timeout,
        quinn::ConnectionError::VersionMismatch => HandshakeFailure::ProtocolVersion,
        _ => HandshakeFailure::Other,
    }
}

fn of_code(code: u64) -> HandshakeFailure {
    let Some(alert) = code.checked_sub(0x100).and_then(|a| u8::try_from(a).ok()) else {
        return HandshakeFailure::Other;
    };
    match alert {
        // rustls: an unknown issuer and a signature its CA did not make.
        UNKNOWN_CA | DECRYPT_ERROR => HandshakeFailure::UnknownCa,
        CERTIFICATE_REVOKED => HandshakeFailure::Revoked,
        CERTIFICATE_EXPIRED => HandshakeFailure::Expired,
        // rustls sends handshake_failure when no cipher suite is shared.
        HANDSHAKE_FAILURE => HandshakeFailure::NoSharedCipher,
        PROTOCOL_VERSION => HandshakeFailure::ProtocolVersion,
        _ => HandshakeFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crypto(alert: u8) -> u64 {
        u64::from(quinn::TransportErrorCode::crypto(alert))
    }

    #[test]
    fn maps_tls_alerts_to_handshake_causes() {
        let cases = [
            (crypto(48), HandshakeFailure::UnknownCa),
            (crypto(51), HandshakeFailure::UnknownCa),
            (crypto(44), HandshakeFailure::Revoked),
            (crypto(45), HandshakeFailure::Expired),
            (crypto(40), HandshakeFailure::NoSharedCipher),
            (crypto(70), HandshakeFailure::ProtocolVersion),
            // Look-alikes: other alerts and non-TLS transport errors with the same low
            // byte are not certificate problems.
            (crypto(120), HandshakeFailure::Other),
            (crypto(42), HandshakeFailure::Other),
            (48, HandshakeFailure::Other),
            (
                u64::from(quinn::TransportErrorCode::PROTOCOL_VIOLATION),
                HandshakeFailure::Other,
            ),
            (0x200 + 48, HandshakeFailure::Other),
        ];
        for (code, want) in cases {
            assert_eq!(of_code(code), want, "code {code:#x}");
        }
    }

    #[test]
    fn maps_connection_errors_without_an_alert() {
        let cases = [
            (quinn::ConnectionError::TimedOut, HandshakeFailure::Timeout),
            (
                quinn::ConnectionError::VersionMismatch,
                HandshakeFailure::ProtocolVersion,
            ),
            (quinn::ConnectionError::Reset, HandshakeFailure::Other),
            (
                quinn::ConnectionError::LocallyClosed,
                HandshakeFailure::Other,
            ),
        ];
        for (error, want) in cases {
            assert_eq!(cause(&error), want, "{error:?}");
        }
    }
}
