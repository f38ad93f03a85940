//! The inner tier's antivirus seen from a client, against a real clamd and c-icap: malware
//! in any wrapping is refused with 403 before the backend sees a byte, each look-alike
//! passes, and an engine that cannot answer fails closed with 503 — unless the route
//! says otherwise.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_test_support::antivirus::{AvServices, EICAR, TEST_MARKER};
use rampart_test_support::backend::{Backend, BodyOutcome};
use rampart_test_support::client::{Collected, collect, http1};
use rampart_test_support::process::TierProcess;
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{assert_problem, bins};

/// One catch-all route that inspects opaque bodies up to 16 MiB.
const ROUTES: &str = r#"
[[routes]]
name = "uploads"
path_prefix = "/"
upstream = "app"
inspection = { allow_opaque = true, max_body = "16MiB" }
"#;

/// What a client uploads.
#[derive(Clone)]
struct Upload {
    content_type: String,
    encoding: Option<&'static str>,
    body: Vec<u8>,
}

impl Upload {
    fn new(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            content_type: content_type.to_owned(),
            encoding: None,
            body: body.into(),
        }
    }
}

async fn send(stack: &Stack, path: &str, upload: &Upload) -> Collected {
    let mut builder = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "api.example.test")
        .header("content-type", &upload.content_type);
    if let Some(coding) = upload.encoding {
        builder = builder.header("content-encoding", coding);
    }
    let request = builder
        .body(Full::new(Bytes::from(upload.body.clone())))
        .unwrap();
    collect(http1(stack.http(), request).await.unwrap()).await
}

/// The EICAR file with one letter changed: matches neither its hash nor its signature.
fn eicar_look_alike() -> Vec<u8> {
    String::from_utf8(EICAR.to_vec())
        .unwrap()
        .replace("TEST-FILE", "TEST-FILF")
        .into_bytes()
}

fn marker_look_alike() -> Vec<u8> {
    TEST_MARKER.replace("7f3a", "7f3b").into_bytes()
}

fn json_with(text: &str) -> Vec<u8> {
    serde_json::json!({"title": "quarterly report", "comment": text, "pages": [1, 2, 3]})
        .to_string()
        .into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zip_with(name: &str, content: &[u8]) -> Vec<u8> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, options).unwrap();
    zip.write_all(content).unwrap();
    zip.finish().unwrap().into_inner()
}

const BOUNDARY: &str = "rampart-e2e-boundary-7d1";

