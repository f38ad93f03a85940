//! Client address resolution from forwarding headers. A peer that is not a trusted proxy
//! is always its own client (no spoofing through headers); an address taken from a
//! header is written in one of the supplied values; from X-Forwarded-For it is one of
//! the last `hops` entries and every entry right of it names a trusted proxy; garbage
//! left of where the walk stopped changes nothing.
//!
//! Input: `[source][hops]` then lines: `P` peer, `T` trusted CIDR, `X` X-Forwarded-For
//! value, `F` Forwarded value, `S` PROXY header source; with no `P`/`T` lines the peer
//! is 10.0.0.1 and 10.0.0.0/8 and 2001:db8::/32 are trusted.
#![no_main]
use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use rampart_http::proxy_protocol::{Command, ProxyAddresses};
use rampart_http::{Cidr, ClientIpConfig, ClientIpResolver, IpSet, IpSource, ProxyHeader};

const SOURCES: [IpSource; 4] = [
    IpSource::Socket,
    IpSource::XForwardedFor,
    IpSource::Forwarded,
    IpSource::ProxyProtocol,
];

/// Whether some substring of `text` is an address that `pred` holds for.
fn any_address(text: &[u8], pred: impl Fn(IpAddr) -> bool) -> bool {
    (0..text.len()).any(|i| {
        (i + 2..=text.len().min(i + 46)).any(|j| {
            std::str::from_utf8(&text[i..j])
                .ok()
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(&pred)
        })
    })
}

/// Whether `text` writes an address that denotes `want`.
fn written_in(text: &[u8], want: IpAddr) -> bool {
    any_address(text, |ip| ip.to_canonical() == want)
}

/// A quoted-string's escapes undone (`\x` is `x`), for the Forwarded header.
fn unescaped(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        out.push(if b == b'\\' {
            bytes.next().copied().unwrap_or(b)
        } else {
            b
        });
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [source, hops, rest @ ..] = data else {
        return;
    };
    let source = SOURCES[usize::from(source % 4)];
    let hops = hops % 18;
    let mut peer: IpAddr = "10.0.0.1".parse().expect("address");
    let mut trusted = Vec::new();
    let mut headers = HeaderMap::new();
    let mut xff: Vec<&[u8]> = Vec::new();
    let mut forwarded: Vec<&[u8]> = Vec::new();
    let mut proxy = None;
    for line in rest.split(|&b| b == b'\n').take(64) {
        let Some((&kind, value)) = line.split_first() else {
            continue;
        };
        let text = std::str::from_utf8(value).ok();
        match kind {
            b'P' => match text.and_then(|t| t.parse().ok()) {
                Some(ip) => peer = ip,
                None => return,
            },
            b'T' => trusted.push(text.unwrap_or_default().to_owned()),
            b'S' => {
                let Some(source) = text.and_then(|t| t.parse::<SocketAddr>().ok()) else {
                    return;
                };
                let destination = "10.0.0.9:443".parse().expect("address");
                proxy = Some(ProxyHeader {
                    version: 2,
                    command: Command::Proxy,
                    addresses: ProxyAddresses::Tcp {
                        source,
                        destination,
                    },
                });
            }
            b'X' | b'F' => {
                let Ok(v) = HeaderValue::from_bytes(value) else {
                    continue;
                };
                if kind == b'X' {
                    headers.append("x-forwarded-for", v);
                    xff.push(value);
                } else {
                    headers.append("forwarded", v);
                    forwarded.push(value);
                }
            }
            _ => {}
        }
    }
    if trusted.is_empty() {
        trusted = vec!["10.0.0.0/8".into(), "2001:db8::/32".into()];
    }
    let config = ClientIpConfig {
        trusted_proxies: trusted.clone(),
        source,
        hops,
    };
    let Ok(resolver) = ClientIpResolver::try_from(&config) else {
        assert!(!(1..=16).contains(&hops) || trusted.iter().any(|t| t.parse::<Cidr>().is_err()));
        return;
    };
    let trusted: IpSet = trusted
        .iter()
        .filter_map(|t| t.parse::<Cidr>().ok())
        .collect();
    let got = resolver.resolve(peer, &headers, proxy.as_ref());
    // Entries left of where the walk stopped are the client's to write: garbage there
    // must not change the answer (else a client could pass as its proxy).
    if matches!(got.source, IpSource::XForwardedFor | IpSource::Forwarded)
        && got.reason != "every forwarded hop is a trusted proxy"
    {
        let mut prefixed = HeaderMap::new();
        prefixed.append("x-forwarded-for", HeaderValue::from_static("bogus"));
        prefixed.append("forwarded", HeaderValue::from_static("for=\"bogus"));
        for (name, value) in &headers {
            prefixed.append(name, value.clone());
        }
        let again = resolver.resolve(peer, &prefixed, proxy.as_ref());
        assert_eq!(
            (again.addr, again.source),
            (got.addr, got.source),
            "{}",
            again.reason
        );
    }
    let peer = peer.to_canonical();
    assert_eq!(got.addr, got.addr.to_canonical(), "mapped address returned");
    if source == IpSource::Socket || !trusted.contains(peer) {
        assert_eq!(
            (got.addr, got.source),
            (peer, IpSource::Socket),
            "{}",
            got.reason
        );
        return;
    }
    match got.source {
        IpSource::Socket => assert_eq!(got.addr, peer, "{}", got.reason),
        IpSource::XForwardedFor => {
            assert_eq!(source, IpSource::XForwardedFor);
            // Entries as the header list defines them: comma separated, across lines.
            let entries: Vec<&[u8]> = xff.iter().flat_map(|v| v.split(|&b| b == b',')).collect();
            let k = (0..entries.len().min(usize::from(hops)))
                .find(|&k| written_in(entries[entries.len() - 1 - k], got.addr));
            let Some(k) = k else {
                panic!("{} not among the last {hops} entries", got.addr);
            };
            for j in 0..k {
                let e = entries[entries.len() - 1 - j];
                assert!(
                    any_address(e, |ip| trusted.contains(ip)),
                    "skipped an untrusted hop"
                );
            }
        }
        IpSource::Forwarded => {
            assert_eq!(source, IpSource::Forwarded);
            assert!(
                forwarded
                    .iter()
                    .any(|v| written_in(&unescaped(v), got.addr)),
                "{} not in a Forwarded value",
                got.addr
            );
        }
        IpSource::ProxyProtocol => {
            assert_eq!(source, IpSource::ProxyProtocol);
            let Some(ProxyHeader {
                addresses: ProxyAddresses::Tcp { source, .. },
                ..
            }) = proxy
            else {
                panic!("PROXY address without a PROXY header");
            };
            assert_eq!(got.addr, source.ip().to_canonical());
        }
    }
});
