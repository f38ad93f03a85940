//! Threat-intelligence feeds at the edge, against a real HTTPS feed server on loopback
//! (certificate from a fresh test CA): an update adds and removes addresses in one swap,
//! a broken update (garbage, oversize, 500, timeout, suddenly empty) keeps the last good
//! copy, a stale feed raises its event, and the cached copy survives a restart with the
//! feed unreachable. Client addresses vary through `X-Forwarded-For` from the trusted
//! loopback proxy.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::pki::{CertUsage, Spec, TestPki};
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::common::bins;

/// What the feed server answers.
#[derive(Clone)]
enum Answer {
    Body(String),
    Status(u16),
    Hang,
}

struct FeedServer {
    addr: SocketAddr,
    pki: TestPki,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FeedServer {
    async fn start(first: Answer) -> Self {
        let pki = TestPki::new();
        let mut spec = Spec::new("localhost", CertUsage::Server, 1);
        spec.dns = vec!["localhost".into(), "127.0.0.1".into()];
        let (cert, key) = pki.issue("feed", &spec);
        let chain = rampart_tls::load_certs(&cert).unwrap();
        let key = rampart_tls::load_private_key(&key).unwrap();
        let tls = rampart_tls::public_server_config(chain, key).unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(first));
        let requests = Arc::new(AtomicUsize::new(0));
        let (serving, counted) = (answer.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, answer, requests) =
                    (acceptor.clone(), serving.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |_req: Request<_>| {
                        let current = answer.lock().unwrap().clone();
                        requests.fetch_add(1, Ordering::SeqCst);
                        async move {
                            let response = match current {
                                Answer::Body(body) => Response::new(Full::new(Bytes::from(body))),
                                Answer::Status(code) => {
                                    let mut r = Response::new(Full::new(Bytes::from_static(b"no")));
                                    *r.status_mut() = StatusCode::from_u16(code).unwrap();
                                    r
                                }
                                Answer::Hang => {
                                    tokio::time::sleep(Duration::from_secs(30)).await;
                                    Response::new(Full::new(Bytes::new()))
                                }
                            };
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            pki,
            answer,
            requests,
            task,
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Waits until the edge has asked `n` more times (so the current answer was seen).
    async fn wait_requests(&self, n: usize) {
        let target = self.requests.load(Ordering::SeqCst) + n;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.requests.load(Ordering::SeqCst) < target {
            assert!(
                Instant::now() < deadline,
                "the edge stopped fetching the feed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn edge_config(url: &str, ca: &str, extra: &str) -> String {
    format!(
        r#"
[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["127.0.0.1/32"]

[[feeds]]
name = "drop"
url = "{url}"
format = "drop"
refresh = "200ms"
timeout = "1s"
connect_timeout = "1s"
max_bytes = "4KiB"
max_entries = 100
ca_file = {ca:?}
{extra}
"#
    )
}

async fn status_for(stack: &Stack, client: &str) -> u16 {
    let request = Request::builder()
        .uri("/orders")
        .header("host", "api.example.test")
        .header("x-forwarded-for", client)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = http1(stack.http(), request).await.unwrap();
    collect(response).await.status.as_u16()
}

/// Polls until `client` gets `status` (the feed refreshes in the background).
async fn until_status(stack: &Stack, client: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if status_for(stack, client).await == status {
            return;
        }
        assert!(Instant::now() < deadline, "{client} never got {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const V1: &str = "; Spamhaus-style DROP list\n; Last-Modified: today\n127.0.0.2/32 ; SBL1\n198.51.100.0/24 ; SBL2\n";
const V2: &str = "; the next day\n127.0.0.3/32 ; SBL3\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_update_swaps_addresses_and_a_broken_update_keeps_the_last_good_copy() {
    let backend = Backend::start().await;
    let feed = FeedServer::start(Answer::Body(V1.into())).await;
    let url = format!("https://127.0.0.1:{}/drop.txt", feed.addr.port());
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = edge_config(&url, &feed.pki.ca_path.display().to_string(), "");
    let stack = Stack::start(&bins(), &opts);

    until_status(&stack, "127.0.0.2", 403).await;
    assert_eq!(status_for(&stack, "198.51.100.77").await, 403);
    assert_eq!(status_for(&stack, "127.0.0.3").await, 200);

    // The next version adds one address and drops the others, in one swap.
    feed.set(Answer::Body(V2.into()));
    until_status(&stack, "127.0.0.3", 403).await;
    assert_eq!(status_for(&stack, "127.0.0.2").await, 200);
    assert_eq!(status_for(&stack, "198.51.100.77").await, 200);

    // Each broken update is fetched (at least twice) and refused; V2 stays in force.
    let oversize: String = (0..400)
        .map(|i| format!("10.0.{}.{} ; SBL\n", i / 250, i % 250))
        .collect();
    let broken = [
        (
            "garbage",
            Answer::Body("<html><body>502 Bad Gateway</body></html>\n".into()),
        ),
        ("oversize", Answer::Body(oversize)),
        ("empty", Answer::Body("; nothing today\n".into())),
        ("500", Answer::Status(500)),
        ("timeout", Answer::Hang),
    ];
    for (name, answer) in broken {
        feed.set(answer);
        feed.wait_requests(2).await;
        assert_eq!(status_for(&stack, "127.0.0.3").await, 403, "after {name}");
        assert_eq!(status_for(&stack, "127.0.0.2").await, 200, "after {name}");
    }
    let warnings = stack.edge.logs_containing("feed refresh failed");
    for expected in [
        "unparsable",
        "larger than",
        "empty",
        "HTTP 500",
        "timed out",
    ] {
        assert!(
            warnings.iter().any(|l| l.to_string().contains(expected)),
            "no refusal for {expected}: {warnings:?}"
        );
    }

    // A good copy again.
    feed.set(Answer::Body(V1.into()));
    until_status(&stack, "127.0.0.2", 403).await;

    // Denials by the feed are audited with the feed's name as the rule.
    let audited = stack.edge.logs().into_iter().any(|l| {
        l["target"] == "rampart::audit" && l["check"] == "ip-policy" && l["rule"] == "drop"
    });
    assert!(audited, "no audit record naming the feed");
    let metrics = blocking_get(stack.edge.addr("admin"), "/metrics");
    assert!(
        metrics.contains("rampart_feed_entries{feed=\"drop\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rampart_feed_age_seconds{feed=\"drop\"}"),
        "{metrics}"
    );

    // A reload while the feed is failing: the new generation takes over the copy in
    // force instead of starting empty (no cache_dir here), so nothing slips through.
    feed.set(Answer::Status(500));
    feed.wait_requests(1).await;
    stack.edge.signal(nix::sys::signal::Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !blocking_get(stack.edge.addr("admin"), "/metrics")
        .contains("rampart_config_generation{tier=\"edge\"} 2")
    {
        assert!(Instant::now() < deadline, "the edge never reloaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status_for(&stack, "127.0.0.2").await,
        403,
        "right after the reload"
    );
    feed.wait_requests(2).await;
    assert_eq!(
        status_for(&stack, "127.0.0.2").await,
        403,
        "after failed refreshes"
    );
}

/// `feed-stale` system events in the edge's audit records (what alert rules match).
fn stale_events(stack: &Stack) -> usize {
    let is_stale = |l: &serde_json::Value| {
        l["target"] == "rampart::audit"
            && l["kind"] == "system"
            && l["component"] == "feed"
            && l["name"] == "drop"
            && l["state"] == "down"
            && l["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("feed-stale"))
    };
    stack.edge.logs().iter().filter(|l| is_stale(l)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_feed_raises_its_event_and_its_cached_copy_survives_a_restart() {
    let backend = Backend::start().await;
    let feed = FeedServer::start(Answer::Body(V1.into())).await;
    let cache = tempfile::tempdir().unwrap();
    let ca = feed.pki.ca_path.display().to_string();
    let url = format!("https://127.0.0.1:{}/drop.txt", feed.addr.port());
    let extra = format!(
        "stale_after = \"1s\"\ncache_dir = {:?}",
        cache.path().display().to_string()
    );
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = edge_config(&url, &ca, &extra);
    let stack = Stack::start(&bins(), &opts);
    until_status(&stack, "127.0.0.2", 403).await;
    assert!(cache.path().join("drop.feed").is_file());

    // The feed fails from now on: after stale_after the edge says so, once.
    feed.set(Answer::Status(503));
    let deadline = Instant::now() + Duration::from_secs(60);
    while stale_events(&stack) == 0 {
        assert!(Instant::now() < deadline, "no feed-stale event");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    feed.wait_requests(3).await;
    assert_eq!(stale_events(&stack), 1);
    assert_eq!(status_for(&stack, "127.0.0.2").await, 403);
    drop(stack);

    // A restart with the feed unreachable starts from the cached copy.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("https://127.0.0.1:{closed}/drop.txt");
    opts.edge_extra = edge_config(&url, &ca, &extra);
    let stack = Stack::start(&bins(), &opts);
    assert_eq!(status_for(&stack, "127.0.0.2").await, 403);
    assert_eq!(status_for(&stack, "127.0.0.3").await, 200);
}

#[test]
fn feed_settings_are_validated_with_key_paths() {
    let pki = TestPki::new();
    let ca = pki.ca_path.display().to_string();
    let cases = [
        (
            "url = \"http://127.0.0.1:1/drop.txt\"".to_owned(),
            "feeds[0].url",
        ),
        (
            format!("url = \"ftp://127.0.0.1/x\"\nca_file = {ca:?}"),
            "feeds[0].url",
        ),
        (
            "file = \"a.txt\"\nurl = \"https://127.0.0.1/x\"".to_owned(),
            "feeds[0].url",
        ),
        (
            "file = \"a.txt\"\nformat = \"json\"".to_owned(),
            "feeds[0].format",
        ),
        (
            "file = \"a.txt\"\nmax_bytes = \"1TiB\"".to_owned(),
            "feeds[0].max_bytes",
        ),
        (
            "file = \"a.txt\"\naction = \"allow\"".to_owned(),
            "feeds[0].action",
        ),
        ("file = \"a.txt\"\nsurprise = 1".to_owned(), "feeds"),
    ];
    for (body, key) in cases {
        let config = format!(
            r#"[server]
http_listen = "127.0.0.1:0"
[inner]
endpoints = ["127.0.0.1:1"]
server_name = "rampart-inner"
ca = {ca:?}
client_cert = {ca:?}
client_key = {ca:?}
[[feeds]]
name = "drop"
{body}
"#
        );
        let path = pki.path().join("edge.toml");
        std::fs::write(&path, config).unwrap();
        let err = match rampart_edge::EdgeConfig::load(&path) {
            Ok(_) => panic!("{body}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(key), "{body}: {err}");
    }
}
