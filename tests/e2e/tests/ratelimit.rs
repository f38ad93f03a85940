//! Edge throttling seen from clients: a per-client bucket with its `RateLimit` headers,
//! and a fleet-wide limit shared through a real redis-server by two edge processes in
//! front of one inner tier, through a redis outage and back.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::process::TierProcess;
use rampart_test_support::redis::RedisServer;
use rampart_test_support::stack::{Stack, StackOptions, blocking_get};
use tokio::net::TcpStream;

use crate::common::{assert_problem, bins};

fn request(
    client: &str,
    method: &str,
    target: &str,
    content_type: Option<&str>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "api.example.test")
        .header("x-forwarded-for", client);
    let body = match content_type {
        Some(ct) => {
            builder = builder.header("content-type", ct);
            Bytes::from_static(b"{}")
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).unwrap()
}

/// One entry of a `RateLimit` header (`"name";r=2;t=60`): name, remaining, reset.
fn rate_limit_entry(value: &str) -> (String, u64, u64) {
    let mut fields = value.split(';');
    let name = fields.next().unwrap().trim_matches('"').to_owned();
    let mut get = |key: &str| -> u64 {
        let field = fields
            .next()
            .unwrap_or_else(|| panic!("no {key} in {value:?}"));
        let number = field
            .strip_prefix(key)
            .and_then(|f| f.strip_prefix('='))
            .unwrap_or_else(|| panic!("expected {key}= in {value:?}"));
        number.parse().unwrap()
    };
    let remaining = get("r");
    let reset = get("t");
    (name, remaining, reset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_burst_gets_429_and_requests_refused_by_other_checks_cost_nothing() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    // One token a minute after a burst of three: nothing refills while the test runs.
    opts.edge_extra = r#"
[client_ip]
source = "x-forwarded-for"
trusted_proxies = ["127.0.0.0/8"]

[[routes]]
name = "orders"
path_prefix = "/orders"
methods = ["GET", "POST"]
content_types = ["application/json"]
max_query_params = 3

[rate_limit]
[[rate_limit.policies]]
name = "per-ip"
key = ["client_ip"]
rate = "1/min"
burst = 3
"#
    .into();
    let stack = Stack::start(&bins(), &opts);
    let (alice, bob) = ("198.51.100.1", "198.51.100.2");
    let json = Some("application/json");

    // Refused by the route's rules before the limiter is asked: twice the burst of them.
    let refusals: [(&str, &str, Option<&str>, u16, &str); 3] = [
        ("DELETE", "/orders/1", None, 405, "method-not-allowed"),
        (
            "POST",
            "/orders",
            Some("application/xml"),
            415,
            "unsupported-media-type",
        ),
        ("GET", "/orders?a&b&c&d", None, 400, "bad-request"),
    ];
    for _ in 0..2 {
        for (method, target, ct, status, reason) in refusals {
            let response = collect(
                http1(stack.http(), request(alice, method, target, ct))
                    .await
                    .unwrap(),
            )
            .await;
            assert_problem(&response, status, reason);
        }
    }

    // The look-alikes of those refusals pass: the whole burst is still there.
    let admitted: [(&str, &str, Option<&str>); 3] = [
        ("GET", "/orders/1", None),
        ("POST", "/orders", json),
        ("GET", "/orders?a&b&c", None),
    ];
    for (i, (method, target, ct)) in admitted.into_iter().enumerate() {
        let label = format!("{method} {target}");
        let response = collect(
            http1(stack.http(), request(alice, method, target, ct))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(response.status, 200, "{label}: {:?}", response.body);
        assert_eq!(
            response.header("ratelimit-policy"),
            Some("\"per-ip\";q=1;w=60"),
            "{label}"
        );
        let (name, remaining, reset) =
            rate_limit_entry(response.header("ratelimit").expect("RateLimit header"));
        assert_eq!(name, "per-ip");
        assert_eq!(remaining, 2 - i as u64, "{label}");
        // A full bucket is `burst` minutes away after `i + 1` tokens were taken.
        let full_in = 60 * (i as u64 + 1);
        assert!(
            (full_in - 5..=full_in).contains(&reset),
            "{label}: t={reset}"
        );
        assert_eq!(response.header("retry-after"), None, "{label}");
    }

    // Over the burst: 429 with the headers that say when to come back.
    let mut first_retry = None;
    for attempt in 0..3 {
        let response = collect(
            http1(stack.http(), request(alice, "GET", "/orders/2", None))
                .await
                .unwrap(),
        )
        .await;
        assert_problem(&response, 429, "rate-limited");
        let retry: u64 = response
            .header("retry-after")
            .expect("Retry-After header")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "Retry-After: {retry}");
        // Refused requests take nothing: hammering does not push the wait further out.
        if let Some(first) = first_retry {
            assert!(retry <= first, "attempt {attempt}: {retry} > {first}");
        }
        first_retry.get_or_insert(retry);
        assert_eq!(
            response.header("ratelimit-policy"),
            Some("\"per-ip\";q=1;w=60")
        );
        let (name, remaining, reset) =
            rate_limit_entry(response.header("ratelimit").expect("RateLimit header"));
        assert_eq!((name.as_str(), remaining), ("per-ip", 0));
        assert!((170..=180).contains(&reset), "t={reset}");
    }
    // The other checks still come first for a throttled client.
    let response = collect(
        http1(stack.http(), request(alice, "DELETE", "/orders/1", None))
            .await
            .unwrap(),
    )
    .await;
    assert_problem(&response, 405, "method-not-allowed");

    // Another client address has its own bucket.
    let response = collect(
        http1(stack.http(), request(bob, "GET", "/orders/2", None))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 200);
    let (_, remaining, _) = rate_limit_entry(response.header("ratelimit").unwrap());
    assert_eq!(remaining, 2);

    // Only the four admitted requests reached the backend.
    let seen: Vec<String> = backend.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        seen,
        ["/orders/1", "/orders", "/orders?a&b&c", "/orders/2"],
        "refused requests reached the backend"
    );
}

