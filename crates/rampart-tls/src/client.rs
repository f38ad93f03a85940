//! Client certificates on the public listener: the verifier that asks for one, and the
//! facts the HTTP layer gets about a verified one (principal, RFC 8705 thumbprint).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use x509_parser::extensions::GeneralName;

use crate::TlsError;
use crate::certs::{FileStamp, stamp};

/// Longest principal accepted; longer values are skipped like absent ones.
const MAX_PRINCIPAL: usize = 1024;

/// Where a client certificate's principal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalRule {
    /// The first URI subjectAltName (`spiffe://...`).
    SanUri,
    /// The first DNS subjectAltName.
    SanDns,
    /// The first email (rfc822Name) subjectAltName.
    SanEmail,
    /// The subject's first commonName.
    SubjectCn,
}

impl PrincipalRule {
    /// The rules used when none are configured, most specific first.
    pub const DEFAULT: [PrincipalRule; 4] = [
        PrincipalRule::SanUri,
        PrincipalRule::SanDns,
        PrincipalRule::SanEmail,
        PrincipalRule::SubjectCn,
    ];

    /// Parses `san_uri`, `san_dns`, `san_email` or `subject_cn`.
    pub fn parse(raw: &str) -> Result<Self, TlsError> {
        match raw {
            "san_uri" => Ok(Self::SanUri),
            "san_dns" => Ok(Self::SanDns),
            "san_email" => Ok(Self::SanEmail),
            "subject_cn" => Ok(Self::SubjectCn),
            _ => Err(TlsError::BadPrincipalRule(raw.to_owned())),
        }
    }
}

impl fmt::Display for PrincipalRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SanUri => "san_uri",
            Self::SanDns => "san_dns",
            Self::SanEmail => "san_email",
            Self::SubjectCn => "subject_cn",
        })
    }
}

/// A client certificate the handshake verified, as the HTTP layer sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The end-entity certificate, DER.
    pub der: Vec<u8>,
    /// Who the certificate names, by the first rule that yields a value.
    pub principal: String,
    /// SHA-256 of `der`, base64url without padding (`x5t#S256`, RFC 8705).
    pub sha256_b64url: String,
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCert")
            .field("principal", &self.principal)
            .field("sha256_b64url", &self.sha256_b64url)
            .finish_non_exhaustive()
    }
}

impl ClientCert {
    /// Derives the principal of an (already verified) end-entity certificate by `rules`,
    /// first rule with a usable value wins. Values with control characters or over
    /// 1 KiB are not usable: they would end up in logs and headers.
    pub fn from_der(der: &[u8], rules: &[PrincipalRule]) -> Result<Self, TlsError> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|_| TlsError::BadClientCertificate)?;
        let san = cert
            .subject_alternative_name()
            .map_err(|_| TlsError::BadClientCertificate)?;
        let names: &[GeneralName<'_>] = san.map_or(&[], |ext| &ext.value.general_names);
        let principal = rules
            .iter()
            .find_map(|rule| {
                let value = match rule {
                    PrincipalRule::SanUri => names.iter().find_map(|n| match n {
                        GeneralName::URI(u) => Some(*u),
                        _ => None,
                    }),
                    PrincipalRule::SanDns => names.iter().find_map(|n| match n {
                        GeneralName::DNSName(d) => Some(*d),
                        _ => None,
                    }),
                    PrincipalRule::SanEmail => names.iter().find_map(|n| match n {
                        GeneralName::RFC822Name(e) => Some(*e),
                        _ => None,
                    }),
                    PrincipalRule::SubjectCn => cert
                        .subject()
                        .iter_common_name()
                        .next()
                        .and_then(|cn| cn.as_str().ok()),
                };
                value.filter(|v| usable(v)).map(str::to_owned)
            })
            .ok_or(TlsError::NoPrincipal)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        Ok(Self {
            der: der.to_vec(),
            principal,
            sha256_b64url: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        })
    }
}

fn usable(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_PRINCIPAL && !value.chars().any(char::is_control)
}

