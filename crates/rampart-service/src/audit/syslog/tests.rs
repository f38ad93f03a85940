//! Tests of the RFC 5424 formatting and of the writer against loopback collectors over
//! UDP, TCP and TLS, checked by a strict parser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_core::config::Problems;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

use super::{RawSyslogConfig, Syslog, SyslogConfig, frame, sd_escape, truncate};
use crate::audit::AuditEvent;

/// One message taken apart by RFC 5424's grammar.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) pri: u16,
    pub(crate) timestamp: String,
    pub(crate) hostname: String,
    pub(crate) app_name: String,
    pub(crate) procid: String,
    pub(crate) msgid: String,
    /// (SD-ID, params) in order.
    pub(crate) sd: Vec<(String, Vec<(String, String)>)>,
    pub(crate) msg: String,
}

fn token<'a>(s: &mut &'a str, max: usize, what: &str) -> Result<&'a str, String> {
    let (t, rest) = s.split_once(' ').ok_or(format!("{what}: no space after"))?;
    if t.is_empty() || t.len() > max || !t.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(format!("{what}: {t:?}"));
    }
    *s = rest;
    Ok(t)
}

fn rfc3339(t: &str) -> bool {
    // FULL-DATE "T" FULL-TIME with TIME-SECFRAC of 1 to 6 digits; "Z" or an offset.
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
    {
        return false;
    }
    if !(b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=6).contains(&n) {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z" || (rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')))
}

/// A strict RFC 5424 parser (section 6), enough to prove the shape.
pub(crate) fn parse(line: &str) -> Result<Parsed, String> {
    let rest = line.strip_prefix('<').ok_or("no PRI")?;
    let (pri, rest) = rest.split_once('>').ok_or("PRI not closed")?;
    if pri.is_empty() || pri.len() > 3 || (pri.len() > 1 && pri.starts_with('0')) {
        return Err(format!("PRI {pri:?}"));
    }
    let pri: u16 = pri.parse().map_err(|_| "PRI not a number")?;
    if pri > 191 {
        return Err("PRI > 191".into());
    }
    let mut s = rest.strip_prefix("1 ").ok_or("VERSION is not 1")?;
    let timestamp = token(&mut s, 64, "TIMESTAMP")?.to_owned();
    if !rfc3339(&timestamp) {
        return Err(format!("TIMESTAMP {timestamp:?}"));
    }
    let hostname = token(&mut s, 255, "HOSTNAME")?.to_owned();
    let app_name = token(&mut s, 48, "APP-NAME")?.to_owned();
    let procid = token(&mut s, 128, "PROCID")?.to_owned();
    let msgid = token(&mut s, 32, "MSGID")?.to_owned();
    let mut sd = Vec::new();
    if let Some(r) = s.strip_prefix('-') {
        s = r;
    } else {
        while let Some(r) = s.strip_prefix('[') {
            let end = r.find([' ', ']']).ok_or("SD-ID not ended")?;
            let id = &r[..end];
            if id.is_empty()
                || id.len() > 32
                || id.bytes().any(|b| matches!(b, b'=' | b'"' | b']' | b' '))
            {
                return Err(format!("SD-ID {id:?}"));
            }
            let mut r = &r[end..];
            let mut params = Vec::new();
            while let Some(p) = r.strip_prefix(' ') {
                let (name, after) = p.split_once("=\"").ok_or("PARAM without =\"")?;
                if name.is_empty() || name.len() > 32 {
                    return Err(format!("PARAM-NAME {name:?}"));
                }
                let mut value = String::new();
                let mut chars = after.char_indices();
                let close = loop {
                    match chars.next().ok_or("PARAM-VALUE not closed")? {
                        (_, '\\') => match chars.next() {
                            Some((_, c @ ('"' | '\\' | ']'))) => value.push(c),
                            Some((_, c)) => {
                                value.push('\\');
                                value.push(c);
                            }
                            None => return Err("dangling escape".into()),
                        },
                        (_, '"') => break None,
                        (i, ']') => break Some(i),
                        (_, c) => value.push(c),
                    }
                };
                if let Some(i) = close {
                    return Err(format!("unescaped ] in PARAM-VALUE at {i}"));
                }
                let consumed = after.len() - chars.as_str().len();
                r = &after[consumed..];
                params.push((name.to_owned(), value));
            }
            s = r.strip_prefix(']').ok_or("SD-ELEMENT not closed")?;
            sd.push((id.to_owned(), params));
        }
        if sd.is_empty() {
            return Err("no STRUCTURED-DATA".into());
        }
    }
    let msg = match s {
        "" => String::new(),
        m => m.strip_prefix(' ').ok_or("no space before MSG")?.to_owned(),
    };
    Ok(Parsed {
        pri,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        sd,
        msg,
    })
}

impl Parsed {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.sd
            .iter()
            .flat_map(|(_, p)| p)
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn config(text: &str, base: &Path) -> Result<SyslogConfig, String> {
    let raw: RawSyslogConfig = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut p = Problems::default();
    let c = SyslogConfig::validate("syslog", &raw, base, &mut p);
    match (c, p.is_empty()) {
        (Some(c), true) => Ok(c),
        _ => Err(p
            .finish::<()>(Path::new("t.toml"), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()),
    }
}

fn nasty_decision() -> Arc<AuditEvent> {
    crate::alerts::tests::delivery::decision("203.0.113.5", "sqli-001", "req-\"quoted\"]\\")
}

#[test]
fn sd_values_escape_quote_backslash_and_bracket() {
    let cases = [
        ("plain", "plain"),
        ("a\"b", "a\\\"b"),
        ("a\\b", "a\\\\b"),
        ("a]b", "a\\]b"),
        ("[x]", "[x\\]"),
        ("é ü", "é ü"),
    ];
    for (raw, escaped) in cases {
        assert_eq!(sd_escape(raw), escaped, "{raw}");
    }
}

#[test]
fn formatted_messages_parse_as_rfc5424() {
    let header = super::Header {
        facility: 16,
        hostname: "fw-1".into(),
        app_name: "rampart-edge".into(),
        procid: "4242".into(),
    };
    let line = super::format(&nasty_decision(), &header);
    let m = parse(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    // local0 (16) * 8 + warning (4) for a block.
    assert_eq!(m.pri, 132);
    assert_eq!(
        (m.hostname.as_str(), m.app_name.as_str(), m.procid.as_str()),
        ("fw-1", "rampart-edge", "4242")
    );
    assert_eq!(m.msgid, "decision");
    assert_eq!(m.sd[0].0, super::SD_ID);
    assert_eq!(m.param("request_id"), Some("req-\"quoted\"]\\"));
    assert_eq!(m.param("tier"), Some("inner"));
    assert_eq!(m.param("check"), Some("inspection"));
    assert!(m.timestamp.ends_with('Z'));
    let json: serde_json::Value = serde_json::from_str(&m.msg).unwrap();
    assert_eq!(json["kind"], "decision");
    assert_eq!(json["rule"], "sqli-001");
}

#[test]
fn the_parser_refuses_malformed_lines() {
    let good = "<134>1 2026-11-29T01:02:03.123Z h a 1 decision [rampart@32473 tier=\"edge\"] {}";
    assert!(parse(good).is_ok());
    for bad in [
        "<192>1 2026-11-29T01:02:03.123Z h a 1 m - x",
        "<13>2 2026-11-29T01:02:03.123Z h a 1 m - x",
        "<13>1 2026-11-29T01:02:03.1234567Z h a 1 m - x",
        "<13>1 2026-11-29 h a 1 m - x",
        "<13>1 2026-11-29T01:02:03Z h a 1 m [x a=\"]\"] x",
        "<13>1 2026-11-29T01:02:03Z h a 1 m [x a=\"b\" x",
        "<013>1 2026-11-29T01:02:03Z h a 1 m - x",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn udp_messages_are_cut_at_a_utf8_boundary() {
    assert_eq!(truncate("abc", 5), "abc");
    assert_eq!(truncate("aé", 2), "a");
    assert_eq!(truncate("aé", 3), "aé");
    assert_eq!(truncate("€€", 4), "€");
    assert_eq!(frame("hello"), b"5 hello");
    assert_eq!(frame("é"), b"2 \xc3\xa9");
}

#[test]
fn config_problems_name_their_key() {
    let dir = crate::audit::tests::temp_dir("syslog-config");
    let cases: &[(&str, &str)] = &[
        ("address = \"127.0.0.1:514\"\n", "syslog.transport"),
        ("transport = \"udp\"\n", "syslog.address"),
        (
            "transport = \"smoke\"\naddress = \"127.0.0.1:514\"\n",
            "syslog.transport",
        ),
        (
            "transport = \"udp\"\naddress = \"127.0.0.1\"\n",
            "syslog.address",
        ),
        (
            "transport = \"udp\"\naddress = \"127.0.0.1:514\"\nca_file = \"ca.pem\"\n",
            "syslog.ca_file",
        ),
        (
            "transport = \"tls\"\naddress = \"127.0.0.1:6514\"\nca_file = \"missing.pem\"\n",
            "syslog.ca_file",
        ),
        (
            "transport = \"udp\"\naddress = \"127.0.0.1:514\"\nfacility = \"local9\"\n",
            "syslog.facility",
        ),
        (
            "transport = \"udp\"\naddress = \"127.0.0.1:514\"\napp_name = \"two words\"\n",
            "syslog.app_name",
        ),
        (
            "transport = \"udp\"\naddress = \"127.0.0.1:514\"\nsend = [\"audit\", \"metrics\"]\n",
            "syslog.send[1]",
        ),
        (
            "transport = \"udp\"\naddress = \"127.0.0.1:514\"\nmax_datagram = 100\n",
            "syslog.max_datagram",
        ),
        (
            "transport = \"udp\"\naddress = \"127.0.0.1:514\"\nqueue = 0\n",
            "syslog.queue",
        ),
    ];
    for (text, key) in cases {
        let err = config(text, &dir).expect_err(text);
        assert!(err.contains(key), "{text}: {err}");
    }
    let ok = config("transport = \"tcp\"\naddress = \"localhost:514\"\nfacility = \"auth\"\nsend = [\"alerts\"]\n", &dir).unwrap();
    assert_eq!((ok.facility, ok.audit, ok.alerts), (4, false, true));
    assert!(toml::from_str::<RawSyslogConfig>("transport = \"udp\"\nadress = \"x\"\n").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls `done` for up to a minute.
async fn wait(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads octet-counted frames from `stream` into `out` until it closes.
pub(crate) async fn read_frames<S: tokio::io::AsyncRead + Unpin>(
    stream: S,
    out: Arc<Mutex<Vec<String>>>,
) {
    let mut r = BufReader::new(stream);
    loop {
        let mut len = Vec::new();
        if r.read_until(b' ', &mut len).await.unwrap_or(0) == 0 {
            return;
        }
        let Ok(n) = std::str::from_utf8(&len[..len.len() - 1])
            .unwrap_or("x")
            .parse::<usize>()
        else {
            out.lock().unwrap().push("<bad frame>".into());
            return;
        };
        let mut msg = vec![0; n.min(1 << 20)];
        if r.read_exact(&mut msg).await.is_err() {
            return;
        }
        out.lock()
            .unwrap()
            .push(String::from_utf8(msg).unwrap_or_default());
    }
}

#[tokio::test]
async fn messages_reach_udp_tcp_and_tls_collectors_as_rfc5424() {
    let pki = rampart_test_support::pki::TestPki::new();
    for transport in ["udp", "tcp", "tls"] {
        let got = Arc::new(Mutex::new(Vec::<String>::new()));
        let addr = match transport {
            "udp" => {
                let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let addr = socket.local_addr().unwrap();
                let got = got.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 65_536];
                    while let Ok(n) = socket.recv(&mut buf).await {
                        got.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    }
                });
                addr
            }
            _ => {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let got = got.clone();
                let tls = (transport == "tls").then(|| pki.acceptor("collector", "localhost"));
                tokio::spawn(async move {
                    while let Ok((tcp, _)) = listener.accept().await {
                        let got = got.clone();
                        match &tls {
                            Some(acceptor) => {
                                let acceptor = acceptor.clone();
                                tokio::spawn(async move {
                                    if let Ok(s) = acceptor.accept(tcp).await {
                                        read_frames(s, got).await;
                                    }
                                });
                            }
                            None => {
                                tokio::spawn(read_frames(tcp, got));
                            }
                        }
                    }
                });
                addr
            }
        };
        let extra = if transport == "tls" {
            format!(
                "ca_file = {:?}\nserver_name = \"localhost\"\n",
                pki.ca_path.display().to_string()
            )
        } else {
            String::new()
        };
        let c = config(
            &format!("transport = \"{transport}\"\naddress = \"{addr}\"\nhostname = \"fw-1\"\nfacility = \"local3\"\n{extra}"),
            pki.path(),
        )
        .unwrap();
        let syslog = Syslog::start("edge", &c).unwrap();
        for _ in 0..3 {
            syslog.send(&nasty_decision());
        }
        wait(|| got.lock().unwrap().len() >= 3).await;
        for line in got.lock().unwrap().iter() {
            let m = parse(line).unwrap_or_else(|e| panic!("{transport}: {e}: {line}"));
            assert_eq!(m.pri, 19 * 8 + 4, "{transport}");
            assert_eq!(m.hostname, "fw-1");
            assert_eq!(m.app_name, "rampart-edge");
            assert_eq!(m.procid, std::process::id().to_string());
            assert_eq!(m.param("request_id"), Some("req-\"quoted\"]\\"));
            serde_json::from_str::<serde_json::Value>(&m.msg).unwrap();
        }
        assert_eq!(syslog.dropped(), 0);
        wait(|| syslog.sent() == 3).await;
    }
}

#[tokio::test]
async fn a_dead_collector_drops_and_counts_without_blocking() {
    let dead = rampart_test_support::backend::closed_port().await;
    let c = config(
        &format!("transport = \"tcp\"\naddress = \"{dead}\"\nqueue = 16\ntimeout = \"1s\"\n"),
        Path::new("."),
    )
    .unwrap();
    let syslog = Syslog::start("edge", &c).unwrap();
    // Far more than the queue holds while the writer backs off: the rest is dropped.
    for _ in 0..2_000 {
        syslog.send(&nasty_decision());
    }
    assert!(syslog.dropped() > 0);
    let metrics = syslog.render_metrics();
    assert!(
        metrics.contains("rampart_syslog_dropped_total{tier=\"edge\"}"),
        "{metrics}"
    );
    wait(|| {
        !syslog
            .render_metrics()
            .contains("rampart_syslog_errors_total{tier=\"edge\"} 0")
    })
    .await;
    assert_eq!(syslog.sent(), 0);
}
