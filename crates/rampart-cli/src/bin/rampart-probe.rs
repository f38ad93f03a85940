//! `rampart-probe`: health and reachability checks for images that have no shell.
//!
//! ```text
//! rampart-probe http URL [--timeout SECS] [--print]   exit 0 when GET URL answers 2xx
//! rampart-probe tcp HOST:PORT [--timeout SECS]        exit 0 when a connection opens
//! ```
//!
//! Exit 1 on failure (what Docker's HEALTHCHECK expects), 2 on a usage error. Only the
//! standard library: the binary ships in the DMZ image next to `rampart-edge`, so it
//! must not pull in the LAN tier's code. Plain `http://` only (admin listeners).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Largest response head or printed body read; a probe answer is a few bytes.
const MAX_RESPONSE: u64 = 1024 * 1024;

const USAGE: &str = "usage: rampart-probe http URL [--timeout SECS] [--print]\n       rampart-probe tcp HOST:PORT [--timeout SECS]";

struct Options {
    mode: String,
    target: String,
    timeout: Duration,
    print: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let (Some(mode), Some(target)) = (args.first(), args.get(1)) else {
        return Err(USAGE.to_owned());
    };
    let mut options = Options {
        mode: mode.clone(),
        target: target.clone(),
        timeout: Duration::from_secs(3),
        print: false,
    };
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--print" => options.print = true,
            "--timeout" => {
                let secs = rest
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|s| (1..=300).contains(s))
                    .ok_or("--timeout takes whole seconds, 1 to 300")?;
                options.timeout = Duration::from_secs(secs);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// Connects to the first address of `host_port` that answers before `deadline`.
fn connect(host_port: &str, deadline: Instant) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host_port}: {e}"))?
        .collect();
    let mut last = format!("{host_port} resolved to no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{host_port}: timed out"));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// `http://host:port/path` -> (`host:port`, `host`, `/path`).
fn split_url(url: &str) -> Result<(String, &str, &str), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("{url:?}: expected http://host[:port]/path"));
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.parse::<u16>().is_ok())
        .map_or(authority, |(host, _)| host);
    let host_port = if host == authority {
        format!("{authority}:80")
    } else {
        authority.to_owned()
    };
    if path
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("{url:?}: the path holds spaces or control bytes"));
    }
    Ok((host_port, host, path))
}

fn http(options: &Options) -> Result<(), String> {
    let deadline = Instant::now() + options.timeout;
    let (host_port, host, path) = split_url(&options.target)?;
    let mut stream = connect(&host_port, deadline)?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream
        .set_read_timeout(Some(left))
        .and_then(|()| stream.set_write_timeout(Some(left)))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{host_port}: {e}"))?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut response)
        .map_err(|e| format!("{host_port}: {e}"))?;
    let status_line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let status = std::str::from_utf8(status_line)
        .ok()
        .and_then(|line| line.strip_prefix("HTTP/1."))
        .and_then(|line| line.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("{host_port}: not an HTTP/1 response"))?;
    if options.print {
        let body = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&[][..], |i| &response[i + 4..]);
        let _ = std::io::stdout().write_all(body);
    }
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("{}: status {status}", options.target))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let outcome = match options.mode.as_str() {
        "http" => http(&options),
        "tcp" => connect(&options.target, Instant::now() + options.timeout).map(drop),
        other => {
            eprintln!("unknown probe {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("rampart-probe: {why}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn options(mode: &str, target: String) -> Options {
        Options {
            mode: mode.to_owned(),
            target,
            timeout: Duration::from_secs(2),
            print: false,
        }
    }

    /// Serves one canned HTTP answer on a loopback port.
    fn serve_once(answer: &'static str) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0u8; 1024];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(answer.as_bytes());
        });
        addr
    }

    #[test]
    fn http_probe_passes_only_on_2xx() {
        let cases = [
            ("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nready\n", true),
            ("HTTP/1.1 204 No Content\r\n\r\n", true),
            ("HTTP/1.1 503 Service Unavailable\r\n\r\nnot ready\n", false),
            ("HTTP/1.1 301 Moved\r\nlocation: /\r\n\r\n", false),
            ("SSH-2.0-OpenSSH\r\n", false),
        ];
        for (answer, ok) in cases {
            let addr = serve_once(answer);
            let result = http(&options("http", format!("http://{addr}/readyz")));
            assert_eq!(result.is_ok(), ok, "{answer:?}: {result:?}");
        }
    }

    #[test]
    fn tcp_probe_tells_open_from_closed_ports() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        assert!(connect(&open.to_string(), deadline).is_ok());
        drop(listener);
        assert!(connect(&open.to_string(), deadline).is_err());
    }

    #[test]
    fn rejects_urls_it_cannot_probe_safely() {
        for url in [
            "https://127.0.0.1:9901/readyz",
            "http:///readyz",
            "http://user@127.0.0.1/",
            "http://127.0.0.1:9901/ready z",
        ] {
            assert!(split_url(url).is_err(), "{url}");
        }
        let (host_port, host, path) = split_url("http://127.0.0.1:9901/readyz").unwrap();
        assert_eq!(
            (host_port.as_str(), host, path),
            ("127.0.0.1:9901", "127.0.0.1", "/readyz")
        );
        let (host_port, _, path) = split_url("http://edge").unwrap();
        assert_eq!((host_port.as_str(), path), ("edge:80", "/"));
    }

    #[test]
    fn rejects_bad_arguments() {
        let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(parse_args(&args(&["http"])).is_err());
        assert!(parse_args(&args(&["tcp", "a:1", "--timeout", "0"])).is_err());
        assert!(parse_args(&args(&["tcp", "a:1", "--bogus"])).is_err());
        let ok = parse_args(&args(&["http", "http://a/", "--timeout", "5", "--print"])).unwrap();
        assert_eq!((ok.timeout, ok.print), (Duration::from_secs(5), true));
    }
}
