//! Peer identities from certificate SANs, and the link verifier that enforces them.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::UnixTime;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

use crate::TlsError;

/// An identity a certificate can carry in its subjectAltName.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// A DNS name, compared case-insensitively.
    Dns(String),
    /// A URI such as `spiffe://rampart/edge`, compared exactly.
    Uri(String),
}

impl Identity {
    /// Parses `dns:NAME`, `uri:URI`, a bare URI (contains `://`) or a bare DNS name.
    pub fn parse(s: &str) -> Result<Self, TlsError> {
        let s = s.trim();
        let identity = if let Some(name) = s.strip_prefix("dns:") {
            Identity::Dns(name.to_ascii_lowercase())
        } else if let Some(uri) = s.strip_prefix("uri:") {
            Identity::Uri(uri.to_owned())
        } else if s.contains("://") {
            Identity::Uri(s.to_owned())
        } else {
            Identity::Dns(s.to_ascii_lowercase())
        };
        let valid = match &identity {
            Identity::Dns(name) => rustls_pki_types::DnsName::try_from(name.as_str()).is_ok(),
            Identity::Uri(uri) => uri.contains("://") && !uri.chars().any(char::is_whitespace),
        };
        if valid {
            Ok(identity)
        } else {
            Err(TlsError::BadIdentity(s.to_owned()))
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Dns(n) => write!(f, "dns:{n}"),
            Identity::Uri(u) => write!(f, "uri:{u}"),
        }
    }
}

/// The DNS and URI identities in a certificate's subjectAltName.
pub fn identities_of(cert: &CertificateDer<'_>) -> Result<Vec<Identity>, CertificateError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| CertificateError::BadEncoding)?;
    let san = parsed
        .subject_alternative_name()
        .map_err(|_| CertificateError::BadEncoding)?;
    Ok(san
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(n) => Some(Identity::Dns(n.to_ascii_lowercase())),
                    GeneralName::URI(u) => Some(Identity::Uri((*u).to_owned())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Chain validation by webpki, then an identity check: a certificate from the right CA
/// issued to another service is refused during the handshake.
pub(crate) struct IdentityVerifier {
    chain: Arc<dyn ClientCertVerifier>,
    allowed: Vec<Identity>,
}

impl IdentityVerifier {
    pub(crate) fn new(chain: Arc<dyn ClientCertVerifier>, allowed: Vec<Identity>) -> Self {
        Self { chain, allowed }
    }
}

impl fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityVerifier")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for IdentityVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .chain
            .verify_client_cert(end_entity, intermediates, now)?;
        let presented = identities_of(end_entity)?;
        if presented.iter().any(|id| self.allowed.contains(id)) {
            Ok(verified)
        } else {
            tracing::warn!(
                presented = %presented.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
                "link client certificate refused: identity not allowed"
            );
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identity_forms_and_refuses_junk() {
        let table = [
            ("rampart-edge", Some(Identity::Dns("rampart-edge".into()))),
            (
                "dns:Edge.Example",
                Some(Identity::Dns("edge.example".into())),
            ),
            (
                "spiffe://rampart/edge",
                Some(Identity::Uri("spiffe://rampart/edge".into())),
            ),
            (
                "uri:spiffe://rampart/edge",
                Some(Identity::Uri("spiffe://rampart/edge".into())),
            ),
            ("not a name", None),
            ("dns:", None),
            ("uri:no-scheme", None),
        ];
        for (input, want) in table {
            assert_eq!(Identity::parse(input).ok(), want, "{input}");
        }
    }
}
