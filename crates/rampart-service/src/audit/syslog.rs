//! Audit records and alerts as RFC 5424 syslog messages over UDP, TCP (RFC 6587
//! octet counting) or TLS (RFC 5425), for a SIEM.
//!
//! A message is `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [rampart@32473 ...] MSG`:
//! MSGID is the record's kind (`decision`, `admin`, `system`, `alert`), the structured
//! data repeats the fields a collector filters on (tier, request id, check, rule, ...)
//! with `"`, `\` and `]` escaped, and MSG is the record's JSON — the same redacted record
//! the audit log holds, so nothing reaches the SIEM that the audit log would not show.
//!
//! Sending never blocks a request: the auditor `try_send`s into a bounded queue (drops
//! counted in `rampart_syslog_dropped_total`) drained by a writer thread that connects
//! with a deadline, writes with a deadline and reconnects with capped backoff.

pub mod config;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

pub use config::{RawSyslogConfig, SyslogConfig, Transport};

use super::AuditEvent;
use crate::alerts::AlertStatus;

/// The structured-data id: Rampart's name under the private enterprise number 32473
/// (the number RFC 5612 reserves for documentation).
pub const SD_ID: &str = "rampart@32473";
/// Structured-data values are cut to this many bytes.
const SD_VALUE_MAX: usize = 256;
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// What the header needs besides the record.
#[derive(Debug, Clone)]
pub struct Header {
    /// Facility number.
    pub facility: u8,
    /// HOSTNAME.
    pub hostname: String,
    /// APP-NAME.
    pub app_name: String,
    /// PROCID.
    pub procid: String,
}

/// `s` escaped as an SD-PARAM value (RFC 5424 section 6.3.3), cut to a bound.
pub fn sd_escape(s: &str) -> String {
    let s = crate::audit::cut(s, SD_VALUE_MAX);
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 3339 with milliseconds (RFC 5424 allows at most six fraction digits).
fn timestamp(unix_ms: u64) -> String {
    let t = time::OffsetDateTime::from(UNIX_EPOCH + Duration::from_millis(unix_ms));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The severity, MSGID, time and structured-data parameters of `event`.
fn facts(event: &AuditEvent) -> (u8, &'static str, u64, Vec<(&'static str, String)>) {
    match event {
        AuditEvent::Decision(d) => (
            if d.action == super::Action::Block {
                4
            } else {
                5
            },
            "decision",
            d.unix_ms,
            vec![
                ("tier", d.tier.to_owned()),
                ("request_id", d.request_id.clone()),
                ("route", d.route.clone()),
                ("client", d.client.clone()),
                ("check", d.check.to_owned()),
                ("rule", d.rule.clone()),
                ("reason", d.reason.to_owned()),
                ("action", d.action.as_str().to_owned()),
                ("status", d.status.to_string()),
            ],
        ),
        AuditEvent::Admin(a) => (
            if a.outcome == "ok" { 6 } else { 5 },
            "admin",
            a.unix_ms,
            vec![
                ("tier", a.tier.to_owned()),
                ("request_id", a.request_id.clone()),
                ("actor", a.actor.clone()),
                ("endpoint", a.endpoint.clone()),
                ("outcome", a.outcome.to_owned()),
                ("status", a.status.to_string()),
            ],
        ),
        AuditEvent::System(s) => (
            if s.state == "down" { 3 } else { 5 },
            "system",
            s.unix_ms,
            vec![
                ("tier", s.tier.to_owned()),
                ("component", s.component.clone()),
                ("name", s.name.clone()),
                ("state", s.state.to_owned()),
            ],
        ),
        AuditEvent::Alert(a) => (
            if a.status == AlertStatus::Firing {
                1
            } else {
                5
            },
            "alert",
            a.unix_ms,
            vec![
                ("tier", a.tier.to_owned()),
                ("alert", a.alert.clone()),
                ("rule", a.rule.clone()),
                ("key", a.key.clone()),
                ("count", a.count.to_string()),
                ("status", format!("{:?}", a.status).to_lowercase()),
            ],
        ),
    }
}

/// One RFC 5424 message for `event` (no framing).
pub fn format(event: &AuditEvent, h: &Header) -> String {
    let (severity, msgid, unix_ms, params) = facts(event);
    let mut out = format!(
        "<{}>1 {} {} {} {} {} [{SD_ID}",
        u16::from(h.facility) * 8 + u16::from(severity),
        timestamp(unix_ms),
        h.hostname,
        h.app_name,
        h.procid,
        msgid,
    );
    for (name, value) in params.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = write!(out, " {name}=\"{}\"", sd_escape(value));
    }
    out.push_str("] ");
    out.push_str(&serde_json::to_string(event).unwrap_or_else(|_| "{}".into()));
    out
}

/// `msg` cut to at most `max` bytes at a UTF-8 boundary.
pub fn truncate(msg: &str, max: usize) -> &str {
    if msg.len() <= max {
        return msg;
    }
    let mut end = max;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    &msg[..end]
}

/// The kernel's host name, or `-` (the RFC 5424 NILVALUE).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| config::header_token(h, 255))
        .unwrap_or_else(|| "-".into())
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
}

/// A running syslog writer.
#[derive(Debug)]
pub struct Syslog {
    tier: &'static str,
    tx: mpsc::Sender<Arc<AuditEvent>>,
    audit: bool,
    alerts: bool,
    counters: Arc<Counters>,
}

