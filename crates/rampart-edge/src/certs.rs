//! The public certificates at run time: reloaded when their files change or on SIGHUP,
//! expiry warnings after every load, and the TLS metrics the admin listener prints.
//!
//! A reload only swaps what new handshakes see; established connections keep the
//! certificate they negotiated. A file that cannot be used is logged with its name and
//! ignored, the last good certificate stays.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rampart_service::shutdown::Shutdown;
use rampart_tls::{
    CertEvent, CertStore, ClientAuthStore, CrlEvent, HandshakeFailure, HandshakeFailures,
    PrincipalRule,
};
use rustls::ServerConfig;
use tokio::time::MissedTickBehavior;

/// The validated `[tls]` section.
#[derive(Clone)]
pub struct EdgeTls {
    /// The listener's rustls configuration; its certificate resolver follows reloads.
    pub server_config: Arc<ServerConfig>,
    /// The configured certificates and their last good versions.
    pub certs: Arc<Mutex<CertStore>>,
    /// The client-certificate verifier and its revocation lists, reloaded like the
    /// certificates (present with `[tls.client_auth]`).
    pub crls: Option<Arc<Mutex<ClientAuthStore>>>,
    /// How often the certificate files are looked at.
    pub reload_interval: Duration,
    /// Certificates closer than this to their notAfter are warned about.
    pub expiry_warning: Duration,
    /// Principal rules, present when client certificates are requested.
    pub client_auth: Option<Arc<[PrincipalRule]>>,
}

impl std::fmt::Debug for EdgeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeTls")
            .field("reload_interval", &self.reload_interval)
            .field("expiry_warning", &self.expiry_warning)
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

/// What the admin listener prints about the public TLS listener.
#[derive(Debug)]
pub(crate) struct TlsMetrics {
    certs: Arc<Mutex<CertStore>>,
    /// Failed handshakes by cause.
    pub(crate) failures: HandshakeFailures,
    /// Failed QUIC (HTTP/3) handshakes by cause.
    pub(crate) quic_failures: HandshakeFailures,
}

/// A label value in Prometheus text: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl TlsMetrics {
    pub(crate) fn new(certs: Arc<Mutex<CertStore>>) -> Self {
        Self {
            certs,
            failures: HandshakeFailures::default(),
            quic_failures: HandshakeFailures::default(),
        }
    }

    /// The TLS part of the Prometheus exposition, as of `now`.
    pub(crate) fn render(&self, now: SystemTime) -> String {
        let expiries = lock(&self.certs).expiries(now);
        let mut out = String::from(concat!(
            "# HELP rampart_tls_certificate_expiry_seconds Seconds until the certificate's notAfter.\n",
            "# TYPE rampart_tls_certificate_expiry_seconds gauge\n",
        ));
        for e in expiries {
            let _ = writeln!(
                out,
                "rampart_tls_certificate_expiry_seconds{{certificate=\"{}\"}} {}",
                label(&e.certificate),
                e.seconds
            );
        }
        out.push_str(concat!(
            "# HELP rampart_tls_handshake_failures_total Failed handshakes on the public listener.\n",
            "# TYPE rampart_tls_handshake_failures_total counter\n",
        ));
        for cause in HandshakeFailure::ALL {
            let _ = writeln!(
                out,
                "rampart_tls_handshake_failures_total{{cause=\"{}\"}} {}",
                cause.as_str(),
                self.failures.count(cause)
            );
        }
        out.push_str(concat!(
            "# HELP rampart_quic_handshake_failures_total Failed QUIC handshakes on the HTTP/3 listener.\n",
            "# TYPE rampart_quic_handshake_failures_total counter\n",
        ));
        for cause in HandshakeFailure::ALL {
            let _ = writeln!(
                out,
                "rampart_quic_handshake_failures_total{{cause=\"{}\"}} {}",
                cause.as_str(),
                self.quic_failures.count(cause)
            );
        }
        out
    }
}

/// A panic while holding the lock leaves the store usable: it is only swapped whole.
fn lock(certs: &Mutex<CertStore>) -> std::sync::MutexGuard<'_, CertStore> {
    certs.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Warns about every certificate in `names` (all when `None`) that expires within
/// `warning` of `now`.
fn warn_expiring(store: &CertStore, warning: Duration, now: SystemTime, names: Option<&[String]>) {
    let limit = i64::try_from(warning.as_secs()).unwrap_or(i64::MAX);
    for e in store.expiries(now) {
        if names.is_some_and(|n| !n.contains(&e.certificate)) {
            continue;
        }
        if e.seconds < limit {
            tracing::warn!(
                certificate = %e.certificate,
                expires_in_s = e.seconds,
                "TLS certificate expires soon"
            );
        }
    }
}

