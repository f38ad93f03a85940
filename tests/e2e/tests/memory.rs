//! Peak memory per hostile input, per tier: no input may make either tier grow by more
//! than 100x its size (plus a fixed allowance). Both tiers start once; before each case
//! their peak RSS is reset (`clear_refs`), the request is sent on a fresh connection and
//! the growth of each peak (VmHWM) is read and printed as a table.

use std::io::Write as _;
use std::time::Duration;

use rampart_test_support::backend::Backend;
use rampart_test_support::process::TierProcess;
use rampart_test_support::stack::{Stack, StackOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::bins;

const ROUTES: &str = r#"
[[routes]]
name = "api"
path_prefix = "/"
upstream = "app"

[[routes]]
name = "upload"
path_prefix = "/count"
upstream = "app"
inspection = { allow_opaque = true, oversize = "stream" }
"#;

/// Most a tier's peak may grow per input byte.
const MAX_RATIO: u64 = 100;
/// Growth allowed on top, whatever the input: a request can be the first to touch a
/// tokio worker's or the blocking pool's glibc arena and thread stack, and its TLS/gRPC
/// link buffers (64 KiB frames, 1 MiB flow-control windows). The idle baseline (a tiny
/// clean request, printed first) must stay well under it.
const ALLOWANCE_KIB: u64 = 6 * 1024;

/// One case: what it is, the raw HTTP/1.1 request, the statuses that show it reached the
/// check it is about.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    expect: &'static [u16],
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn post(content_type: &str, encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(e) = encoding {
        headers.push(("Content-Encoding", e));
    }
    request("POST", "/orders", &headers, body)
}

fn json(body: &[u8]) -> Vec<u8> {
    post("application/json", None, body)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 1 << 16, 9, 22);
        w.write_all(data).unwrap();
    }
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// `payload` wrapped `layers` times in base64 and URL encoding, alternately.
fn nested_encoding(payload: &str, layers: usize) -> String {
    use base64::Engine as _;
    let mut s = payload.to_owned();
    for i in 0..layers {
        s = if i % 2 == 0 {
            base64::engine::general_purpose::STANDARD.encode(s)
        } else {
            s.bytes().map(|b| format!("%{b:02X}")).collect()
        };
    }
    s
}

fn cases() -> Vec<Case> {
    const CLIENT_ERROR: &[u16] = &[400, 403, 413, 415, 422];
    let zeros = vec![0u8; 64 << 20];
    let nest = 100_000;
    let deep = format!("{}{}", "[".repeat(nest), "]".repeat(nest));
    let keys = |n: usize| {
        let inner: Vec<String> = (0..n).map(|i| format!("\"k{i}\":0")).collect();
        format!("{{{}}}", inner.join(","))
    };
    let leaves = format!(
        "[{}]",
        vec![format!("[{}0]", "0,".repeat(9_998)); 50].join(",")
    );
    let xml_leaves = format!("<r>{}</r>", "<a/>".repeat(99_000));
    let laughs = {
        let mut d =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 \"lol\">\n");
        for i in 1..10 {
            let refs = format!("&lol{};", i - 1).repeat(10);
            d.push_str(&format!("<!ENTITY lol{i} \"{refs}\">\n"));
        }
        d.push_str("]>\n<lolz>&lol9;</lolz>");
        d
    };
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"http://127.0.0.1:9/x\">]><r>&x;</r>";
    let parts = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n".repeat(15_000)
        + "--XyZ--\r\n";
    let encoded = nested_encoding(&"<script>alert(document.cookie)</script>".repeat(100), 6);
    let header_value = "v".repeat(550);
    let many_headers: Vec<(String, &str)> = (0..90)
        .map(|i| (format!("X-H{i}"), header_value.as_str()))
        .collect();
    let many_headers: Vec<(&str, &str)> =
        many_headers.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let query = format!("/orders?{}", "a&".repeat(4_000));
    vec![
        Case {
            name: "tiny clean JSON (baseline)",
            request: json(br#"{"plan":"select your plan"}"#),
            expect: &[200],
        },
        Case {
            name: "JSON nested 100k deep",
            request: json(deep.as_bytes()),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "JSON 9,999 tiny keys",
            request: json(keys(9_999).as_bytes()),
            expect: &[200],
        },
        Case {
            name: "JSON 60k keys (over cap)",
            request: json(keys(60_000).as_bytes()),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "JSON 900 KiB string",
            request: json(format!("{{\"s\":\"{}\"}}", "a".repeat(900 << 10)).as_bytes()),
            expect: &[200],
        },
        Case {
            name: "JSON 500k 2-byte leaves",
            request: json(leaves.as_bytes()),
            expect: &[200],
        },
        Case {
            name: "XML 99k empty elements",
            request: post("application/xml", None, xml_leaves.as_bytes()),
            expect: &[200],
        },
        Case {
            name: "XML billion laughs",
            request: post("application/xml", None, laughs.as_bytes()),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "XML external entity",
            request: post("application/xml", None, xxe.as_bytes()),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "form 2-byte params",
            request: post(
                "application/x-www-form-urlencoded",
                None,
                "a&".repeat(400_000).as_bytes(),
            ),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "multipart 15k parts",
            request: post("multipart/form-data; boundary=XyZ", None, parts.as_bytes()),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "gzip bomb (64 MiB zeros)",
            request: post("application/json", Some("gzip"), &gzip(&zeros)),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "brotli bomb (64 MiB zeros)",
            request: post("application/json", Some("br"), &brotli(&zeros)),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "zstd bomb (64 MiB zeros)",
            request: post("application/json", Some("zstd"), &zstd(&zeros)),
            expect: CLIENT_ERROR,
        },
        Case {
            name: "6 nested encodings in a JSON string",
            request: json(format!("{{\"s\":\"{encoded}\"}}").as_bytes()),
            expect: &[403, 422],
        },
        Case {
            name: "edge: 90 headers of 550 B",
            request: request("GET", "/orders", &many_headers, b""),
            expect: &[200],
        },
        Case {
            name: "edge: 64 KiB header (over cap)",
            request: request(
                "GET",
                "/orders",
                &[("X-Big", "b".repeat(64 << 10).as_str())],
                b"",
            ),
            expect: &[400, 431],
        },
        Case {
            name: "edge: 8 KB query of 2-byte params",
            request: request("GET", &query, &[], b""),
            expect: &[400, 414],
        },
        Case {
            name: "64 MiB clean upload (streamed)",
            request: request(
                "POST",
                "/count",
                &[("Content-Type", "application/octet-stream")],
                &zeros,
            ),
            expect: &[200],
        },
    ]
}