/// Reads certificate revocation lists from a PEM file (any number of `X509 CRL` blocks)
/// or a DER file (one list).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |what: String| TlsError::Pem {
        path: path.to_owned(),
        what,
    };
    let crls = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let crls = CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("malformed PEM: {e}")))?;
        if crls.is_empty() {
            return Err(bad("no X509 CRL found".into()));
        }
        crls
    } else {
        vec![CertificateRevocationListDer::from(bytes)]
    };
    // Parsed now so a broken list is reported with its file, not by the verifier.
    for crl in &crls {
        webpki::OwnedCertRevocationList::from_der(crl.as_ref())
            .map_err(|e| bad(format!("not a certificate revocation list: {e}")))?;
    }
    Ok(crls)
}

/// A verifier that asks every client for a certificate but lets clients without one
/// through (routes decide whether one is required). A presented certificate must chain
/// to `roots`, be valid now, carry the clientAuth usage, and not be revoked by `crls`;
/// otherwise the handshake fails. With CRLs, a certificate whose issuer has no CRL is
/// refused too (unknown status fails closed).
pub fn optional_client_verifier(
    roots: RootCertStore,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crate::provider())
        .with_crls(crls)
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))
}

/// The optional client-certificate verifier of the public listener, whose revocation
/// lists are re-read when their files change. The CA stays as loaded: the names it
/// announces to clients are fixed for the listener's life.
#[derive(Debug)]
pub struct ClientAuthStore {
    roots: Arc<RootCertStore>,
    crl_files: Vec<PathBuf>,
    stamps: Vec<Option<FileStamp>>,
    verifier: Arc<ReloadingVerifier>,
}

/// What a revocation list reload did.
#[derive(Debug)]
#[non_exhaustive]
pub enum CrlEvent {
    /// Every list was read again; new handshakes are checked against them.
    Reload {
        /// Revocation lists now in force.
        lists: usize,
    },
    /// A changed file could not be used; the previous lists stay in force.
    KeepPrevious {
        /// Why (names the file).
        error: TlsError,
    },
}

impl ClientAuthStore {
    /// Loads the CRL files and builds the verifier (see [`optional_client_verifier`]).
    pub fn new(roots: RootCertStore, crl_files: Vec<PathBuf>) -> Result<Self, TlsError> {
        let roots = Arc::new(roots);
        let stamps = crl_files.iter().map(|f| stamp(f)).collect();
        let current = build_verifier(&roots, &crl_files)?;
        let verifier = Arc::new(ReloadingVerifier {
            hints: roots.subjects(),
            current: ArcSwap::from_pointee(current),
        });
        Ok(Self {
            roots,
            crl_files,
            stamps,
            verifier,
        })
    }

    /// The verifier to put into a `ServerConfig`; it follows every reload.
    pub fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.verifier.clone()
    }

    /// Re-reads all lists when any file changed (or with `force`); `None` when nothing
    /// changed. A list that fails keeps every previous list in force: revoking is only
    /// ever added by a good file.
    pub fn reload(&mut self, force: bool) -> Option<CrlEvent> {
        let now: Vec<_> = self.crl_files.iter().map(|f| stamp(f)).collect();
        if (now == self.stamps && !force) || self.crl_files.is_empty() {
            return None;
        }
        self.stamps = now;
        Some(match build_verifier(&self.roots, &self.crl_files) {
            Ok(verifier) => {
                self.verifier.current.store(Arc::new(verifier));
                CrlEvent::Reload {
                    lists: self.crl_files.len(),
                }
            }
            Err(error) => CrlEvent::KeepPrevious { error },
        })
    }
}

fn build_verifier(
    roots: &Arc<RootCertStore>,
    crl_files: &[PathBuf],
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut crls = Vec::new();
    for file in crl_files {
        crls.extend(load_crls(file)?);
    }
    optional_client_verifier((**roots).clone(), crls)
}

/// Delegates to the verifier of the last good revocation lists.
#[derive(Debug)]
struct ReloadingVerifier {
    hints: Vec<DistinguishedName>,
    current: ArcSwap<Arc<dyn ClientCertVerifier>>,
}

impl ClientCertVerifier for ReloadingVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current
            .load()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .load()
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .load()
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current.load().supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests;
