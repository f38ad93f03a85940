//! A fresh development PKI in a temporary directory.

use std::path::{Path, PathBuf};

use rampart_tls::pki::{Ca, LeafSpec, Usage, write_file};
pub use rampart_tls::pki::{LeafSpec as Spec, Usage as CertUsage};

/// A CA and a directory to write certificates into; removed on drop.
pub struct TestPki {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    pub ca_path: PathBuf,
}

impl TestPki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::generate("Rampart test CA", 30).unwrap();
        let ca_path = dir.path().join("ca.pem");
        write_file(&ca_path, ca.cert_pem(), false).unwrap();
        Self { dir, ca, ca_path }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Issues `spec` and writes `<stem>.pem` and `<stem>.key`.
    pub fn issue(&self, stem: &str, spec: &LeafSpec) -> (PathBuf, PathBuf) {
        let leaf = self.ca.issue(spec).unwrap();
        let cert = self.dir.path().join(format!("{stem}.pem"));
        let key = self.dir.path().join(format!("{stem}.key"));
        write_file(&cert, &leaf.cert_pem, false).unwrap();
        write_file(&key, &leaf.key_pem, true).unwrap();
        (cert, key)
    }

    /// A server certificate for `name`, valid for a day.
    pub fn server(&self, stem: &str, name: &str) -> (PathBuf, PathBuf) {
        self.issue(stem, &LeafSpec::new(name, Usage::Server, 1))
    }

    /// A TLS acceptor for a test server (a webhook receiver, a syslog collector, a
    /// backend) presenting a fresh certificate for `name`, without client auth.
    pub fn acceptor(&self, stem: &str, name: &str) -> tokio_rustls::TlsAcceptor {
        let (cert, key) = self.server(stem, name);
        let config = rustls::ServerConfig::builder_with_provider(rampart_tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                rampart_tls::load_certs(&cert).unwrap(),
                rampart_tls::load_private_key(&key).unwrap(),
            )
            .unwrap();
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
    }

    /// A client certificate for `name`, valid for a day.
    pub fn client(&self, stem: &str, name: &str) -> (PathBuf, PathBuf) {
        self.issue(stem, &LeafSpec::new(name, Usage::Client, 1))
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}
