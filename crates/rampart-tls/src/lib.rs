//! Every rustls configuration Rampart uses, in one place.
//!
//! - [`public_server_config`] / [`public_server_config_with`]: the edge's client-facing
//!   listener (TLS 1.3, TLS 1.2 only with ECDHE + AEAD suites, ALPN `h2` and `http/1.1`),
//!   with certificates chosen by SNI and reloaded from disk ([`CertStore`]) and optional
//!   client certificates ([`optional_client_verifier`], [`ClientCert`]).
//! - [`public_quic_server_config`]: the same listener's configuration for HTTP/3 (QUIC,
//!   TLS 1.3, ALPN `h3`, no 0-RTT), sharing its certificate resolver.
//! - [`link_client_config`] / [`link_server_config`]: the mutual-TLS link between the tiers
//!   (TLS 1.3 only, ALPN `h2`); the inner side accepts a client only if its certificate
//!   chains to the link CA *and* carries an allowed identity.
//! - [`upstream_client_config`]: the inner tier's connections to `https://` backends.
//!
//! What it does not do: no sockets and no HTTP. Crypto comes from `ring` only; there is
//! no OpenSSL anywhere in Rampart. Development certificates are made by [`pki`] (feature
//! `pki`), which the tier binaries do not link.

mod certs;
mod client;
mod error;
mod failure;
mod identity;
mod load;
#[cfg(feature = "pki")]
pub mod pki;

use std::sync::Arc;

use rustls::crypto::{CryptoProvider, ring};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use certs::{
    CertEvent, CertExpiry, CertSource, CertStore, LoadedCert, SniPattern, SniResolver, unix_seconds,
};
pub use client::{
    ClientAuthStore, ClientCert, CrlEvent, PrincipalRule, load_crls, optional_client_verifier,
};
pub use error::TlsError;
pub use failure::{HandshakeFailure, HandshakeFailures};
pub use identity::{Identity, identities_of};
pub use load::{CertifiedKeyFiles, load_certs, load_private_key, load_roots};
pub use rustls;

/// ALPN protocol ids.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN id of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// TLS 1.3 suites, then TLS 1.2 suites restricted to ECDHE key exchange with AEAD ciphers.
fn cipher_suites() -> Vec<SupportedCipherSuite> {
    use ring::cipher_suite as cs;
    vec![
        // AES-128-GCM first: as strong as needed and cheaper on the hot link.
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
}

/// The crypto provider every Rampart TLS configuration is built from.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: cipher_suites(),
        ..ring::default_provider()
    })
}

const TLS12_AND_13: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The edge's client-facing configuration.
pub fn public_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS12_AND_13)?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    Ok(config)
}

/// ALPN id of HTTP/3.
pub const ALPN_H3: &[u8] = b"h3";

/// The edge's HTTP/3 (QUIC) configuration, derived from its TCP listener's `tcp`
/// configuration so both serve the same certificates (whatever resolver `tcp` holds).
/// QUIC negotiates TLS 1.3 only; ALPN is `h3`; 0-RTT stays off, since early data can be
/// replayed and a firewall must judge every request exactly once.
pub fn public_quic_server_config(tcp: &ServerConfig) -> Result<ServerConfig, TlsError> {
    let has_tls13 = tcp
        .crypto_provider()
        .cipher_suites
        .iter()
        .any(|s| s.version() == &rustls::version::TLS13);
    if !has_tls13 {
        return Err(TlsError::Rustls(rustls::Error::General(
            "HTTP/3 needs a TLS 1.3 cipher suite".into(),
        )));
    }
    let mut config = tcp.clone();
    config.alpn_protocols = vec![ALPN_H3.to_vec()];
    config.max_early_data_size = 0;
    config.send_half_rtt_data = false;
    Ok(config)
}

/// The edge's client-facing configuration with certificates chosen by SNI from `certs`
/// and, with `client_auth` (see [`optional_client_verifier`]), client certificates.
pub fn public_server_config_with(
    certs: Arc<SniResolver>,
    client_auth: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<ServerConfig, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_protocol_versions(TLS12_AND_13)?;
    let builder = match client_auth {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(certs);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    Ok(config)
}

/// The edge's side of the link: presents the edge's client certificate and trusts only
/// the link CA for the inner tier's certificate.
pub fn link_client_config(
    link_ca: RootCertStore,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ClientConfig, TlsError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS13_ONLY)?
        .with_root_certificates(link_ca)
        .with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// The inner's side of the link: requires a client certificate from `link_ca` whose
/// SAN matches one of `allowed` (DNS names or URIs).
pub fn link_server_config(
    link_ca: RootCertStore,
    allowed: Vec<Identity>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    if allowed.is_empty() {
        return Err(TlsError::NoAllowedIdentities);
    }
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(link_ca), provider())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let verifier = identity::IdentityVerifier::new(webpki, allowed);
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS13_ONLY)?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(config)
}

/// The inner's configuration towards `https://` backends, trusting `roots`. ALPN is
/// left to the HTTP connector, which offers the protocols it enables.
pub fn upstream_client_config(roots: RootCertStore) -> Result<ClientConfig, TlsError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS12_AND_13)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A negotiated protocol version as Rampart logs it (`TLSv1_3`).
pub fn version_name(version: Option<rustls::ProtocolVersion>) -> String {
    version.map(|v| format!("{v:?}")).unwrap_or_default()
}

#[cfg(all(test, feature = "pki"))]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn tls12_suites_are_ecdhe_with_aead_only() {
        for suite in cipher_suites() {
            let name = format!("{:?}", suite.suite());
            if suite.version() == &rustls::version::TLS12 {
                assert!(
                    name.starts_with("TLS_ECDHE_"),
                    "{name}: key exchange must be ECDHE"
                );
                assert!(
                    name.contains("_GCM_") || name.contains("CHACHA20_POLY1305"),
                    "{name}: AEAD only"
                );
            }
        }
    }

    #[test]
    fn link_server_requires_an_allowed_identity() {
        let ca = pki::Ca::generate("test", 1).unwrap();
        let leaf = ca
            .issue(&pki::LeafSpec::new("inner", pki::Usage::Server, 1))
            .unwrap();
        let chain = rustls_pki_types::CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.cert_pem().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let refused = link_server_config(roots, Vec::new(), chain, key);
        assert!(matches!(refused, Err(TlsError::NoAllowedIdentities)));
    }

    #[test]
    fn quic_config_shares_the_tcp_certificates_and_only_offers_h3() {
        let ca = pki::Ca::generate("test", 1).unwrap();
        let leaf = ca
            .issue(&pki::LeafSpec::new("localhost", pki::Usage::Server, 1))
            .unwrap();
        let chain = rustls_pki_types::CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let tcp = public_server_config(chain, key).unwrap();
        let quic = public_quic_server_config(&tcp).unwrap();
        assert_eq!(quic.alpn_protocols, [ALPN_H3.to_vec()]);
        assert_eq!(quic.max_early_data_size, 0, "no replayable 0-RTT requests");
        assert!(Arc::ptr_eq(&quic.cert_resolver, &tcp.cert_resolver));
        assert_eq!(tcp.alpn_protocols, [ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()]);
    }
}
