//! A test identity provider over HTTPS on 127.0.0.1:0, with a certificate from a fresh
//! test CA. Serves:
//! - `GET /.well-known/openid-configuration` (issuer, jwks_uri, token and introspection
//!   endpoints);
//! - `GET /jwks`: the public keys, one per algorithm (RS256, PS256, ES256, ES384, EdDSA);
//!   [`Idp::rotate`] adds a key and can drop the old one;
//! - `POST /token`: `client_credentials` grant (Basic auth with [`CLIENT_ID`] /
//!   [`CLIENT_SECRET`]) returning a signed JWT with the requested scopes;
//! - `POST /introspect`: RFC 7662 (Basic auth with [`INTROSPECT_ID`] /
//!   [`INTROSPECT_SECRET`]): active for tokens registered with [`Idp::register_opaque`]
//!   or issued by `/token`, inactive otherwise; calls are counted.
//!
//! [`Idp::set_down`] makes it close every connection at once. Free functions mint arbitrary
//! tokens (any header, claims, key, `alg: none`, HMAC with a given secret).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::pki::{CertUsage, Spec, TestPki};

/// Client allowed at `/token`.
pub const CLIENT_ID: &str = "rampart-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "client-secret";
/// Client allowed at `/introspect`.
pub const INTROSPECT_ID: &str = "rampart-edge";
/// Its secret.
pub const INTROSPECT_SECRET: &str = "introspect-secret";
/// The audience of tokens from `/token`.
pub const AUDIENCE: &str = "rampart-api";
/// Every asymmetric algorithm the IdP signs with.
pub const ALGS: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

enum Signer {
    Rsa(Arc<RsaKeyPair>, &'static dyn signature::RsaEncoding),
    Ec(Arc<EcdsaKeyPair>),
    Ed(Arc<Ed25519KeyPair>),
}

/// A signing key and its public JWK.
#[derive(Clone)]
pub struct IdpKey {
    pub kid: String,
    pub alg: &'static str,
    signer: Arc<Signer>,
    jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_pair() -> (Arc<RsaKeyPair>, Vec<u8>, Vec<u8>) {
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).unwrap();
    (Arc::new(pair), key.n().to_bytes_be(), key.e().to_bytes_be())
}

impl IdpKey {
    /// A fresh key for `alg` (RS256, PS256, ES256, ES384, EdDSA).
    pub fn generate(alg: &str, kid: &str) -> Self {
        let rng = SystemRandom::new();
        let (alg, signer, mut jwk) = match alg {
            "RS256" | "PS256" => {
                let (pair, n, e) = rsa_pair();
                let (alg, enc): (&'static str, &'static dyn signature::RsaEncoding) =
                    if alg == "RS256" {
                        ("RS256", &signature::RSA_PKCS1_SHA256)
                    } else {
                        ("PS256", &signature::RSA_PSS_SHA256)
                    };
                let jwk = json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)});
                (alg, Signer::Rsa(pair, enc), jwk)
            }
            "ES256" | "ES384" => {
                let (alg, fixed, len): (&'static str, _, usize) = if alg == "ES256" {
                    ("ES256", &signature::ECDSA_P256_SHA256_FIXED_SIGNING, 32)
                } else {
                    ("ES384", &signature::ECDSA_P384_SHA384_FIXED_SIGNING, 48)
                };
                let doc = EcdsaKeyPair::generate_pkcs8(fixed, &rng).unwrap();
                let pair = EcdsaKeyPair::from_pkcs8(fixed, doc.as_ref(), &rng).unwrap();
                let point = pair.public_key().as_ref().to_vec();
                let jwk = json!({
                    "kty": "EC", "crv": if len == 32 { "P-256" } else { "P-384" },
                    "x": b64(&point[1..=len]), "y": b64(&point[1 + len..]),
                });
                (alg, Signer::Ec(Arc::new(pair)), jwk)
            }
            "EdDSA" => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
                let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
                let jwk =
                    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
                ("EdDSA", Signer::Ed(Arc::new(pair)), jwk)
            }
            other => panic!("IdpKey::generate: unsupported alg {other}"),
        };
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg);
        jwk["use"] = json!("sig");
        Self {
            kid: kid.to_owned(),
            alg,
            signer: Arc::new(signer),
            jwk,
        }
    }

    /// The public JWK (with `kid`, `alg`, `use`).
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The public key as raw bytes (RSA: PKCS#1 DER; EC: uncompressed point; Ed25519: 32
    /// bytes): what an attacker would use as an HMAC secret in a key-confusion attack.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &*self.signer {
            Signer::Rsa(pair, _) => pair.public().as_ref().to_vec(),
            Signer::Ec(pair) => pair.public_key().as_ref().to_vec(),
            Signer::Ed(pair) => pair.public_key().as_ref().to_vec(),
        }
    }

    /// Signs `msg` as JWS wants it (ECDSA as fixed r||s).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &*self.signer {
            Signer::Rsa(pair, enc) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(*enc, &rng, msg, &mut sig).unwrap();
                sig
            }
            Signer::Ec(pair) => pair.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Signer::Ed(pair) => pair.sign(msg).as_ref().to_vec(),
        }
    }

    /// A token with header `{alg, kid, typ: "at+jwt"}` and `claims`, signed by this key.
    pub fn mint(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg, "kid": self.kid, "typ": "at+jwt"});
        mint_with(&header, claims, |m| self.sign(m))
    }
}

