//! Runs a flattened CRS regression corpus through the engine and prints detection rates.
//!
//!     python3 tools/crs_to_jsonl.py /work/shared/eval > /tmp/crs.jsonl
//!     cargo run --release -p rampart-detect --example corpus -- /tmp/crs.jsonl [paranoia] [show-set]
//!
//! Each request is split the way the tiers split it: the head through `extract::head_fields`,
//! a form body through `extract::form_fields`, a JSON body into its leaves, a multipart
//! body into its parts, anything else as body text. `show-set` prints misses and false
//! positives whose set name contains it. `DISABLE=rule-a,rule-b` runs without those rules,
//! to see which requests depend on them alone.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::collections::BTreeMap;
use std::io::BufRead;

use base64::Engine as _;
use rampart_detect::{Budget, Engine, Field, FieldKind, Location, Policy, extract};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/tmp/crs.jsonl".to_owned());
    let paranoia: u8 = args.next().and_then(|p| p.parse().ok()).unwrap_or(1);
    let show = args.next();
    let engine = Engine::builtin();
    let disabled = std::env::var("DISABLE").unwrap_or_default();
    let policy = if disabled.is_empty() {
        Policy::default()
    } else {
        let list: Vec<String> = disabled.split(',').map(|r| format!("{r:?}")).collect();
        Policy::from_toml(&format!("disabled_rules = [{}]", list.join(",")), &engine)
            .expect("DISABLE names rules the engine has")
    }
    .with_paranoia(paranoia);
    let file = std::fs::File::open(&path).expect("corpus file");
    let mut stats: BTreeMap<String, [u32; 4]> = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let set = v["set"].as_str().unwrap_or("").to_owned();
        let attack = v["klass"] == "attack";
        let findings = inspect(&engine, &policy, &v);
        let blocked = findings.blocks(policy.threshold()) || findings.undecided.is_some();
        let e = stats.entry(set.clone()).or_default();
        match (attack, blocked) {
            (true, true) => e[0] += 1,
            (true, false) => e[1] += 1,
            (false, false) => e[2] += 1,
            (false, true) => e[3] += 1,
        }
        if show.as_deref().is_some_and(|s| set.contains(s)) && attack != blocked {
            let what = if attack { "MISS" } else { "FP" };
            let body = base64::engine::general_purpose::STANDARD
                .decode(v["body"].as_str().unwrap_or(""))
                .unwrap_or_default();
            println!(
                "{what} {} #{} {} body={:?} hits={:?}",
                v["rule"],
                v["test"],
                v["target"],
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(160)
                    .collect::<String>(),
                findings
                    .hits
                    .iter()
                    .map(|h| format!("{}@{}:{}", h.rule_id, h.location, h.fragment))
                    .collect::<Vec<_>>()
            );
            if attack {
                let hs: Vec<_> = v["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|h| {
                        ![
                            "Host",
                            "Accept",
                            "User-Agent",
                            "Connection",
                            "Content-Length",
                            "Content-Type",
                            "Accept-Encoding",
                            "Accept-Language",
                            "Keep-Alive",
                            "Proxy-Connection",
                        ]
                        .contains(&h[0].as_str().unwrap_or(""))
                    })
                    .collect();
                if !hs.is_empty() {
                    println!("    headers {hs:?}");
                }
            }
        }
    }
    let (mut tp, mut fneg, mut tn, mut fp) = (0, 0, 0, 0);
    println!(
        "{:<24} {:>6} {:>6} {:>8} {:>6} {:>6} {:>8}",
        "set", "TP", "FN", "TP%", "TN", "FP", "TN%"
    );
    for (set, [a, b, c, d]) in &stats {
        println!(
            "{set:<24} {a:>6} {b:>6} {:>7.1}% {c:>6} {d:>6} {:>7.1}%",
            pct(*a, *b),
            pct(*c, *d)
        );
        tp += a;
        fneg += b;
        tn += c;
        fp += d;
    }
    println!(
        "{:<24} {tp:>6} {fneg:>6} {:>7.1}% {tn:>6} {fp:>6} {:>7.1}%",
        "TOTAL",
        pct(tp, fneg),
        pct(tn, fp)
    );
}

fn pct(a: u32, b: u32) -> f64 {
    if a + b == 0 {
        100.0
    } else {
        100.0 * f64::from(a) / f64::from(a + b)
    }
}