fn report(events: &[CertEvent]) -> Vec<String> {
    let mut reloaded = Vec::new();
    for event in events {
        match event {
            CertEvent::Reload { certificate, .. } => {
                tracing::info!(certificate = %certificate, "TLS certificate reloaded");
                reloaded.push(certificate.clone());
            }
            CertEvent::KeepPrevious { certificate, error } => tracing::warn!(
                certificate = %certificate,
                error = %error,
                "TLS certificate files refused; keeping the previous certificate"
            ),
            other => tracing::warn!(event = ?other, "TLS certificate event"),
        }
    }
    reloaded
}

fn report_crls(event: Option<CrlEvent>) {
    match event {
        None => {}
        Some(CrlEvent::Reload { lists }) => {
            tracing::info!(lists, "client certificate revocation lists reloaded");
        }
        Some(CrlEvent::KeepPrevious { error }) => tracing::warn!(
            error = %error,
            "revocation list refused; keeping the previous lists"
        ),
        Some(other) => tracing::warn!(event = ?other, "revocation list event"),
    }
}

/// Reads changed (or, forced, all) certificate and CRL files off the runtime's threads.
async fn reload(tls: &EdgeTls, force: bool, warning: Duration) {
    let (certs, crls) = (tls.certs.clone(), tls.crls.clone());
    let done = tokio::task::spawn_blocking(move || {
        let mut store = lock(&certs);
        let events = store.reload(force);
        let reloaded = report(&events);
        if !reloaded.is_empty() {
            warn_expiring(&store, warning, SystemTime::now(), Some(&reloaded));
        }
        drop(store);
        if let Some(crls) = crls {
            report_crls(
                crls.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reload(force),
            );
        }
    })
    .await;
    if let Err(e) = done {
        tracing::error!(error = %e, "TLS certificate reload failed");
    }
}

