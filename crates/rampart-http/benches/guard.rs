//! Throughput of the pieces that see every request: the HTTP/1 framing guard (every
//! byte of every connection) and target normalisation (every request). Reported, not
//! asserted.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_http::{H1Guard, H1Limits, normalize_target};

fn h1_guard(c: &mut Criterion) {
    let head = "GET /api/v1/items?page=2 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench/1.0\r\n\
                Accept: application/json\r\nAccept-Encoding: gzip\r\nCookie: session=0123456789abcdef\r\n\r\n";
    let heads = head.repeat(64);
    let body = vec![b'x'; 1 << 20];
    let mut length = format!(
        "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    length.extend_from_slice(&body);
    let mut chunked = b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.chunks(16 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");

    let mut group = c.benchmark_group("h1_guard");
    let cases: [(&str, &[u8]); 3] = [
        ("64 pipelined heads", heads.as_bytes()),
        ("1 MiB content-length body", &length),
        ("1 MiB chunked body, 16 KiB chunks", &chunked),
    ];
    for (name, input) in cases {
        group.throughput(Throughput::Bytes(input.len() as u64));
        // Fed in 8 KiB reads, as hyper's first read buffer would see them.
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut guard = H1Guard::new(H1Limits::default());
                for read in input.chunks(8 * 1024) {
                    black_box(guard.feed(black_box(read))).ok();
                }
                while guard.next_verdict().is_some() {}
            });
        });
    }
    group.finish();
}

fn normalize(c: &mut Criterion) {
    let targets = [
        "/api/v1/items?page=2&sort=name",
        "/static/js/app.3f2a1b.min.js",
        "/a/b/../c/./d//e/caf%C3%A9?q=%20x&y=1",
        "/users/42/orders/2024-01-01/items/7/reviews/latest/summary",
    ];
    let mut group = c.benchmark_group("normalize_target");
    for t in targets {
        group.throughput(Throughput::Bytes(t.len() as u64));
        group.bench_function(t, |b| {
            b.iter(|| black_box(normalize_target(black_box(t), 100)).ok());
        });
    }
    group.finish();
}

criterion_group!(benches, h1_guard, normalize);
criterion_main!(benches);
