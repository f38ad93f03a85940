use std::net::SocketAddr;

use http::HeaderValue;

use super::*;
use crate::proxy_protocol::{Command, ProxyAddresses, ProxyHeader};

fn resolver(source: IpSource, hops: u8) -> ClientIpResolver {
    let config = ClientIpConfig {
        trusted_proxies: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
        source,
        hops,
    };
    ClientIpResolver::try_from(&config).unwrap()
}

fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for v in values {
        map.append(name, HeaderValue::from_str(v).unwrap());
    }
    map
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const PROXY: &str = "10.0.0.1";
const CLIENT: &str = "203.0.113.7";

#[test]
fn walks_x_forwarded_for_attacks_next_to_look_alikes() {
    use IpSource::{Socket, XForwardedFor as Xff};
    // (peer, hops, header values, expected address, expected source)
    let table: [(&str, u8, &[&str], &str, IpSource); 16] = [
        (PROXY, 1, &["203.0.113.7"], CLIENT, Xff),
        (PROXY, 1, &["198.51.100.1, 203.0.113.7"], CLIENT, Xff),
        (PROXY, 1, &["198.51.100.1", "203.0.113.7"], CLIENT, Xff),
        (
            PROXY,
            2,
            &["198.51.100.1, 203.0.113.7, 10.0.0.2"],
            CLIENT,
            Xff,
        ),
        (PROXY, 1, &["203.0.113.7:4711"], CLIENT, Xff),
        (PROXY, 1, &["[2001:db9::1]:4711"], "2001:db9::1", Xff),
        (PROXY, 1, &["[2001:db9::1]"], "2001:db9::1", Xff),
        (PROXY, 1, &["::ffff:203.0.113.7"], CLIENT, Xff),
        (PROXY, 2, &["10.0.0.3"], "10.0.0.3", Xff),
        // hops = 1: a trusted-looking rightmost entry is still the client
        (PROXY, 1, &["203.0.113.7, 10.0.0.2"], "10.0.0.2", Xff),
        // spoofing: an untrusted peer's header is ignored
        ("198.51.100.9", 1, &["10.0.0.2"], "198.51.100.9", Socket),
        ("198.51.100.9", 1, &["203.0.113.7"], "198.51.100.9", Socket),
        // malformed entries on the walk are never trusted
        (PROXY, 1, &["203.0.113.7, bogus"], PROXY, Socket),
        (PROXY, 1, &["203.0.113.7,"], PROXY, Socket),
        (PROXY, 1, &[""], PROXY, Socket),
        (PROXY, 1, &[], PROXY, Socket),
    ];
    for (peer, hops, values, want, source) in table {
        let got = resolver(IpSource::XForwardedFor, hops).resolve(
            ip(peer),
            &headers("x-forwarded-for", values),
            None,
        );
        assert_eq!(
            (got.addr, got.source),
            (ip(want), source),
            "{peer} {values:?}: {}",
            got.reason
        );
    }
}

#[test]
fn walks_forwarded_attacks_next_to_look_alikes() {
    use IpSource::{Forwarded as Fwd, Socket};
    let table: [(u8, &[&str], &str, IpSource); 15] = [
        (1, &["for=203.0.113.7"], CLIENT, Fwd),
        (
            1,
            &["For=\"203.0.113.7\";proto=https;by=10.0.0.1"],
            CLIENT,
            Fwd,
        ),
        (1, &["for=198.51.100.1, for=203.0.113.7"], CLIENT, Fwd),
        (1, &["for=198.51.100.1", "for=203.0.113.7"], CLIENT, Fwd),
        (1, &["for=\"[2001:db9::1]:4711\""], "2001:db9::1", Fwd),
        (1, &["for=\"203.0.113.7:4711\""], CLIENT, Fwd),
        (1, &["for=\"203.0.113.7:_port\""], CLIENT, Fwd),
        (2, &["for=203.0.113.7, for=10.0.0.2"], CLIENT, Fwd),
        (1, &["for=198.51.100.1,, for=203.0.113.7"], CLIENT, Fwd),
        // hidden clients fall back to the peer
        (1, &["for=unknown"], PROXY, Socket),
        (1, &["for=_hidden"], PROXY, Socket),
        (1, &["proto=https"], PROXY, Socket),
        // malformed: unquoted port, unbracketed IPv6, duplicate for, garbage
        (1, &["for=203.0.113.7:4711"], PROXY, Socket),
        (1, &["for=\"2001:db9::1\""], PROXY, Socket),
        (1, &["for=203.0.113.7;for=198.51.100.1"], PROXY, Socket),
    ];
    for (hops, values, want, source) in table {
        let got = resolver(IpSource::Forwarded, hops).resolve(
            ip(PROXY),
            &headers("forwarded", values),
            None,
        );
        assert_eq!(
            (got.addr, got.source),
            (ip(want), source),
            "{values:?}: {}",
            got.reason
        );
    }
    let spoofed = resolver(IpSource::Forwarded, 1).resolve(
        ip(CLIENT),
        &headers("forwarded", &["for=10.0.0.5"]),
        None,
    );
    assert_eq!(
        (spoofed.addr, spoofed.source),
        (ip(CLIENT), IpSource::Socket)
    );
}