// ---------------------------------------------------------------------------------------
// Two edges, one redis.

const FLEET_RATE: u64 = 100;
const FLEET_BURST: u64 = 50;
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
const FLEET_POLICY: &[u8] = b"\"fleet\";q=100;w=1";

/// What a group of load clients got back.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    sent: u64,
    admitted: u64,
    limited: u64,
    unavailable: u64,
    /// Any other status, or a transport error.
    other: u64,
    /// Answers of the limiter (200, 429) without the fleet policy's headers.
    unexplained: u64,
    /// The slowest answer.
    slowest: Duration,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.admitted += other.admitted;
        self.limited += other.limited;
        self.unavailable += other.unavailable;
        self.other += other.other;
        self.unexplained += other.unexplained;
        self.slowest = self.slowest.max(other.slowest);
    }
}

fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(path)
        .header("host", "api.example.test")
        .body(Empty::new())
        .unwrap()
}

/// A keep-alive HTTP/1.1 connection.
async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// One client sending on its connection until `until`, one request every `pace` (or
/// back to back), each answer within a generous bound.
async fn client_loop(
    addr: SocketAddr,
    mut sender: SendRequest<Empty<Bytes>>,
    until: Instant,
    pace: Option<Duration>,
) -> Tally {
    let mut tally = Tally::default();
    let mut ticker = pace.map(|p| {
        let mut t = tokio::time::interval(p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        if let Some(ticker) = ticker.as_mut() {
            ticker.tick().await;
        }
        if Instant::now() >= until {
            return tally;
        }
        tally.sent += 1;
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            sender.ready().await?;
            let response = sender.send_request(get("/fleet")).await?;
            let status = response.status().as_u16();
            let header = |name| response.headers().get(name).map(|v| v.as_bytes().to_vec());
            let explained = header("ratelimit-policy").as_deref() == Some(FLEET_POLICY)
                && header("ratelimit").is_some_and(|v| v.starts_with(b"\"fleet\";r="))
                && (status != 429 || header("retry-after").is_some());
            response.into_body().collect().await?;
            Ok::<_, hyper::Error>((status, explained))
        })
        .await;
        tally.slowest = tally.slowest.max(started.elapsed());
        if let Ok(Ok((200 | 429, false))) = answer {
            tally.unexplained += 1;
        }
        match answer {
            Ok(Ok((200, _))) => tally.admitted += 1,
            Ok(Ok((429, _))) => tally.limited += 1,
            Ok(Ok((503, _))) => tally.unavailable += 1,
            _ => {
                tally.other += 1;
                sender = connect(addr).await;
            }
        }
    }
}

/// Drives `clients` connections per edge for `duration`; returns the tally per edge.
/// Paced clients each get a slightly different period: in lockstep, the one whose tick
/// follows each refill would win every token.
async fn drive(
    edges: &[SocketAddr],
    clients: usize,
    duration: Duration,
    pace: Option<Duration>,
) -> Vec<Tally> {
    // Every connection is up before the clock starts.
    let mut senders = Vec::new();
    for &addr in edges {
        for _ in 0..clients {
            senders.push((addr, connect(addr).await));
        }
    }
    let until = Instant::now() + duration;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, (addr, sender))| {
            let pace = pace.map(|p| p + Duration::from_micros(700) * u32::try_from(i).unwrap());
            tokio::spawn(client_loop(addr, sender, until, pace))
        })
        .collect();
    let mut per_edge = vec![Tally::default(); edges.len()];
    for (i, task) in tasks.into_iter().enumerate() {
        per_edge[i / clients].add(task.await.unwrap());
    }
    per_edge
}

