//! Throughput of the parsers on clean bodies (reported, not asserted), in CPU time of
//! the benchmark thread.
#![allow(missing_docs, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_parse::{Limits, Options, parse};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;

fn json_of(size: usize) -> String {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() < size {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"id":{i},"name":"user {i}","email":"user{i}@example.com","tags":["alpha","beta"],"active":true,"score":12.5,"note":"line\nbreak"}}"#
        ));
        i += 1;
    }
    s.push(']');
    s
}

fn xml_of(size: usize) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="urn:s"><soap:Body><orders>"#,
    );
    let mut i = 0;
    while s.len() < size {
        s.push_str(&format!(
            r#"<order id="{i}" status="open"><customer>user {i}</customer><item sku="A-{i}">widget &amp; co</item></order>"#
        ));
        i += 1;
    }
    s.push_str("</orders></soap:Body></soap:Envelope>");
    s
}

fn form_of(size: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < size {
        if i > 0 {
            s.push('&');
        }
        s.push_str(&format!("field{i}=value+number+{i}%21&name{i}=user{i}"));
        i += 1;
    }
    s
}

fn bench(c: &mut Criterion<CpuTime>) {
    let mut limits = Limits::default();
    limits.form.max_params = 100_000;
    type Make = fn(usize) -> String;
    let cases: [(&str, &str, Make); 3] = [
        ("json", "application/json", json_of),
        ("xml", "application/xml", xml_of),
        ("form", "application/x-www-form-urlencoded", form_of),
    ];
    for (name, ct, make) in cases {
        let mut group = c.benchmark_group(name);
        for size in [1 << 10, 64 << 10] {
            let body = Bytes::from(make(size));
            group.throughput(Throughput::Bytes(body.len() as u64));
            for canonical in [false, true] {
                if canonical && name != "json" {
                    continue;
                }
                let opts = Options {
                    canonical,
                    ..Options::default()
                };
                let label = format!(
                    "{}KiB{}",
                    size >> 10,
                    if canonical { "+canonical" } else { "" }
                );
                group.bench_function(label, |b| {
                    b.iter(|| {
                        let p =
                            parse(Some(ct), black_box(&body), &limits, opts).expect("clean body");
                        black_box(p.leaves.len())
                    });
                });
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime::new());
    targets = bench
}
criterion_main!(benches);