/// `b64(header).b64(claims).b64(sign(input))`.
pub fn mint_with(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// An unsigned token (`alg: none`, empty signature).
pub fn mint_none(claims: &Value) -> String {
    mint_with(&json!({"alg": "none", "typ": "JWT"}), claims, |_| {
        Vec::new()
    })
}

/// An HMAC token (`HS256`/`HS384`/`HS512`) keyed with `secret`.
pub fn mint_hmac(alg: &str, secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let algorithm = match alg {
        "HS256" => ring::hmac::HMAC_SHA256,
        "HS384" => ring::hmac::HMAC_SHA384,
        "HS512" => ring::hmac::HMAC_SHA512,
        other => panic!("mint_hmac: {other} is not HMAC"),
    };
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    mint_with(&header, claims, |m| {
        ring::hmac::sign(&ring::hmac::Key::new(algorithm, secret), m)
            .as_ref()
            .to_vec()
    })
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct State {
    issuer: String,
    /// Published keys, oldest first; the newest of each alg signs.
    keys: Vec<IdpKey>,
    token_alg: &'static str,
    opaque: HashMap<String, Value>,
    generation: usize,
}

struct Shared {
    state: Mutex<State>,
    down: AtomicBool,
    down_tx: tokio::sync::watch::Sender<bool>,
    jwks_calls: AtomicUsize,
    discovery_calls: AtomicUsize,
    introspect_calls: AtomicUsize,
    token_calls: AtomicUsize,
}

/// The running IdP. Stops when dropped.
pub struct Idp {
    pub addr: SocketAddr,
    pki: TestPki,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Idp {
    /// Starts an IdP with one key per algorithm in [`ALGS`].
    pub async fn start() -> Self {
        let pki = TestPki::new();
        let mut spec = Spec::new("localhost", CertUsage::Server, 1);
        spec.dns = vec!["localhost".into(), "127.0.0.1".into()];
        let (cert, key) = pki.issue("idp", &spec);
        let chain = rampart_tls::load_certs(&cert).unwrap();
        let key = rampart_tls::load_private_key(&key).unwrap();
        let tls = rampart_tls::public_server_config(chain, key).unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let keys = tokio::task::spawn_blocking(|| {
            ALGS.iter()
                .map(|alg| IdpKey::generate(alg, &format!("{}-1", alg.to_lowercase())))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let (down_tx, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                issuer: format!("https://127.0.0.1:{}", addr.port()),
                keys,
                token_alg: "RS256",
                opaque: HashMap::new(),
                generation: 1,
            }),
            down: AtomicBool::new(false),
            down_tx,
            jwks_calls: AtomicUsize::new(0),
            discovery_calls: AtomicUsize::new(0),
            introspect_calls: AtomicUsize::new(0),
            token_calls: AtomicUsize::new(0),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                if serving.down.load(Ordering::SeqCst) {
                    drop(stream); // "down": the connection closes before TLS
                    continue;
                }
                let acceptor = acceptor.clone();
                let shared = serving.clone();
                let mut down = serving.down_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&shared, req).await) }
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(tls), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = down.wait_for(|d| *d) => {} // going down drops open connections
                    }
                });
            }
        });
        Self {
            addr,
            pki,
            shared,
            task,
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn issuer(&self) -> String {
        self.shared.state.lock().unwrap().issuer.clone()
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer())
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer())
    }

    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.issuer())
    }

    /// The CA that signed the IdP's certificate (PEM file).
    pub fn ca_path(&self) -> PathBuf {
        self.pki.ca_path.clone()
    }

    /// A directory for test files (removed with the IdP).
    pub fn dir(&self) -> PathBuf {
        self.pki.path().to_owned()
    }

    /// The current (newest) key for `alg`.
    pub fn key(&self, alg: &str) -> IdpKey {
        let state = self.shared.state.lock().unwrap();
        state
            .keys
            .iter()
            .rev()
            .find(|k| k.alg == alg)
            .cloned()
            .unwrap_or_else(|| panic!("no {alg} key"))
    }

    /// Standard claims for `audience`: `iss`, `aud`, `sub: alice`, `iat` now, `exp` in
    /// five minutes, a `jti`, `scope: "read write"`.
    pub fn claims(&self, audience: &str) -> Value {
        let now = unix_now();
        json!({
            "iss": self.issuer(), "aud": audience, "sub": "alice", "client_id": CLIENT_ID,
            "iat": now, "exp": now + 300, "jti": format!("jti-{now}-{}", rand_suffix()),
            "scope": "read write",
        })
    }

    /// A token signed by the current `alg` key.
    pub fn mint(&self, alg: &str, claims: &Value) -> String {
        self.key(alg).mint(claims)
    }

    /// Adds a new key for `alg` (published from now on, signing new tokens); with
    /// `drop_old`, older `alg` keys are unpublished. Returns the new kid.
    pub async fn rotate(&self, alg: &str, drop_old: bool) -> String {
        let generation = {
            let mut state = self.shared.state.lock().unwrap();
            state.generation += 1;
            state.generation
        };
        let kid = format!("{}-{generation}", alg.to_lowercase());
        let alg_owned = alg.to_owned();
        let kid_owned = kid.clone();
        let key = tokio::task::spawn_blocking(move || IdpKey::generate(&alg_owned, &kid_owned))
            .await
            .unwrap();
        let mut state = self.shared.state.lock().unwrap();
        if drop_old {
            state.keys.retain(|k| k.alg != alg);
        }
        state.keys.push(key);
        kid
    }

    /// Which alg `/token` signs with (default RS256).
    pub fn set_token_alg(&self, alg: &'static str) {
        self.shared.state.lock().unwrap().token_alg = alg;
    }

    /// Makes `/introspect` answer `active: true` plus `claims` for `token`.
    pub fn register_opaque(&self, token: &str, claims: Value) {
        self.shared
            .state
            .lock()
            .unwrap()
            .opaque
            .insert(token.to_owned(), claims);
    }

    /// Makes `token` inactive at `/introspect`.
    pub fn revoke(&self, token: &str) {
        self.shared.state.lock().unwrap().opaque.remove(token);
    }

    /// Down: new connections are closed at once and open ones are dropped.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
        self.shared.down_tx.send_replace(down);
    }

    pub fn jwks_calls(&self) -> usize {
        self.shared.jwks_calls.load(Ordering::SeqCst)
    }

    pub fn discovery_calls(&self) -> usize {
        self.shared.discovery_calls.load(Ordering::SeqCst)
    }

    pub fn introspect_calls(&self) -> usize {
        self.shared.introspect_calls.load(Ordering::SeqCst)
    }

    pub fn token_calls(&self) -> usize {
        self.shared.token_calls.load(Ordering::SeqCst)
    }

    /// Gets a token from `/token` with this crate's own small client (trusting the IdP CA).
    pub async fn client_credentials(&self, scope: &str) -> String {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", scope)
            .finish();
        let body = https_post(
            self,
            "/token",
            &basic(CLIENT_ID, CLIENT_SECRET),
            form.into_bytes(),
        )
        .await;
        let doc: Value = serde_json::from_slice(&body).unwrap();
        doc["access_token"].as_str().unwrap().to_owned()
    }
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut b).unwrap();
    u64::from_le_bytes(b)
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