fn total(tallies: &[Tally]) -> Tally {
    let mut sum = Tally::default();
    for t in tallies {
        sum.add(*t);
    }
    sum
}

/// Asserts `admitted` is within 5% of what the fleet limit admits in `duration` from a
/// full bucket.
fn assert_fleet_admitted(phase: &str, tallies: &[Tally], duration: Duration) {
    let sum = total(tallies);
    let expected = FLEET_BURST as f64 + FLEET_RATE as f64 * duration.as_secs_f64();
    let admitted = sum.admitted as f64;
    assert!(
        (admitted - expected).abs() <= expected * 0.05,
        "{phase}: admitted {admitted}, expected {expected} +/- 5% ({tallies:?})"
    );
    assert!(
        sum.limited as f64 >= expected,
        "{phase}: the offered load did not exceed the limit ({tallies:?})"
    );
    assert_eq!((sum.other, sum.unexplained), (0, 0), "{phase}: {tallies:?}");
    // Each edge alone offered over the limit and got some of it: with a bucket per edge
    // instead of a shared one, together they would have admitted twice as much. (1.25x:
    // the paced phase offers at most 1.8x, less when a loaded box adds latency.)
    for (i, t) in tallies.iter().enumerate() {
        assert!(
            t.sent as f64 >= 1.25 * expected && t.admitted > 0,
            "{phase}: edge {i} did not take part ({tallies:?})"
        );
    }
}