fn inspect(engine: &Engine, policy: &Policy, v: &serde_json::Value) -> rampart_detect::Findings {
    let target = v["target"].as_str().unwrap_or("/");
    let uri: http::Uri = target.parse().unwrap_or_else(|_| {
        escape_target(target)
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"))
    });
    let mut headers = http::HeaderMap::new();
    let mut ctype = String::new();
    for h in v["headers"].as_array().into_iter().flatten() {
        let (Some(k), Some(val)) = (h[0].as_str(), h[1].as_str()) else {
            continue;
        };
        if k.eq_ignore_ascii_case("content-type") {
            ctype = val.to_ascii_lowercase();
        }
        if let (Ok(k), Ok(val)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(val),
        ) {
            headers.append(k, val);
        }
    }
    let body = base64::engine::general_purpose::STANDARD
        .decode(v["body"].as_str().unwrap_or(""))
        .unwrap_or_default();
    let head = extract::head_fields(&uri, &headers);
    let mut fields = head.fields;
    let mut owned: Vec<Field<'static>> = Vec::new();
    if !body.is_empty() {
        if ctype.contains("json") {
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(doc) => json_leaves(&doc, String::new(), &mut owned),
                Err(_) => owned.push(Field::owned(
                    Location::scope_only("body"),
                    FieldKind::BodyText,
                    body.clone(),
                )),
            }
        } else if ctype.contains("multipart") {
            multipart(&body, &mut owned);
        } else if ctype.contains("x-www-form-urlencoded") {
            extract::form_fields(&body, &mut fields);
        } else if body.trim_ascii_start().starts_with(b"<") {
            xml_leaves(&String::from_utf8_lossy(&body), &mut owned);
            owned.push(Field::owned(
                Location::scope_only("body"),
                FieldKind::BodyText,
                body.clone(),
            ));
        } else {
            owned.push(Field::owned(
                Location::scope_only("body"),
                FieldKind::BodyText,
                body.clone(),
            ));
        }
    }
    let mut budget = Budget::default();
    engine.inspect(fields.into_iter().chain(owned), policy, &mut budget)
}

fn escape_target(t: &str) -> String {
    let mut out = String::new();
    for b in t.bytes() {
        if b <= 0x20 || b >= 0x7f || b"\"<>\\^`{|}".contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

fn json_leaves(v: &serde_json::Value, pointer: String, out: &mut Vec<Field<'static>>) {
    match v {
        serde_json::Value::String(s) => out.push(Field::owned(
            Location::new("json", pointer),
            FieldKind::BodyValue,
            s.clone().into_bytes(),
        )),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| json_leaves(x, format!("{pointer}/{i}"), out)),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{pointer}/{k}");
                out.push(Field::owned(
                    Location::new("json", p.clone()),
                    FieldKind::BodyKey,
                    k.clone().into_bytes(),
                ));
                json_leaves(x, p, out);
            }
        }
        other => out.push(Field::owned(
            Location::new("json", pointer),
            FieldKind::BodyValue,
            other.to_string().into_bytes(),
        )),
    }
}

fn multipart(body: &[u8], out: &mut Vec<Field<'static>>) {
    let text = String::from_utf8_lossy(body);
    for part in text.split("\r\n--").flat_map(|p| p.split("\n--")) {
        let Some((head, content)) = part
            .split_once("\r\n\r\n")
            .or_else(|| part.split_once("\n\n"))
        else {
            continue;
        };
        if let Some(i) = head.find("filename=\"") {
            let name: String = head[i + 10..].chars().take_while(|c| *c != '"').collect();
            out.push(Field::owned(
                Location::new("multipart", "filename"),
                FieldKind::Filename,
                name.into_bytes(),
            ));
        }
        out.push(Field::owned(
            Location::new("multipart", "part"),
            FieldKind::BodyValue,
            content.as_bytes().to_vec(),
        ));
    }
}

/// Crude XML split standing in for the inner tier's parser: attribute values and text nodes.
fn xml_leaves(xml: &str, out: &mut Vec<Field<'static>>) {
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if !text.trim().is_empty() {
            out.push(Field::owned(
                Location::new("xml", "text"),
                FieldKind::BodyValue,
                text.as_bytes().to_vec(),
            ));
        }
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt..lt + gt];
        if tag.starts_with("<!") {
            out.push(Field::owned(
                Location::new("xml", "markup"),
                FieldKind::BodyText,
                tag.as_bytes().to_vec(),
            ));
        }
        for (i, _) in tag.match_indices("=\"") {
            let v: String = tag[i + 2..].chars().take_while(|c| *c != '"').collect();
            out.push(Field::owned(
                Location::new("xml", "attr"),
                FieldKind::BodyValue,
                v.into_bytes(),
            ));
        }
        rest = &rest[lt + gt + 1..];
    }
}