async fn https_post(idp: &Idp, path: &str, auth: &str, body: Vec<u8>) -> Bytes {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rampart_tls::load_certs(&idp.ca_path()).unwrap() {
        roots.add(cert).unwrap();
    }
    let config = rampart_tls::upstream_client_config(roots).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(idp.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::post(path)
        .header("host", "127.0.0.1")
        .header("authorization", auth)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().collect().await.unwrap().to_bytes()
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap()
}

/// The form fields of a small urlencoded body.
async fn form(req: Request<Incoming>) -> Option<HashMap<String, String>> {
    let body = Limited::new(req.into_body(), 64 * 1024)
        .collect()
        .await
        .ok()?
        .to_bytes();
    Some(form_urlencoded::parse(&body).into_owned().collect())
}

fn authorized(req: &Request<Incoming>, id: &str, secret: &str) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == basic(id, secret))
}

async fn answer(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/.well-known/openid-configuration") => {
            shared.discovery_calls.fetch_add(1, Ordering::SeqCst);
            let issuer = shared.state.lock().unwrap().issuer.clone();
            json_response(
                StatusCode::OK,
                &json!({
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}/jwks"),
                    "token_endpoint": format!("{issuer}/token"),
                    "introspection_endpoint": format!("{issuer}/introspect"),
                    "grant_types_supported": ["client_credentials"],
                }),
            )
        }
        (Method::GET, "/jwks") => {
            shared.jwks_calls.fetch_add(1, Ordering::SeqCst);
            let keys: Vec<Value> = shared
                .state
                .lock()
                .unwrap()
                .keys
                .iter()
                .map(IdpKey::jwk)
                .collect();
            json_response(StatusCode::OK, &json!({ "keys": keys }))
        }
        (Method::POST, "/token") => {
            shared.token_calls.fetch_add(1, Ordering::SeqCst);
            if !authorized(&req, CLIENT_ID, CLIENT_SECRET) {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": "invalid_client"}),
                );
            }
            let Some(fields) = form(req).await else {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "invalid_request"}),
                );
            };
            if fields.get("grant_type").map(String::as_str) != Some("client_credentials") {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "unsupported_grant_type"}),
                );
            }
            let scope = fields.get("scope").cloned().unwrap_or_default();
            let (issuer, key) = {
                let state = shared.state.lock().unwrap();
                let key = state
                    .keys
                    .iter()
                    .rev()
                    .find(|k| k.alg == state.token_alg)
                    .cloned()
                    .unwrap();
                (state.issuer.clone(), key)
            };
            let now = unix_now();
            let claims = json!({
                "iss": issuer, "aud": AUDIENCE, "sub": CLIENT_ID, "client_id": CLIENT_ID,
                "iat": now, "exp": now + 300, "scope": scope,
                "jti": format!("jti-{now}-{}", rand_suffix()),
            });
            let token = key.mint(&claims);
            let mut registered = claims;
            registered["token_type"] = json!("Bearer");
            shared
                .state
                .lock()
                .unwrap()
                .opaque
                .insert(token.clone(), registered);
            json_response(
                StatusCode::OK,
                &json!({"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": scope}),
            )
        }
        (Method::POST, "/introspect") => {
            shared.introspect_calls.fetch_add(1, Ordering::SeqCst);
            if !authorized(&req, INTROSPECT_ID, INTROSPECT_SECRET) {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": "invalid_client"}),
                );
            }
            let Some(fields) = form(req).await else {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "invalid_request"}),
                );
            };
            let token = fields.get("token").cloned().unwrap_or_default();
            let found = shared.state.lock().unwrap().opaque.get(&token).cloned();
            let body = match found {
                Some(mut claims) => {
                    claims["active"] = json!(true);
                    claims
                }
                None => json!({"active": false}),
            };
            json_response(StatusCode::OK, &body)
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found"})),
    }
}