/// Decision scripts redis has run since it started (`EVALSHA` and `EVAL`).
fn eval_calls(redis: &RedisServer) -> u64 {
    let info = redis.command("INFO commandstats");
    ["cmdstat_evalsha:calls=", "cmdstat_eval:calls="]
        .iter()
        .filter_map(|field| {
            let rest = &info[info.find(field)? + field.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        })
        .sum()
}

/// Starts another edge on `config` and waits until it is ready.
fn start_edge(name: &str, config: &Path) -> TierProcess {
    let edge = TierProcess::start(name, &bins().edge, config, &["http", "https", "admin"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !blocking_get(edge.addr("admin"), "/readyz").starts_with("HTTP/1.1 200") {
        assert!(Instant::now() < deadline, "{name} not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    edge
}

/// One GET on a fresh connection, with how long it took.
async fn probe(addr: SocketAddr) -> (rampart_test_support::client::Collected, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(10), async {
        collect(http1(addr, get("/fleet")).await.unwrap()).await
    })
    .await
    .expect("no answer within 10 s");
    (response, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_edges_sharing_redis_admit_the_fleet_rate_and_fail_closed_while_redis_is_down() {
    let backend = Backend::start().await;
    let mut redis = RedisServer::spawn();
    let mut opts = StackOptions::new(backend.url());
    opts.edge_extra = format!(
        r#"
[rate_limit]
[[rate_limit.policies]]
name = "fleet"
key = []
rate = "{FLEET_RATE}/s"
burst = {FLEET_BURST}

[rate_limit.redis]
url = "{url}"
timeout = "{timeout}ms"
fail_open = false
"#,
        url = redis.url(),
        timeout = REDIS_TIMEOUT.as_millis(),
    );
    let stack = Stack::start(&bins(), &opts);
    // The second edge: the same file (same certificates, same inner, same redis); its
    // listeners are ephemeral ports too.
    let edge_a_toml = stack.pki.path().join("edge.toml");
    let edge_b_toml = stack.pki.path().join("edge-b.toml");
    std::fs::copy(&edge_a_toml, &edge_b_toml).unwrap();
    let edge_b = start_edge("edge-b", &edge_b_toml);
    // A third edge that fails open, keeping a tight local share of the limit (1/s) as
    // its only guard while redis is away. Idle until then.
    let config = std::fs::read_to_string(&edge_a_toml).unwrap();
    assert!(config.contains("fail_open = false"));
    let edge_c_toml = stack.pki.path().join("edge-c.toml");
    std::fs::write(
        &edge_c_toml,
        config.replace("fail_open = false", "fail_open = true\nlocal_share = 0.01"),
    )
    .unwrap();
    let edge_c = start_edge("edge-c", &edge_c_toml);
    let edges = [stack.http(), edge_b.addr("http")];

    // 1. Ten seconds of load from both sides, a few paced keep-alive clients per edge
    //    offering several times the limit: together they get the fleet's rate, not
    //    twice it (each edge alone would admit the full limit). Paced (~375/s in all) so
    //    that each edge alone offers well over the limit and the heavy phase can still
    //    offer clearly more.
    let phase = Duration::from_secs(10);
    let moderate = drive(&edges, 3, phase, Some(Duration::from_millis(16))).await;
    eprintln!("moderate load: {moderate:?}");
    assert_fleet_admitted("moderate load", &moderate, phase);
    assert_eq!(total(&moderate).unavailable, 0, "{moderate:?}");
    assert_eq!(backend.seen().len() as u64, total(&moderate).admitted);
    // Every admission was decided in redis.
    assert!(
        eval_calls(&redis) >= total(&moderate).admitted,
        "{}",
        redis.command("INFO commandstats")
    );

    // 2. Far more offered load (back to back, more clients) once the bucket is full
    //    again: refusals consume nothing, so the admissions do not drop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let phase = Duration::from_secs(5);
    let heavy = drive(&edges, 8, phase, None).await;
    eprintln!("heavy load: {heavy:?}");
    assert_fleet_admitted("heavy load", &heavy, phase);
    let offered = |t: &[Tally], secs: f64| total(t).sent as f64 / secs;
    // 1.5x, not 2x: on a 2-core box with other work on it the back-to-back clients
    // measured 1.76x the paced ones.
    assert!(
        offered(&heavy, 5.0) >= 1.5 * offered(&moderate, 10.0),
        "heavy load was not heavier: {heavy:?} vs {moderate:?}"
    );
    assert_eq!(
        backend.seen().len() as u64,
        total(&moderate).admitted + total(&heavy).admitted
    );
    let served_before_outage = backend.seen().len();

    // 3. Redis goes away: fail closed, 503 within the redis deadline (plus slack), on
    //    both edges, and nothing reaches the backend.
    redis.stop();
    let bound = REDIS_TIMEOUT + Duration::from_millis(1500);
    for &edge in &edges {
        for _ in 0..3 {
            let (response, took) = probe(edge).await;
            assert_problem(&response, 503, "inspection-unavailable");
            assert_eq!(response.header("retry-after"), Some("1"));
            assert!(took < bound, "503 took {took:?}");
        }
    }
    let outage = drive(&edges, 2, Duration::from_secs(2), None).await;
    eprintln!("outage: {outage:?}");
    let sum = total(&outage);
    assert!(sum.unavailable > 0, "{outage:?}");
    assert_eq!(
        (sum.admitted, sum.other),
        (0, 0),
        "admitted without redis: {outage:?}"
    );
    assert!(sum.slowest < bound, "{outage:?}");
    // The fail-open edge keeps limiting locally meanwhile: its 1/s share admits, the
    // rest is refused with 429, never 503.
    let window = Duration::from_secs(2);
    let degraded = drive(&[edge_c.addr("http")], 4, window, None).await[0];
    eprintln!("fail-open edge during the outage: {degraded:?}");
    assert!(degraded.admitted >= 1, "{degraded:?}");
    assert!(
        degraded.admitted <= 1 + window.as_secs() + 1,
        "the local share did not limit: {degraded:?}"
    );
    assert!(degraded.limited > 0, "{degraded:?}");
    assert_eq!(
        (degraded.unavailable, degraded.other, degraded.unexplained),
        (0, 0, 0),
        "{degraded:?}"
    );
    assert_eq!(
        backend.seen().len() as u64,
        served_before_outage as u64 + degraded.admitted
    );
    for edge in [&stack.edge, &edge_b] {
        assert!(
            !edge
                .logs_containing("rate-limit store unavailable")
                .is_empty(),
            "{} did not log the outage",
            edge.name
        );
    }

    // 4. Redis comes back (empty): both edges admit again, without a restart.
    redis.start();
    let restarted = Instant::now();
    for &edge in &edges {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (response, _) = probe(edge).await;
            if response.status == 200 {
                break;
            }
            assert_problem(&response, 503, "inspection-unavailable");
            assert!(
                Instant::now() < deadline,
                "{edge} did not recover after redis came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!(
        "admissions resumed {:?} after redis restarted",
        restarted.elapsed()
    );
    // The new, empty redis decided them (the script is sent again after NOSCRIPT).
    assert!(
        eval_calls(&redis) >= 2,
        "the recovered admissions were not decided in redis: {}",
        redis.command("INFO commandstats")
    );
    for edge in [&stack.edge, &edge_b] {
        assert!(
            !edge.logs_containing("store answers again").is_empty(),
            "{} did not log the recovery",
            edge.name
        );
    }
}