/// A form with a text field and `content` as a file part.
fn multipart_with_file(content: &[u8]) -> Upload {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nquarterly report\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Upload::new(&format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// `payload` in every wrapping the inner tier must see through, by name.
fn wrappings(payload: &[u8]) -> Vec<(&'static str, Upload)> {
    let text = std::str::from_utf8(payload).unwrap();
    let mut gzipped = Upload::new("application/json", gzip(&json_with(text)));
    gzipped.encoding = Some("gzip");
    let base64 = base64::engine::general_purpose::STANDARD.encode(payload);
    vec![
        ("raw", Upload::new("application/octet-stream", payload)),
        (
            "JSON text",
            Upload::new("application/json", json_with(text)),
        ),
        ("gzip-encoded JSON", gzipped),
        ("multipart file part", multipart_with_file(payload)),
        (
            "base64 JSON field",
            Upload::new(
                "application/json",
                serde_json::json!({"name": "report.bin", "content": base64})
                    .to_string()
                    .into_bytes(),
            ),
        ),
        (
            "zip archive",
            Upload::new("application/zip", zip_with("report.txt", payload)),
        ),
    ]
}

/// `(label, infected, look-alike)` for both test payloads in every wrapping.
fn infected_and_look_alikes() -> Vec<(String, Upload, Upload)> {
    let payloads = [
        ("EICAR", EICAR.to_vec(), eicar_look_alike()),
        (
            "marker",
            TEST_MARKER.as_bytes().to_vec(),
            marker_look_alike(),
        ),
    ];
    let mut cases = Vec::new();
    for (name, bad, good) in payloads {
        for ((wrapping, infected), (_, clean)) in wrappings(&bad).into_iter().zip(wrappings(&good))
        {
            cases.push((format!("{name} as {wrapping}"), infected, clean));
        }
    }
    cases
}

/// The inner's audit record of `response`'s request, waiting a little for the log line.
fn audit_of(inner: &TierProcess, response: &Collected) -> serde_json::Value {
    let id = response.header("x-request-id").expect("x-request-id");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = inner
            .logs()
            .into_iter()
            .find(|l| l["target"] == "rampart::audit" && l["request_id"] == id);
        if let Some(record) = found {
            return record;
        }
        assert!(Instant::now() < deadline, "no audit record for {id}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Inner log lines with `message` containing `text` and about `response`'s request.
fn logged_for(inner: &TierProcess, text: &str, response: &Collected) -> Vec<serde_json::Value> {
    let id = response.header("x-request-id").expect("x-request-id");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<_> = inner
            .logs_containing(text)
            .into_iter()
            .filter(|l| l["request_id"] == id)
            .collect();
        if !lines.is_empty() || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn seen_paths(backend: &Backend) -> Vec<String> {
    backend.seen().into_iter().map(|s| s.uri).collect()
}

fn clamd_tcp(av: &AvServices, timeout: &str) -> String {
    format!(
        "[antivirus.clamd]\naddress = \"{}\"\ntimeout = \"{timeout}\"\nstream_max_length = \"8MiB\"\n",
        av.clamd_tcp
    )
}

fn clamd_socket(av: &AvServices, timeout: &str) -> String {
    format!(
        "[antivirus.clamd]\nsocket = {:?}\ntimeout = \"{timeout}\"\nstream_max_length = \"8MiB\"\n",
        av.clamd_socket.display().to_string()
    )
}

fn icap(url: &str, timeout: &str) -> String {
    format!("[antivirus.icap]\nurl = \"{url}\"\ntimeout = \"{timeout}\"\n")
}

fn stack_with(backend: &Backend, routes: &str, engines: &str) -> Stack {
    let mut opts = StackOptions::new(backend.url());
    opts.routes = routes.into();
    opts.inner_extra = format!("[antivirus]\n{engines}");
    Stack::start(&bins(), &opts)
}

/// Deterministic text that matches no signature, `len` bytes, varied by `seed`.
fn clean_text(len: usize, seed: u32) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"order ", b"items ", b"total ", b"42, ", b"name ", b"price\n", b"ok ", b"paid ",
    ];
    let mut out = Vec::with_capacity(len + 8);
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(words[(x % 8) as usize]);
    }
    out.truncate(len);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malware_in_every_wrapping_is_refused_by_each_engine_and_look_alikes_pass() {
    let av = AvServices::start();
    let backend = Backend::start().await;
    let engines = [
        ("clamd-tcp", clamd_tcp(&av, "5s"), "clamd"),
        ("clamd-socket", clamd_socket(&av, "5s"), "clamd"),
        ("icap", icap(&av.icap_url, "5s"), "icap"),
    ];
    let mut expected_seen = Vec::new();
    for (config, engines, engine) in &engines {
        // No verdict cache: wrappings that decode to the same bytes are each scanned.
        let stack = stack_with(&backend, ROUTES, &format!("cache_entries = 0\n{engines}"));
        let inner = stack.inner.as_ref().unwrap();
        for (i, (label, infected, clean)) in infected_and_look_alikes().into_iter().enumerate() {
            let path = format!("/{config}/{i}/infected");
            let response = send(&stack, &path, &infected).await;
            assert_eq!(
                response.status, 403,
                "{config}: {label}: {:?}",
                response.body
            );
            assert_problem(&response, 403, "malware-found");
            let audit = audit_of(inner, &response);
            assert_eq!(audit["check"], "antivirus", "{config}: {label}: {audit}");
            assert_eq!(audit["location"], *engine, "{config}: {label}: {audit}");
            assert!(
                audit["rule"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("Rampart.Test.")),
                "{config}: {label}: the engine's signature is named: {audit}"
            );

            let path = format!("/{config}/{i}/clean");
            let response = send(&stack, &path, &clean).await;
            assert_eq!(
                response.status, 200,
                "{config}: look-alike of {label} must pass: {:?}",
                response.body
            );
            expected_seen.push(path);
        }
    }
    assert_eq!(
        seen_paths(&backend),
        expected_seen,
        "the backend receives the look-alikes and nothing else"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_upload_of_several_mebibytes_passes_both_engines_whole() {
    let av = AvServices::start();
    let backend = Backend::start().await;
    let engines = format!("{}{}", clamd_tcp(&av, "15s"), icap(&av.icap_url, "15s"));
    let stack = stack_with(&backend, ROUTES, &engines);
    let size = 6 * 1024 * 1024;
    let clean = clean_text(size, 7);
    let started = Instant::now();
    let response = send(
        &stack,
        "/count",
        &Upload::new("application/octet-stream", clean.clone()),
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(response.json()["bytes"], size, "the backend got it whole");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    // The same size with the marker at its very end is refused, so the whole body was
    // scanned, not a prefix.
    let mut infected = clean;
    let at = infected.len() - TEST_MARKER.len();
    infected[at..].copy_from_slice(TEST_MARKER.as_bytes());
    let response = send(
        &stack,
        "/count",
        &Upload::new("application/octet-stream", infected),
    )
    .await;
    assert_problem(&response, 403, "malware-found");
    assert_eq!(
        backend.bodies(),
        [BodyOutcome::Complete(size as u64)],
        "only the clean upload reached the backend"
    );
}

/// Sends `upload` and checks the 503 `inspection-unavailable` came within `deadline`.
async fn assert_unavailable_within(
    stack: &Stack,
    path: &str,
    upload: &Upload,
    deadline: Duration,
) -> Duration {
    let started = Instant::now();
    let response = send(stack, path, upload).await;
    let took = started.elapsed();
    assert_problem(&response, 503, "inspection-unavailable");
    assert!(
        took < deadline,
        "{path}: took {took:?}, deadline {deadline:?}"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_engine_fails_closed_with_503_within_the_deadline() {
    let av = AvServices::start();
    let backend = Backend::start().await;
    // One deployment per engine, so each failure is seen alone. A refused connection must
    // fail at once, well within the 3 s scan timeout.
    let with_clamd = stack_with(&backend, ROUTES, &clamd_tcp(&av, "3s"));
    let with_icap = stack_with(&backend, ROUTES, &icap(&av.icap_url, "3s"));
    let deadline = Duration::from_secs(3);
    let upload = |seed| Upload::new("application/octet-stream", clean_text(2000, seed));
    for (stack, path) in [(&with_clamd, "/clamd/up"), (&with_icap, "/icap/up")] {
        assert_eq!(send(stack, path, &upload(1)).await.status, 200, "{path}");
    }

    av.stop_icap();
    for (i, body) in [upload(2), Upload::new("application/octet-stream", EICAR)]
        .iter()
        .enumerate()
    {
        // Clean or not, nothing passes unscanned.
        assert_unavailable_within(&with_icap, &format!("/icap/down/{i}"), body, deadline).await;
    }
    // clamd alone still answers.
    assert_eq!(
        send(&with_clamd, "/clamd/icap-down", &upload(3))
            .await
            .status,
        200
    );

    av.stop_clamd();
    for (i, body) in [
        upload(4),
        Upload::new("application/json", json_with("a clean comment")),
        Upload::new("application/octet-stream", EICAR),
    ]
    .iter()
    .enumerate()
    {
        assert_unavailable_within(&with_clamd, &format!("/clamd/down/{i}"), body, deadline).await;
    }
    assert_eq!(
        seen_paths(&backend),
        ["/clamd/up", "/icap/up", "/clamd/icap-down"],
        "nothing reaches the backend while its engine is down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_clamd_gives_503_within_its_timeout_and_the_next_upload_passes_after_it_resumes() {
    let av = AvServices::start();
    let backend = Backend::start().await;
    let stack = stack_with(&backend, ROUTES, &clamd_tcp(&av, "2s"));
    let upload = |seed| Upload::new("application/octet-stream", clean_text(5000, seed));
    assert_eq!(send(&stack, "/before", &upload(1)).await.status, 200);

    // SIGSTOP: clamd's socket still accepts connections, but nothing ever answers.
    av.pause_clamd();
    let frozen = upload(2);
    let took = assert_unavailable_within(
        &stack,
        "/frozen",
        &frozen,
        Duration::from_secs(2) + Duration::from_secs(4),
    )
    .await;
    assert!(
        took >= Duration::from_millis(1500),
        "a frozen clamd is only given up on at the timeout, took {took:?}"
    );

    av.resume_clamd();
    // The same Rampart processes: the upload refused during the freeze now passes (a
    // failure is not remembered as a verdict), and malware is caught again.
    let response = send(&stack, "/after", &frozen).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    let response = send(
        &stack,
        "/after/eicar",
        &Upload::new("application/octet-stream", EICAR),
    )
    .await;
    assert_problem(&response, 403, "malware-found");
    assert_eq!(seen_paths(&backend), ["/before", "/after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bare_virus_scan_icap_service_is_never_taken_for_clean() {
    // Without `mode=simple`, c-icap's virus_scan answers some uploads (infected ones
    // included) with a plain 200 and no threat header: only a 204 may mean clean.
    let av = AvServices::start();
    let backend = Backend::start().await;
    let stack = stack_with(&backend, ROUTES, &icap(&av.icap_bare_url, "5s"));
    let mut infected = clean_text(100_000, 3);
    infected.extend_from_slice(TEST_MARKER.as_bytes());
    let uploads = [
        ("/bare/marker-after-100k", infected),
        ("/bare/eicar", EICAR.to_vec()),
        ("/bare/marker", TEST_MARKER.as_bytes().to_vec()),
    ];
    for (path, body) in uploads {
        let response = send(&stack, path, &Upload::new("application/octet-stream", body)).await;
        assert_ne!(response.status, 200, "{path} passed the bare service");
        assert_problem(&response, 403, "malware-found");
    }
    assert!(
        seen_paths(&backend).is_empty(),
        "{:?}",
        seen_paths(&backend)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_may_fail_open_or_turn_the_scan_off() {
    let av = AvServices::start();
    let backend = Backend::start().await;
    let routes = format!(
        r#"{ROUTES}
[[routes]]
name = "open"
path_prefix = "/open"
upstream = "app"
inspection = {{ allow_opaque = true }}
antivirus = {{ fail_open = true }}

[[routes]]
name = "unscanned"
path_prefix = "/unscanned"
upstream = "app"
inspection = {{ allow_opaque = true }}
antivirus = {{ enabled = false }}
"#
    );
    let stack = stack_with(&backend, &routes, &clamd_tcp(&av, "3s"));
    let inner = stack.inner.as_ref().unwrap();
    let eicar = Upload::new("application/octet-stream", EICAR);
    let clean = |seed| Upload::new("application/octet-stream", clean_text(3000, seed));

    // clamd up: failing open is no excuse for a finding; a route without antivirus is
    // not scanned at all, so EICAR reaches its backend byte for byte.
    assert_problem(
        &send(&stack, "/scanned", &eicar).await,
        403,
        "malware-found",
    );
    assert_problem(&send(&stack, "/open/a", &eicar).await, 403, "malware-found");
    let response = send(&stack, "/unscanned/a", &eicar).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, EICAR, "the backend echoes what it received");

    av.stop_clamd();
    let response = send(&stack, "/open/b", &clean(1)).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    let warned = logged_for(inner, "failing open", &response);
    assert_eq!(warned.len(), 1, "the skipped scan is logged");
    assert_eq!(warned[0]["level"], "WARN", "{}", warned[0]);
    assert_eq!(warned[0]["check"], "antivirus", "{}", warned[0]);
    // The other routes are unchanged: closed still fails closed, off is still off.
    assert_problem(
        &send(&stack, "/scanned", &clean(2)).await,
        503,
        "inspection-unavailable",
    );
    assert_eq!(send(&stack, "/unscanned/b", &clean(3)).await.status, 200);
    assert_eq!(
        seen_paths(&backend),
        ["/unscanned/a", "/open/b", "/unscanned/b"]
    );
}

/// Runs `(label, infected, look-alike)` cases against clamd: each infected upload must be
/// refused with 403 `malware-found` and never reach the backend; each look-alike passes.
async fn assert_refused_next_to_look_alikes(cases: Vec<(&str, Upload, Upload)>) {
    let av = AvServices::start();
    let backend = Backend::start().await;
    let stack = stack_with(&backend, ROUTES, &clamd_tcp(&av, "5s"));
    let mut failures = Vec::new();
    let mut expected_seen = Vec::new();
    for (i, (label, infected, clean)) in cases.iter().enumerate() {
        let response = send(&stack, &format!("/{i}/infected"), infected).await;
        if response.status != 403 {
            failures.push(format!(
                "{label}: {} {:?}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ));
        } else {
            assert_problem(&response, 403, "malware-found");
        }
        let path = format!("/{i}/clean");
        let response = send(&stack, &path, clean).await;
        assert_eq!(response.status, 200, "look-alike of {label}");
        expected_seen.push(path);
    }
    assert!(
        failures.is_empty(),
        "malware passed (backend answer shown): {failures:#?}"
    );
    assert_eq!(seen_paths(&backend), expected_seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malware_spelled_with_an_escape_of_the_body_syntax_is_refused_like_its_plain_form() {
    // The marker with its last letter ('a') written as an escape the body's syntax
    // defines; the backend's parser reads the plain marker. The look-alike escapes 'b'.
    let stem = &TEST_MARKER[..TEST_MARKER.len() - 1];
    assert!(TEST_MARKER.ends_with('a'));
    let json = |escape: &str| format!(r#"{{"title":"report","comment":"{stem}{escape}"}}"#);
    let form = |escape: &str| format!("title=report&comment={stem}{escape}");
    let xml = |escape: &str| format!("<note><title>report</title><c>{stem}{escape}</c></note>");
    let cases = vec![
        (
            "JSON \\u escape",
            Upload::new("application/json", json("\\u0061")),
            Upload::new("application/json", json("\\u0062")),
        ),
        (
            "form percent-encoding",
            Upload::new("application/x-www-form-urlencoded", form("%61")),
            Upload::new("application/x-www-form-urlencoded", form("%62")),
        ),
        (
            "XML character reference",
            Upload::new("application/xml", xml("&#97;")),
            Upload::new("application/xml", xml("&#98;")),
        ),
    ];
    assert_refused_next_to_look_alikes(cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malware_in_a_multipart_text_field_is_refused_like_in_a_file_part() {
    // The same bytes are refused as a text/plain or JSON body and as a file part; a form
    // field without a filename is content the backend stores just the same.
    let form = |headers: &str, content: &str| {
        Upload::new(
            &format!("multipart/form-data; boundary={BOUNDARY}"),
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nreport\r\n\
                 --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"notes\"\r\n{headers}\r\n\
                 {content}\r\n--{BOUNDARY}--\r\n"
            ),
        )
    };
    let look_alike = String::from_utf8(marker_look_alike()).unwrap();
    let eicar = std::str::from_utf8(EICAR).unwrap();
    let eicar_look_alike = String::from_utf8(eicar_look_alike()).unwrap();
    let json = "Content-Type: application/json\r\n";
    let cases = vec![
        (
            "marker in a text field",
            form("", TEST_MARKER),
            form("", &look_alike),
        ),
        (
            "EICAR in a text/plain field",
            form("Content-Type: text/plain\r\n", eicar),
            form("Content-Type: text/plain\r\n", &eicar_look_alike),
        ),
        (
            "marker in a JSON field",
            form(json, &format!(r#"{{"c":"{TEST_MARKER}"}}"#)),
            form(json, &format!(r#"{{"c":"{look_alike}"}}"#)),
        ),
    ];
    assert_refused_next_to_look_alikes(cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_chooses_its_engines_and_may_let_oversize_content_pass_unscanned() {
    let av = AvServices::start();
    let backend = Backend::start().await;
    let routes = format!(
        r#"{ROUTES}
[[routes]]
name = "clamd-only"
path_prefix = "/clamd"
upstream = "app"
inspection = {{ allow_opaque = true }}
antivirus = {{ engines = "clamd", oversize = "allow" }}
"#
    );
    // clamd scans at most 4 KiB here; ICAP scans everything.
    let engines = format!(
        "[antivirus.clamd]\naddress = \"{}\"\ntimeout = \"3s\"\nstream_max_length = \"4KiB\"\n{}",
        av.clamd_tcp,
        icap(&av.icap_url, "3s")
    );
    let stack = stack_with(&backend, &routes, &engines);
    let small = Upload::new("application/octet-stream", clean_text(1000, 7));
    let large = Upload::new("application/octet-stream", clean_text(8000, 8));
    // Over clamd's limit: refused by default, passed unscanned where the route says so.
    assert_problem(&send(&stack, "/any", &large).await, 413, "body-too-large");
    assert_eq!(send(&stack, "/clamd/a", &large).await.status, 200);
    // The clamd-only route does not depend on the ICAP service.
    av.stop_icap();
    assert_eq!(send(&stack, "/clamd/b", &small).await.status, 200);
    assert_problem(
        &send(
            &stack,
            "/clamd/c",
            &Upload::new("application/octet-stream", EICAR),
        )
        .await,
        403,
        "malware-found",
    );
    assert_problem(
        &send(&stack, "/any", &small).await,
        503,
        "inspection-unavailable",
    );
    assert_eq!(seen_paths(&backend), ["/clamd/a", "/clamd/b"]);

    // Per-engine counters on the inner tier's admin listener.
    let admin = stack.inner.as_ref().unwrap().addr("admin");
    let request = b"GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n";
    let metrics = rampart_test_support::client::raw(admin, request, Duration::from_secs(5)).await;
    for series in [
        "rampart_av_scans_total{scanner=\"clamd\",verdict=\"infected\"} 1",
        "rampart_av_scans_total{scanner=\"all\",verdict=\"oversize\"} 1",
        "rampart_av_scans_total{scanner=\"all\",verdict=\"error\"} 1",
        "rampart_av_engine_errors_total{scanner=\"all\",engine=\"icap\"} 1",
        "rampart_av_scan_seconds_count{scanner=\"clamd\"} 3",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
}