/// Sends `bytes` on a fresh connection and returns the response status (0 if none came).
/// Writing and reading run at once: a tier may answer before the body is sent.
async fn send(addr: std::net::SocketAddr, bytes: Vec<u8>) -> u16 {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&bytes).await;
        wr
    });
    let mut head = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), rd.read_to_end(&mut head)).await;
    assert!(read.is_ok(), "no answer within 60s");
    drop(writer.await);
    std::str::from_utf8(head.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Peak growth of each tier while `case` is handled, in KiB.
async fn measure(stack: &Stack, inner: &TierProcess, case: &Case) -> (u16, u64, u64) {
    let tiers = [&stack.edge, inner];
    for t in tiers {
        t.reset_peak_rss();
    }
    let before = tiers.map(TierProcess::peak_rss_kib);
    let status = send(stack.http(), case.request.clone()).await;
    // The answer can precede the end of a tier's work on the request (a refused body's
    // remaining bytes, the audit record): let both settle before reading the peaks.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = tiers.map(TierProcess::peak_rss_kib);
    (
        status,
        after[0].saturating_sub(before[0]),
        after[1].saturating_sub(before[1]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_makes_either_tier_grow_past_100x_its_size() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.routes = ROUTES.into();
    let stack = Stack::start(&bins(), &opts);
    let inner = stack.inner.as_ref().unwrap();
    let cases = cases();
    eprintln!(
        "idle RSS: edge {} KiB, inner {} KiB; allowance {ALLOWANCE_KIB} KiB + {MAX_RATIO}x input",
        stack.edge.rss_kib(),
        inner.rss_kib()
    );
    eprintln!(
        "{:<38} {:>10} {:>6} {:>12} {:>12} {:>8}",
        "case", "input B", "status", "edge +KiB", "inner +KiB", "ratio"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let (status, edge, inner_kib) = measure(&stack, inner, case).await;
        let input = case.request.len() as u64;
        let ratio = edge.max(inner_kib) as f64 * 1024.0 / input as f64;
        eprintln!(
            "{:<38} {:>10} {:>6} {:>12} {:>12} {:>8.1}",
            case.name, input, status, edge, inner_kib, ratio
        );
        if !case.expect.contains(&status) {
            failures.push(format!(
                "{}: status {status}, expected {:?}",
                case.name, case.expect
            ));
        }
        let limit_kib = input * MAX_RATIO / 1024 + ALLOWANCE_KIB;
        for (tier, grew) in [("edge", edge), ("inner", inner_kib)] {
            if grew > limit_kib {
                failures.push(format!(
                    "{}: {tier} grew {grew} KiB > {limit_kib} KiB",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
