//! `icap://host[:port]/service[?args]` (RFC 3507 §7.2; default port 1344).

use std::fmt;
use std::str::FromStr;

/// A parsed ICAP service URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcapUrl {
    host: String,
    port: u16,
    service: String,
}

impl IcapUrl {
    /// Host name or IP literal (IPv6 with brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// `host:port` for connecting and for the `Host` header.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for IcapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "icap://{}:{}/{}", self.host, self.port, self.service)
    }
}

/// Why an ICAP URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IcapUrlError(&'static str);

impl FromStr for IcapUrl {
    type Err = IcapUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("icap://")
            .ok_or(IcapUrlError("must start with icap://"))?;
        // The URL goes verbatim into the request line: no spaces or controls.
        if rest.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(IcapUrlError("contains spaces or non-ASCII characters"));
        }
        let (authority, service) = rest
            .split_once('/')
            .ok_or(IcapUrlError("needs a service path, e.g. /avscan"))?;
        if service.is_empty() || service.contains('#') {
            return Err(IcapUrlError("needs a service path, e.g. /avscan"));
        }
        if authority.contains('@') {
            return Err(IcapUrlError("user information is not supported"));
        }
        let (host, port) = split_host_port(authority)?;
        Ok(Self {
            host: host.to_owned(),
            port,
            service: service.to_owned(),
        })
    }
}

fn split_host_port(authority: &str) -> Result<(&str, u16), IcapUrlError> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or(IcapUrlError("unclosed IPv6 bracket"))?;
        let (host, after) = authority.split_at(end + 1);
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(IcapUrlError("needs a host"));
    }
    let port = match port {
        None => 1344,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or(IcapUrlError("port must be 1-65535"))?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_urls_and_refuses_malformed_ones() {
        let good = [
            (
                "icap://127.0.0.1:1344/avscan",
                "127.0.0.1:1344",
                "icap://127.0.0.1:1344/avscan",
            ),
            (
                "icap://av.lan/avscan",
                "av.lan:1344",
                "icap://av.lan:1344/avscan",
            ),
            (
                "icap://[::1]:2000/virus_scan?allow204=on",
                "[::1]:2000",
                "icap://[::1]:2000/virus_scan?allow204=on",
            ),
        ];
        for (input, authority, display) in good {
            let url: IcapUrl = input.parse().unwrap();
            assert_eq!(url.authority(), authority, "{input}");
            assert_eq!(url.to_string(), display, "{input}");
        }
        for bad in [
            "http://127.0.0.1/avscan",
            "icap://127.0.0.1:1344",
            "icap://127.0.0.1:1344/",
            "icap://:1344/avscan",
            "icap://127.0.0.1:0/avscan",
            "icap://127.0.0.1:99999/avscan",
            "icap://user@127.0.0.1/avscan",
            "icap://127.0.0.1/av scan",
            "icap://127.0.0.1/avscan\r\nX: y",
            "icap://[::1/avscan",
        ] {
            assert!(bad.parse::<IcapUrl>().is_err(), "{bad:?}");
        }
    }
}