impl Syslog {
    /// Starts the writer thread for `tier`; it ends when the handle is dropped.
    pub fn start(tier: &'static str, config: &SyslogConfig) -> std::io::Result<Arc<Syslog>> {
        let (tx, rx) = mpsc::channel(config.queue);
        let counters = Arc::new(Counters::default());
        let header = Header {
            facility: config.facility,
            hostname: config.hostname.clone().unwrap_or_else(host_name),
            app_name: config
                .app_name
                .clone()
                .unwrap_or_else(|| format!("rampart-{tier}")),
            procid: std::process::id().to_string(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let writer = Writer {
            config: config.clone(),
            header,
            counters: counters.clone(),
        };
        std::thread::Builder::new()
            .name("rampart-syslog".into())
            .spawn(move || runtime.block_on(writer.run(rx)))?;
        Ok(Arc::new(Syslog {
            tier,
            tx,
            audit: config.audit,
            alerts: config.alerts,
            counters,
        }))
    }

    /// Queues `event` when it is of a kind this writer sends; never waits.
    pub fn send(&self, event: &Arc<AuditEvent>) {
        let wanted = match **event {
            AuditEvent::Alert(_) => self.alerts,
            _ => self.audit,
        };
        if wanted && self.tx.try_send(event.clone()).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Messages written.
    pub fn sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let tier = self.tier;
        let c = &self.counters;
        let mut out = String::new();
        for (name, help, value) in [
            (
                "rampart_syslog_sent_total",
                "Syslog messages written.",
                &c.sent,
            ),
            (
                "rampart_syslog_dropped_total",
                "Syslog messages dropped because the queue was full.",
                &c.dropped,
            ),
            (
                "rampart_syslog_errors_total",
                "Syslog messages lost to connection or write failures.",
                &c.errors,
            ),
        ] {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{tier=\"{tier}\"}} {}\n",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

struct Writer {
    config: SyslogConfig,
    header: Header,
    counters: Arc<Counters>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Arc<AuditEvent>>) {
        let mut conn: Option<Conn> = None;
        let mut failures: u32 = 0;
        while let Some(event) = rx.recv().await {
            let msg = format(&event, &self.header);
            // One reconnect per message: a message that fails twice is counted and lost.
            for _ in 0..2 {
                if conn.is_none() {
                    if failures > 0 {
                        let delay = Duration::from_millis(100)
                            .saturating_mul(2u32.saturating_pow(failures.min(10)))
                            .min(MAX_RECONNECT_DELAY);
                        tokio::time::sleep(delay).await;
                    }
                    match tokio::time::timeout(self.config.timeout, self.connect()).await {
                        Ok(Ok(c)) => conn = Some(c),
                        Ok(Err(e)) => {
                            self.failed(&mut failures, &e);
                            continue;
                        }
                        Err(_) => {
                            self.failed(&mut failures, &std::io::ErrorKind::TimedOut.into());
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                match tokio::time::timeout(self.config.timeout, self.write(c, &msg)).await {
                    Ok(Ok(())) => {
                        self.counters.sent.fetch_add(1, Ordering::Relaxed);
                        failures = 0;
                        break;
                    }
                    Ok(Err(e)) => {
                        conn = None;
                        self.failed(&mut failures, &e);
                    }
                    Err(_) => {
                        conn = None;
                        self.failed(&mut failures, &std::io::ErrorKind::TimedOut.into());
                    }
                }
            }
            if failures > 0 && conn.is_none() {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn failed(&self, failures: &mut u32, e: &std::io::Error) {
        if *failures == 0 {
            tracing::warn!(address = %self.config.address, error = %e, "syslog unreachable");
        }
        *failures = failures.saturating_add(1);
    }

    async fn connect(&self) -> std::io::Result<Conn> {
        let address = self.config.address.as_str();
        Ok(match &self.config.transport {
            Transport::Udp => {
                let target = tokio::net::lookup_host(address)
                    .await?
                    .next()
                    .ok_or(std::io::ErrorKind::AddrNotAvailable)?;
                let local: std::net::SocketAddr = if target.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let socket = UdpSocket::bind(local).await?;
                socket.connect(target).await?;
                Conn::Udp(socket)
            }
            Transport::Tcp => Conn::Tcp(TcpStream::connect(address).await?),
            Transport::Tls {
                config,
                server_name,
            } => {
                let tcp = TcpStream::connect(address).await?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(server_name.clone(), tcp)
                    .await?;
                Conn::Tls(Box::new(tls))
            }
        })
    }

    async fn write(&self, conn: &mut Conn, msg: &str) -> std::io::Result<()> {
        match conn {
            Conn::Udp(socket) => {
                socket
                    .send(truncate(msg, self.config.max_datagram).as_bytes())
                    .await?;
            }
            Conn::Tcp(stream) => {
                stream.write_all(&frame(msg)).await?;
            }
            Conn::Tls(stream) => {
                stream.write_all(&frame(msg)).await?;
                stream.flush().await?;
            }
        }
        Ok(())
    }
}

/// Octet-counting framing: `LEN SP MSG`.
pub fn frame(msg: &str) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg.as_bytes());
    out
}

#[cfg(test)]
mod tests;
