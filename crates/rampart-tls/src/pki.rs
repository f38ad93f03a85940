//! A development PKI: one CA and the three certificates a two-tier deployment needs.
//!
//! For `rampart certs init`, `rampart up` and tests. Production deployments bring their
//! own CA; nothing here is used by the tier binaries.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::TlsError;

/// A certificate authority that can issue leaf certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

/// A certificate and its private key, PEM encoded.
#[derive(Clone)]
pub struct Leaf {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf").finish_non_exhaustive() // never print keys
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// TLS server.
    Server,
    /// TLS client.
    Client,
}

/// Parameters of a leaf certificate.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject CN.
    pub common_name: String,
    /// DNS SANs.
    pub dns: Vec<String>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// Server or client.
    pub usage: Usage,
    /// Validity start relative to now (negative = in the past).
    pub not_before: Duration,
    /// Validity end relative to now (negative = already expired).
    pub not_after: Duration,
}

impl LeafSpec {
    /// A leaf valid from an hour ago for `days`, named `name` (CN and DNS SAN).
    pub fn new(name: &str, usage: Usage, days: i64) -> Self {
        Self {
            common_name: name.to_owned(),
            dns: vec![name.to_owned()],
            uris: Vec::new(),
            usage,
            not_before: Duration::hours(-1),
            not_after: Duration::days(days),
        }
    }
}

impl Ca {
    /// A fresh self-signed CA valid for `days`.
    pub fn generate(name: &str, days: i64) -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(days);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A CRL signed by this CA, valid from an hour ago for a day, revoking the given
    /// certificates (PEM; their serial numbers are read from them).
    pub fn crl_pem(&self, revoked_cert_pems: &[&str]) -> Result<String, TlsError> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let now = OffsetDateTime::now_utc();
        let mut revoked_certs = Vec::new();
        for pem in revoked_cert_pems {
            let der = CertificateDer::from_pem_slice(pem.as_bytes())
                .map_err(|e| rcgen::Error::PemError(e.to_string()))?;
            let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
                .map_err(|_| rcgen::Error::CouldNotParseCertificate)?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(cert.raw_serial()),
                revocation_time: now - Duration::minutes(5),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: now - Duration::hours(1),
            next_update: now + Duration::days(1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    /// Issues a leaf certificate.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Leaf, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(spec.dns.clone())?;
        for uri in &spec.uris {
            params
                .subject_alt_names
                .push(SanType::URI(uri.as_str().try_into()?));
        }
        params
            .distinguished_name
            .push(DnType::CommonName, spec.common_name.as_str());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![match spec.usage {
            Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        let now = OffsetDateTime::now_utc();
        params.not_before = now + spec.not_before;
        params.not_after = now + spec.not_after;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Names used by a development PKI.
#[derive(Debug, Clone)]
pub struct DevNames {
    /// DNS name of the edge's public certificate.
    pub edge_public: Vec<String>,
    /// Identity of the edge on the link (client certificate DNS SAN).
    pub edge: String,
    /// Identity of the inner tier on the link (server certificate DNS SAN).
    pub inner: String,
}

impl Default for DevNames {
    fn default() -> Self {
        Self {
            edge_public: vec!["localhost".into(), "127.0.0.1".into()],
            edge: "rampart-edge".into(),
            inner: "rampart-inner".into(),
        }
    }
}

/// The files of a development PKI, as written by [`write_dev_pki`].
#[derive(Debug, Clone)]
pub struct DevPkiFiles {
    /// The CA certificate (trust anchor for clients and for the link).
    pub ca_cert: PathBuf,
    /// The edge's public server certificate and key.
    pub edge_server: (PathBuf, PathBuf),
    /// The edge's link client certificate and key.
    pub edge_client: (PathBuf, PathBuf),
    /// The inner's link server certificate and key.
    pub inner_server: (PathBuf, PathBuf),
    /// The edge's link server certificate and key (`inner-dials`: the inner dials in).
    pub edge_link: (PathBuf, PathBuf),
    /// The inner's link client certificate and key (`inner-dials`).
    pub inner_client: (PathBuf, PathBuf),
}

/// Generates a CA and the leaf certificates into `dir`: the edge's public certificate
/// and both link roles of each tier (who dials whom is a configuration choice);
/// keys are mode 0600.
pub fn write_dev_pki(dir: &Path, names: &DevNames) -> Result<DevPkiFiles, TlsError> {
    let ca = Ca::generate("Rampart development CA", 825)?;
    let mut public = LeafSpec::new(&names.edge_public[0], Usage::Server, 397);
    public.dns.clone_from(&names.edge_public);
    let edge_server = ca.issue(&public)?;
    let edge_client = ca.issue(&LeafSpec::new(&names.edge, Usage::Client, 397))?;
    let inner_server = ca.issue(&LeafSpec::new(&names.inner, Usage::Server, 397))?;
    let edge_link = ca.issue(&LeafSpec::new(&names.edge, Usage::Server, 397))?;
    let inner_client = ca.issue(&LeafSpec::new(&names.inner, Usage::Client, 397))?;

    std::fs::create_dir_all(dir).map_err(|source| TlsError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let ca_cert = dir.join("ca.pem");
    write_file(&ca_cert, ca.cert_pem(), false)?;
    let write_pair = |stem: &str, leaf: &Leaf| -> Result<(PathBuf, PathBuf), TlsError> {
        let cert = dir.join(format!("{stem}.pem"));
        let key = dir.join(format!("{stem}.key"));
        write_file(&cert, &leaf.cert_pem, false)?;
        write_file(&key, &leaf.key_pem, true)?;
        Ok((cert, key))
    };
    Ok(DevPkiFiles {
        ca_cert,
        edge_server: write_pair("edge-server", &edge_server)?,
        edge_client: write_pair("edge-client", &edge_client)?,
        inner_server: write_pair("inner-server", &inner_server)?,
        edge_link: write_pair("edge-link", &edge_link)?,
        inner_client: write_pair("inner-client", &inner_client)?,
    })
}

/// Writes `contents` to `path`; secret files get mode 0600 before any byte is written.
pub fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if secret { 0o600 } else { 0o644 };
    let io = |source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    // Remove first so an existing file's looser mode is not kept.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)
}
