//! The public listener's TLS: certificates chosen by SNI, reloaded from disk without
//! dropping connections, and optional client certificates checked against a partner CA
//! and its revocation list.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::collect;
use rampart_test_support::pki::{CertUsage, Spec, TestPki};
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};
use rampart_tls::rustls;
use rampart_tls::rustls::pki_types::pem::PemObject;
use rampart_tls::rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::common::bins;

/// A client identity: certificate chain and key files.
type ClientIdentity<'a> = Option<(&'a Path, &'a Path)>;

fn client_config(ca: &Path, identity: ClientIdentity<'_>) -> Arc<rustls::ClientConfig> {
    let roots = rampart_tls::load_roots(ca).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(rampart_tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                rampart_tls::load_certs(cert).unwrap(),
                rampart_tls::load_private_key(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

async fn connect(
    addr: SocketAddr,
    ca: &Path,
    sni: &str,
    identity: ClientIdentity<'_>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(client_config(ca, identity));
    connector
        .connect(ServerName::try_from(sni.to_owned()).unwrap(), tcp)
        .await
}

fn leaf_of(tls: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

fn leaf_in(file: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(file).unwrap()
}

/// The leaf a fresh handshake naming `sni` gets.
async fn served_leaf(addr: SocketAddr, ca: &Path, sni: &str) -> CertificateDer<'static> {
    leaf_of(&connect(addr, ca, sni, None).await.unwrap())
}

/// A keep-alive HTTP/1.1 connection over `tls`.
async fn http1_over(
    tls: TlsStream<TcpStream>,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn get(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    path: &str,
) -> Result<u16, hyper::Error> {
    sender.ready().await?;
    let request = Request::builder()
        .uri(path)
        .header("host", "api.example.test")
        .body(Empty::new())
        .unwrap();
    let response = collect(sender.send_request(request).await?).await;
    Ok(response.status.as_u16())
}

/// One request on a fresh connection presenting `identity`: the status, or the error
/// that ended the connection (in TLS 1.3 a refused client certificate shows only then).
async fn request_with(
    addr: SocketAddr,
    ca: &Path,
    identity: ClientIdentity<'_>,
) -> Result<u16, String> {
    let tls = connect(addr, ca, "localhost", identity)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    get(&mut sender, "/ok").await.map_err(|e| e.to_string())
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn server_spec(names: &[&str]) -> Spec {
    let mut spec = Spec::new(names[0], CertUsage::Server, 1);
    spec.dns = names.iter().map(|n| (*n).to_owned()).collect();
    spec
}

fn certificate_block(name: &str, files: &(std::path::PathBuf, std::path::PathBuf)) -> String {
    format!(
        "[[tls.certificates]]\nname = {name:?}\ncert = {:?}\nkey = {:?}\n",
        files.0.display().to_string(),
        files.1.display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_server_name_gets_its_own_certificate() {
    let backend = Backend::start().await;
    let sites = TestPki::new();
    let api = sites.issue("api", &server_spec(&["api.example.test"]));
    let partner = sites.issue("partner", &server_spec(&["*.partner.example.test"]));
    let mut opts = StackOptions::new(backend.url());
    opts.edge_tls_extra = format!(
        "{}{}",
        certificate_block("api", &api),
        certificate_block("partner", &partner)
    );
    let stack = Stack::start(&bins(), &opts);
    let addr = stack.https();
    let ca = &sites.ca_path;

    assert_eq!(
        served_leaf(addr, ca, "api.example.test").await,
        leaf_in(&api.0)
    );
    assert_eq!(
        served_leaf(addr, ca, "eu.partner.example.test").await,
        leaf_in(&partner.0)
    );
    // Unknown names get the default certificate, which this client does not trust for
    // them; the stack's own client sees it for `localhost`.
    let default = stack.pki.path().join("edge-server.pem");
    assert_eq!(
        served_leaf(addr, &stack.pki.ca_path, "localhost").await,
        leaf_in(&default)
    );
    assert!(connect(addr, ca, "other.example.test", None).await.is_err());
    assert!(
        connect(addr, ca, "partner.example.test", None)
            .await
            .is_err(),
        "a wildcard does not cover its parent"
    );

    // Requests flow through the chosen certificate's connection as usual.
    let mut sender = http1_over(connect(addr, ca, "api.example.test", None).await.unwrap()).await;
    assert_eq!(get(&mut sender, "/ok").await.unwrap(), 200);

    // The admin listener reports each certificate's remaining lifetime.
    let metrics = blocking_get(stack.edge.addr("admin"), "/metrics");
    for name in ["edge-server", "api", "partner"] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "rampart_tls_certificate_expiry_seconds{{certificate=\"{name}\"}}"
                ))
            })
            .unwrap_or_else(|| panic!("no expiry for {name}:\n{metrics}"));
        let seconds: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((80_000..=86_400).contains(&seconds), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificate_is_served_to_new_connections_while_open_ones_continue() {
    let backend = Backend::start().await;
    let sites = TestPki::new();
    let api = sites.issue("api", &server_spec(&["api.example.test"]));
    let mut opts = StackOptions::new(backend.url());
    opts.edge_tls_extra = format!(
        "reload_interval = \"100ms\"\n{}",
        certificate_block("api", &api)
    );
    let stack = Stack::start(&bins(), &opts);
    let addr = stack.https();
    let ca = &sites.ca_path;
    let first = leaf_in(&api.0);

    let open = connect(addr, ca, "api.example.test", None).await.unwrap();
    assert_eq!(leaf_of(&open), first);
    let mut open = http1_over(open).await;
    assert_eq!(get(&mut open, "/before").await.unwrap(), 200);

    // Replaced on disk: the next handshake gets the new certificate ...
    sites.issue("api", &server_spec(&["api.example.test"]));
    let second = leaf_in(&api.0);
    assert_ne!(first, second);
    let deadline = Instant::now() + Duration::from_secs(5);
    while served_leaf(addr, ca, "api.example.test").await != second {
        assert!(Instant::now() < deadline, "new certificate never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ... and the connection opened before keeps working.
    assert_eq!(get(&mut open, "/after").await.unwrap(), 200);

    // A broken replacement is refused with its file name; the last good one stays.
    let refusals = || {
        stack
            .edge
            .logs_containing("keeping the previous certificate")
            .into_iter()
            .filter(|l| l["error"].as_str().is_some_and(|e| e.contains("api.pem")))
            .count()
    };
    // (A poll between the new certificate and its key may already have refused once.)
    let before = refusals();
    std::fs::write(&api.0, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    wait_for("the refusal in the log", Duration::from_secs(5), || {
        refusals() > before
    });
    assert_eq!(served_leaf(addr, ca, "api.example.test").await, second);
    assert_eq!(get(&mut open, "/still").await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_certificates_and_does_not_stop_the_edge() {
    let backend = Backend::start().await;
    let sites = TestPki::new();
    let api = sites.issue("api", &server_spec(&["api.example.test"]));
    let mut opts = StackOptions::new(backend.url());
    opts.edge_tls_extra = format!(
        "reload_interval = \"1h\"\n{}",
        certificate_block("api", &api)
    );
    let stack = Stack::start(&bins(), &opts);
    let addr = stack.https();
    let ca = &sites.ca_path;

    sites.issue("api", &server_spec(&["api.example.test"]));
    let second = leaf_in(&api.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_ne!(
        served_leaf(addr, ca, "api.example.test").await,
        second,
        "no polling within the hour"
    );
    stack.edge.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for("the reload", Duration::from_secs(5), || {
        !stack
            .edge
            .logs_containing("TLS certificate reloaded")
            .is_empty()
    });
    assert_eq!(served_leaf(addr, ca, "api.example.test").await, second);
    stack.wait_ready(Duration::from_secs(2));
}

/// A stack whose edge asks for client certificates from `partners` (revoking `revoked`).
fn client_auth_stack(backend: &Backend, partners: &TestPki, revoked: &Path) -> Stack {
    let crl = partners
        .ca
        .crl_pem(&[&std::fs::read_to_string(revoked).unwrap()])
        .unwrap();
    let crl_path = partners.path().join("partners.crl.pem");
    std::fs::write(&crl_path, crl).unwrap();
    let mut opts = StackOptions::new(backend.url());
    opts.edge_tls_extra = format!(
        "reload_interval = \"100ms\"\n[tls.client_auth]\nca = {:?}\ncrls = [{:?}]\nprincipal = [\"san_uri\", \"subject_cn\"]\n",
        partners.ca_path.display().to_string(),
        crl_path.display().to_string()
    );
    Stack::start(&bins(), &opts)
}

fn metric(admin: SocketAddr, series: &str) -> u64 {
    let metrics = blocking_get(admin, "/metrics");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series}:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_client_certificate_is_accepted_and_named() {
    let backend = Backend::start().await;
    let partners = TestPki::new();
    let mut spec = Spec::new("Partner One", CertUsage::Client, 1);
    spec.dns = Vec::new();
    spec.uris = vec!["spiffe://partners.test/one".into()];
    let one = partners.issue("one", &spec);
    let revoked = partners.client("revoked", "revoked.partners.test");
    let stack = client_auth_stack(&backend, &partners, &revoked.0);
    let (addr, ca) = (stack.https(), stack.pki.ca_path.clone());

    assert_eq!(
        request_with(addr, &ca, Some((&one.0, &one.1))).await,
        Ok(200)
    );
    let accepted = stack.edge.logs_containing("client certificate accepted");
    assert_eq!(
        accepted.last().map(|l| l["principal"].clone()),
        Some("spiffe://partners.test/one".into()),
        "{accepted:?}"
    );
    // Asked for, not required: routes decide.
    assert_eq!(request_with(addr, &ca, None).await, Ok(200));
    assert_eq!(backend.seen().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_or_foreign_client_certificates_fail_the_handshake() {
    let backend = Backend::start().await;
    let partners = TestPki::new();
    let revoked = partners.client("revoked", "revoked.partners.test");
    let stack = client_auth_stack(&backend, &partners, &revoked.0);
    let (addr, ca) = (stack.https(), stack.pki.ca_path.clone());
    // Another CA, and one with the partner CA's very name that did not sign.
    let strangers = rampart_tls::pki::Ca::generate("Somebody else", 1).unwrap();
    let stranger = strangers
        .issue(&Spec::new("ok.partners.test", CertUsage::Client, 1))
        .unwrap();
    let foreign = (
        partners.path().join("foreign.pem"),
        partners.path().join("foreign.key"),
    );
    std::fs::write(&foreign.0, &stranger.cert_pem).unwrap();
    std::fs::write(&foreign.1, &stranger.key_pem).unwrap();
    let impostors = TestPki::new();
    let forged = impostors.client("forged", "ok.partners.test");
    let mut old = Spec::new("old.partners.test", CertUsage::Client, 1);
    old.not_before = time::Duration::days(-3);
    old.not_after = time::Duration::days(-1);
    let expired = partners.issue("expired", &old);
    // A look-alike from the right CA, not revoked, passes.
    let fine = partners.client("fine", "fine.partners.test");
    assert_eq!(
        request_with(addr, &ca, Some((&fine.0, &fine.1))).await,
        Ok(200)
    );

    let table = [
        (&revoked, "revoked", 1),
        (&foreign, "unknown_ca", 1),
        (&forged, "unknown_ca", 2),
        (&expired, "expired", 1),
    ];
    for (files, cause, count) in table {
        let refused = request_with(addr, &ca, Some((&files.0, &files.1))).await;
        assert!(refused.is_err(), "{cause}: {refused:?}");
        let series = format!("rampart_tls_handshake_failures_total{{cause=\"{cause}\"}}");
        wait_for(cause, Duration::from_secs(5), || {
            metric(stack.edge.addr("admin"), &series) == count
        });
    }
    assert_eq!(
        backend.seen().len(),
        1,
        "only the valid certificate got through"
    );
    let failures = stack.edge.logs_containing("TLS handshake failed");
    assert!(
        failures.iter().any(|l| l["cause"] == "revoked"),
        "{failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revocation_list_applies_to_the_next_handshake() {
    let backend = Backend::start().await;
    let partners = TestPki::new();
    let early = partners.client("early", "early.partners.test");
    let later = partners.client("later", "later.partners.test");
    let stack = client_auth_stack(&backend, &partners, &early.0);
    let (addr, ca) = (stack.https(), stack.pki.ca_path.clone());
    let identity = Some((later.0.as_path(), later.1.as_path()));
    assert_eq!(request_with(addr, &ca, identity).await, Ok(200));

    let crl = partners
        .ca
        .crl_pem(&[
            &std::fs::read_to_string(&early.0).unwrap(),
            &std::fs::read_to_string(&later.0).unwrap(),
        ])
        .unwrap();
    std::fs::write(partners.path().join("partners.crl.pem"), crl).unwrap();
    wait_for("the new list", Duration::from_secs(5), || {
        !stack
            .edge
            .logs_containing("revocation lists reloaded")
            .is_empty()
    });
    assert!(request_with(addr, &ca, identity).await.is_err());
    assert_eq!(backend.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_requiring_client_certificates_names_the_caller_to_the_backend() {
    let backend = Backend::start().await;
    let partners = TestPki::new();
    let mut spec = Spec::new("Partner One", CertUsage::Client, 1);
    spec.dns = Vec::new();
    spec.uris = vec!["spiffe://partners.test/one".into()];
    let one = partners.issue("one", &spec);
    let mut opts = StackOptions::new(backend.url());
    opts.edge_tls_extra = format!(
        "[tls.client_auth]\nca = {:?}\nprincipal = [\"san_uri\", \"subject_cn\"]\n",
        partners.ca_path.display().to_string(),
    );
    opts.edge_extra = concat!(
        "[[routes]]\nname = \"partners\"\npath_prefix = \"/partners\"\n",
        "client_cert = \"required\"\nauth = { methods = [\"mtls\"] }\n",
    )
    .into();
    let stack = Stack::start(&bins(), &opts);
    let (addr, ca) = (stack.https(), stack.pki.ca_path.clone());

    let with_cert = connect(addr, &ca, "localhost", Some((&one.0, &one.1)));
    let mut sender = http1_over(with_cert.await.unwrap()).await;
    assert_eq!(get(&mut sender, "/partners/orders").await.unwrap(), 200);
    let seen = backend.seen().last().unwrap().headers.clone();
    assert_eq!(seen["x-rampart-subject"], "spiffe://partners.test/one");
    assert_eq!(seen["x-rampart-auth-method"], "mtls");

    // Without a certificate: the route refuses, other routes still answer.
    let mut sender = http1_over(connect(addr, &ca, "localhost", None).await.unwrap()).await;
    assert_eq!(get(&mut sender, "/partners/orders").await.unwrap(), 401);
    assert_eq!(get(&mut sender, "/status").await.unwrap(), 200);
    assert_eq!(backend.seen().len(), 2);
}