/// Starts watching the certificate files (every `reload_interval`, and on SIGHUP) until
/// `shutdown`; returns the metrics handle the listener counts failures into.
pub(crate) fn spawn(tls: &EdgeTls, shutdown: Shutdown) -> Arc<TlsMetrics> {
    let metrics = Arc::new(TlsMetrics::new(tls.certs.clone()));
    warn_expiring(
        &lock(&tls.certs),
        tls.expiry_warning,
        SystemTime::now(),
        None,
    );
    let tls = tls.clone();
    let (period, warning) = (tls.reload_interval, tls.expiry_warning);
    // Installed before the listeners announce themselves: without the handler SIGHUP
    // would kill the process, and reloading is what it means here.
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot handle SIGHUP; certificates reload by polling only");
            None
        }
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks.tick().await; // immediate; the files were just loaded
        let stop = shutdown.signalled();
        tokio::pin!(stop);
        loop {
            let force = tokio::select! {
                () = &mut stop => return,
                _ = ticks.tick() => false,
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    tracing::info!("SIGHUP received, reloading TLS certificates");
                    true
                }
            };
            reload(&tls, force, warning).await;
        }
    });
    metrics
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::{Path, PathBuf};

    use rampart_core::config::ConfigError;
    use rampart_tls::pki::{DevNames, LeafSpec, Usage, write_dev_pki};

    use super::*;
    use crate::config::EdgeConfig;

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A directory with a development PKI (`pki/`), an extra certificate
    /// (`pki/api.pem`) and a partner CA (`pki/partners.pem`).
    fn fixture() -> Dir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rampart-edge-certs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let pki = dir.join("pki");
        write_dev_pki(&pki, &DevNames::default()).unwrap();
        let ca = rampart_tls::pki::Ca::generate("sites", 1).unwrap();
        let api = ca
            .issue(&LeafSpec::new("api.example.test", Usage::Server, 10))
            .unwrap();
        write_file(&pki.join("api.pem"), &api.cert_pem);
        write_file(&pki.join("api.key"), &api.key_pem);
        let partners = rampart_tls::pki::Ca::generate("partners", 1).unwrap();
        write_file(&pki.join("partners.pem"), partners.cert_pem());
        write_file(
            &pki.join("partners.crl.pem"),
            &partners.crl_pem(&[]).unwrap(),
        );
        Dir(dir)
    }

    fn write_file(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    fn load(dir: &Dir, tls: &str) -> Result<EdgeConfig, ConfigError> {
        let text = format!(
            r#"[server]
https_listen = "127.0.0.1:0"
[tls]
cert = "pki/edge-server.pem"
key = "pki/edge-server.key"
{tls}
[inner]
endpoints = ["127.0.0.1:1"]
server_name = "rampart-inner"
ca = "pki/ca.pem"
client_cert = "pki/edge-client.pem"
client_key = "pki/edge-client.key"
"#
        );
        let file = dir.0.join("edge.toml");
        write_file(&file, &text);
        EdgeConfig::load(&file)
    }

    fn problem_keys(result: Result<EdgeConfig, ConfigError>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.into_iter().map(|p| p.key).collect()
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn accepts_extra_certificates_and_client_auth() {
        let dir = fixture();
        let config = load(
            &dir,
            r#"reload_interval = "5s"
expiry_warning = "720h"
[[tls.certificates]]
cert = "pki/api.pem"
key = "pki/api.key"
[[tls.certificates]]
name = "partner"
cert = "pki/api.pem"
key = "pki/api.key"
server_names = ["*.partner.example.test"]
[tls.client_auth]
ca = "pki/partners.pem"
crls = ["pki/partners.crl.pem"]
principal = ["subject_cn"]
"#,
        )
        .unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.reload_interval, Duration::from_secs(5));
        assert_eq!(tls.expiry_warning, Duration::from_secs(720 * 3600));
        assert_eq!(
            tls.client_auth.as_deref(),
            Some(&[PrincipalRule::SubjectCn][..])
        );
        let names: Vec<String> = lock(&tls.certs)
            .expiries(SystemTime::now())
            .into_iter()
            .map(|e| e.certificate)
            .collect();
        assert_eq!(names, ["edge-server", "api", "partner"]);
        // Without the new keys, [tls] stays what it was: one certificate, no client auth.
        let plain = load(&dir, "").unwrap().tls.unwrap();
        assert!(plain.client_auth.is_none());
        assert_eq!(plain.reload_interval, Duration::from_secs(30));
    }

    #[test]
    fn reports_every_tls_problem_with_its_key() {
        let dir = fixture();
        let table: [(&str, &[&str]); 7] = [
            (
                "[[tls.certificates]]\ncert = \"pki/api.pem\"\n",
                &["tls.certificates[0].key"],
            ),
            (
                "[[tls.certificates]]\ncert = \"pki/api.pem\"\nkey = \"pki/edge-server.key\"\n",
                &["tls.certificates[0]"],
            ),
            (
                "[[tls.certificates]]\ncert = \"pki/api.pem\"\nkey = \"pki/api.key\"\nserver_names = [\"*.com\", \"ok.example\"]\nname = \"bad name\"\n",
                &[
                    "tls.certificates[0].name",
                    "tls.certificates[0].server_names[0]",
                ],
            ),
            (
                // The same file twice needs a distinct name for metrics.
                "[[tls.certificates]]\ncert = \"pki/api.pem\"\nkey = \"pki/api.key\"\n[[tls.certificates]]\ncert = \"pki/api.pem\"\nkey = \"pki/api.key\"\n",
                &["tls.certificates[1].name"],
            ),
            (
                "reload_interval = \"0s\"\nexpiry_warning = \"30d\"\n",
                &["tls.reload_interval", "tls.expiry_warning"],
            ),
            (
                "[tls.client_auth]\ncrls = [\"pki/api.pem\", \"pki/missing.crl\"]\nprincipal = [\"cn\"]\n",
                &[
                    "tls.client_auth.principal[0]",
                    "tls.client_auth.ca",
                    "tls.client_auth.crls[0]",
                    "tls.client_auth.crls[1]",
                ],
            ),
            (
                "[tls.client_auth]\nca = \"pki/partners.pem\"\nbogus = 1\n",
                &["tls.client_auth.bogus"],
            ),
        ];
        for (tls, want) in table {
            let mut got = problem_keys(load(&dir, tls));
            got.sort();
            let mut want: Vec<String> = want.iter().map(|k| (*k).to_owned()).collect();
            want.sort();
            assert_eq!(got, want, "{tls}");
        }
    }

    #[test]
    fn renders_expiry_and_failure_metrics() {
        let dir = fixture();
        let config = load(
            &dir,
            "[[tls.certificates]]\ncert = \"pki/api.pem\"\nkey = \"pki/api.key\"\n",
        )
        .unwrap();
        let metrics = TlsMetrics::new(config.tls.unwrap().certs);
        metrics.failures.record(HandshakeFailure::Revoked);
        metrics.quic_failures.record(HandshakeFailure::UnknownCa);
        metrics.quic_failures.record(HandshakeFailure::UnknownCa);
        let now = SystemTime::now();
        let text = metrics.render(now + Duration::from_secs(86_400));
        let value = |series: &str| -> i64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        };
        // Issued for 10 days, seen a day later: about 9 days left.
        let api = value("rampart_tls_certificate_expiry_seconds{certificate=\"api\"}");
        assert!((9 * 86_400 - 60..=9 * 86_400).contains(&api), "{api}");
        assert!(value("rampart_tls_certificate_expiry_seconds{certificate=\"edge-server\"}") > 0);
        assert_eq!(
            value("rampart_tls_handshake_failures_total{cause=\"revoked\"}"),
            1
        );
        // QUIC failures are their own series, not mixed into the TCP listener's.
        assert_eq!(
            value("rampart_quic_handshake_failures_total{cause=\"unknown_ca\"}"),
            2
        );
        assert_eq!(
            value("rampart_quic_handshake_failures_total{cause=\"revoked\"}"),
            0
        );
        assert_eq!(
            value("rampart_tls_handshake_failures_total{cause=\"unknown_ca\"}"),
            0
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label("x\ny"), "x\\ny");
        assert_eq!(label("edge-1.example"), "edge-1.example");
    }
}