#[test]
fn garbage_left_of_the_walk_does_not_hide_the_client() {
    // The client writes the left of the list: if its garbage made the whole header
    // malformed, any client could pass as its proxy (fuzz: client_ip).
    use IpSource::{Forwarded as Fwd, Socket, XForwardedFor as Xff};
    let table: [(IpSource, u8, &[&str], &str, IpSource); 10] = [
        (Xff, 1, &["bogus, 203.0.113.7"], CLIENT, Xff),
        (Xff, 1, &["bogus", "203.0.113.7"], CLIENT, Xff),
        (Xff, 10, &["bogus, 203.0.113.7, 10.0.0.2"], CLIENT, Xff),
        // the walk reaches the garbage: never trusted
        (Xff, 2, &["bogus, 10.0.0.2"], PROXY, Socket),
        (Fwd, 1, &["for=bogus, for=203.0.113.7"], CLIENT, Fwd),
        (Fwd, 1, &["for=\"x", "for=203.0.113.7"], CLIENT, Fwd),
        (Fwd, 1, &["for=a;for=b, for=203.0.113.7"], CLIENT, Fwd),
        (Fwd, 2, &["for=bogus, for=10.0.0.2"], PROXY, Socket),
        // an unclosed quote does not swallow the entry a proxy appended to its line
        (Fwd, 1, &["for=\"x, for=203.0.113.7"], CLIENT, Fwd),
        (Fwd, 2, &["for=\"x, for=10.0.0.2"], PROXY, Socket),
    ];
    for (from, hops, values, want, source) in table {
        let name = if from == Xff {
            "x-forwarded-for"
        } else {
            "forwarded"
        };
        let got = resolver(from, hops).resolve(ip(PROXY), &headers(name, values), None);
        assert_eq!(
            (got.addr, got.source),
            (ip(want), source),
            "{values:?}: {}",
            got.reason
        );
    }
}

#[test]
fn takes_the_proxy_protocol_source_from_trusted_peers_only() {
    let tcp = ProxyHeader {
        version: 2,
        command: Command::Proxy,
        addresses: ProxyAddresses::Tcp {
            source: SocketAddr::new(ip(CLIENT), 4711),
            destination: "10.0.0.9:443".parse().unwrap(),
        },
    };
    let local = ProxyHeader {
        command: Command::Local,
        ..tcp
    };
    let unknown = ProxyHeader {
        addresses: ProxyAddresses::Unknown,
        ..tcp
    };
    let r = resolver(IpSource::ProxyProtocol, 1);
    let none = HeaderMap::new();
    let cases = [
        (PROXY, Some(&tcp), CLIENT, IpSource::ProxyProtocol),
        (PROXY, Some(&local), PROXY, IpSource::Socket),
        (PROXY, Some(&unknown), PROXY, IpSource::Socket),
        (PROXY, None, PROXY, IpSource::Socket),
        ("198.51.100.9", Some(&tcp), "198.51.100.9", IpSource::Socket),
    ];
    for (peer, header, want, source) in cases {
        let got = r.resolve(ip(peer), &none, header);
        assert_eq!(
            (got.addr, got.source),
            (ip(want), source),
            "{peer}: {}",
            got.reason
        );
    }
}

#[test]
fn uses_the_socket_when_told_and_normalises_mapped_addresses() {
    let r = ClientIpResolver::try_from(&ClientIpConfig::default()).unwrap();
    let got = r.resolve(
        ip("::ffff:10.0.0.1"),
        &headers("x-forwarded-for", &[CLIENT]),
        None,
    );
    assert_eq!((got.addr, got.source), (ip(PROXY), IpSource::Socket));
}

#[test]
fn validates_its_config() {
    let config: ClientIpConfig = toml::from_str(
        "trusted_proxies = [\"10.0.0.1/8\", \"x\"]\nsource = \"forwarded\"\nhops = 0",
    )
    .unwrap();
    let err = ClientIpResolver::try_from(&config).unwrap_err().to_string();
    assert!(
        err.contains("trusted_proxies[0]")
            && err.contains("trusted_proxies[1]")
            && err.contains("hops"),
        "{err}"
    );
    let config: ClientIpConfig = toml::from_str("source = \"x-forwarded-for\"").unwrap();
    assert!(
        ClientIpResolver::try_from(&config).is_err(),
        "header source without trusted proxies"
    );
    assert!(toml::from_str::<ClientIpConfig>("source = \"header\"").is_err());
    assert!(toml::from_str::<ClientIpConfig>("hop = 1").is_err());
}

#[test]
fn says_why_it_chose_an_address() {
    let r = resolver(IpSource::XForwardedFor, 2);
    let why = |peer: &str, values: &[&str]| {
        r.resolve(ip(peer), &headers("x-forwarded-for", values), None)
            .reason
    };
    assert_eq!(
        why(PROXY, &["203.0.113.7, 10.0.0.2"]),
        "nearest hop not known as a trusted proxy"
    );
    assert_eq!(
        why(PROXY, &["10.0.0.3, 10.0.0.2"]),
        "hop at the configured proxy count"
    );
    assert_eq!(
        why(PROXY, &["10.0.0.2"]),
        "every forwarded hop is a trusted proxy"
    );
    assert_eq!(why(PROXY, &["nope"]), "malformed forwarding header");
    assert_eq!(why(PROXY, &[]), "no forwarding header");
    assert_eq!(why(CLIENT, &["10.0.0.2"]), "peer is not a trusted proxy");
}

#[test]
fn address_text_matches_display() {
    for addr in [
        "0.0.0.0",
        "9.10.99.100",
        "127.0.0.1",
        "203.0.113.255",
        "255.255.255.255",
        "2001:db8::1",
        "::1",
    ] {
        let ip = ClientIp {
            addr: addr.parse().expect("address"),
            source: IpSource::Socket,
            reason: "socket",
        };
        assert_eq!(ip.text(), addr);
    }
}
