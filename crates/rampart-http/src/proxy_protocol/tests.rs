use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn v2(ver_cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[ver_cmd, family]);
    h.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn tcp4_body() -> Vec<u8> {
    let mut b = vec![203, 0, 113, 7, 10, 0, 0, 9];
    b.extend_from_slice(&4711u16.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

fn tcp(src: &str, dst: &str) -> ProxyAddresses {
    ProxyAddresses::Tcp {
        source: src.parse().unwrap(),
        destination: dst.parse().unwrap(),
    }
}

#[test]
fn parses_v1_attacks_next_to_look_alikes() {
    let long = format!("PROXY UNKNOWN {}\r\n", "x".repeat(100));
    type Row<'a> = (&'a [u8], Result<(ProxyAddresses, usize), &'static str>);
    let table: Vec<Row<'_>> = vec![
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.9 4711 443\r\nGET",
            Ok((tcp("203.0.113.7:4711", "10.0.0.9:443"), 42)),
        ),
        (
            b"PROXY TCP6 2001:db8::1 2001:db8::2 4711 443\r\n",
            Ok((tcp("[2001:db8::1]:4711", "[2001:db8::2]:443"), 45)),
        ),
        (b"PROXY UNKNOWN\r\n", Ok((ProxyAddresses::Unknown, 15))),
        (
            b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
            Ok((ProxyAddresses::Unknown, 35)),
        ),
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.9 0 65535\r\n",
            Ok((tcp("203.0.113.7:0", "10.0.0.9:65535"), 41)),
        ),
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.9 4711 65536\r\n",
            Err("malformed"),
        ),
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.9 +4711 443\r\n",
            Err("malformed"),
        ),
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.9 04711 443\r\n",
            Err("malformed"),
        ),
        (
            b"PROXY TCP4 2001:db8::1 10.0.0.9 4711 443\r\n",
            Err("malformed"),
        ),
        (
            b"PROXY TCP4 203.0.113.07 10.0.0.9 4711 443\r\n",
            Err("malformed"),
        ),
        (
            b"PROXY TCP4 203.0.113.7  10.0.0.9 4711 443\r\n",
            Err("malformed"),
        ),
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.9 4711\r\n",
            Err("malformed"),
        ),
        (
            b"PROXY UDP4 203.0.113.7 10.0.0.9 4711 443\r\n",
            Err("malformed"),
        ),
        (long.as_bytes(), Err("too long")),
        (b"GET / HTTP/1.1\r\n", Err("not proxy")),
        (b"PROXX TCP4", Err("not proxy")),
    ];
    for (input, want) in table {
        let got = match parse_proxy_header(input) {
            Ok(Some((h, n))) => {
                assert_eq!((h.version, h.command), (1, Command::Proxy));
                Ok((h.addresses, n))
            }
            Ok(None) => panic!("incomplete: {:?}", String::from_utf8_lossy(input)),
            Err(ProxyError::MalformedV1) => Err("malformed"),
            Err(ProxyError::TooLong) => Err("too long"),
            Err(ProxyError::NotProxy) => Err("not proxy"),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn parses_v2_attacks_next_to_look_alikes() {
    let mut tcp6 = Vec::new();
    tcp6.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    tcp6.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    tcp6.extend_from_slice(&[0x12, 0x67, 0x01, 0xbb]);
    let with_tlv = [tcp4_body(), vec![0x02, 0, 3, b'a', b'.', b'b']].concat();
    let big_tlv = [tcp4_body(), vec![0xe0, 0x04, 0x01], vec![0; 1025]].concat();
    let bad_tlv = [tcp4_body(), vec![0x02, 0, 9, b'a']].concat();
    type Row = (Vec<u8>, Result<(Command, ProxyAddresses), &'static str>);
    let table: Vec<Row> = vec![
        (
            v2(0x21, 0x11, &tcp4_body()),
            Ok((Command::Proxy, tcp("203.0.113.7:4711", "10.0.0.9:443"))),
        ),
        (
            v2(0x21, 0x21, &tcp6),
            Ok((
                Command::Proxy,
                tcp("[2001:db8::1]:4711", "[2001:db8::2]:443"),
            )),
        ),
        (
            v2(0x21, 0x11, &with_tlv),
            Ok((Command::Proxy, tcp("203.0.113.7:4711", "10.0.0.9:443"))),
        ),
        (
            v2(0x20, 0x00, &[]),
            Ok((Command::Local, ProxyAddresses::Unknown)),
        ),
        (
            v2(0x21, 0x00, &[]),
            Ok((Command::Proxy, ProxyAddresses::Unknown)),
        ),
        (
            v2(0x21, 0x12, &tcp4_body()),
            Ok((Command::Proxy, ProxyAddresses::Unknown)),
        ),
        (
            v2(0x21, 0x31, &[0; 216]),
            Ok((Command::Proxy, ProxyAddresses::Unknown)),
        ),
        (v2(0x11, 0x11, &tcp4_body()), Err("malformed")),
        (v2(0x22, 0x11, &tcp4_body()), Err("malformed")),
        (v2(0x21, 0x41, &tcp4_body()), Err("malformed")),
        (v2(0x21, 0x13, &tcp4_body()), Err("malformed")),
        (v2(0x21, 0x21, &tcp4_body()), Err("malformed")),
        (v2(0x21, 0x11, &bad_tlv), Err("malformed")),
        (v2(0x21, 0x11, &big_tlv), Err("tlv")),
    ];
    for (input, want) in table {
        let got = match parse_proxy_header(&input) {
            Ok(Some((h, n))) => {
                assert_eq!((h.version, n), (2, input.len()));
                Ok((h.command, h.addresses))
            }
            Ok(None) => panic!("incomplete: {input:?}"),
            Err(ProxyError::MalformedV2) => Err("malformed"),
            Err(ProxyError::TlvTooLong) => Err("tlv"),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(got, want, "{input:?}");
    }
}

#[test]
fn asks_for_more_bytes_until_a_header_is_complete() {
    let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.9 4711 443\r\n".to_vec();
    let v2_header = v2(0x21, 0x11, &tcp4_body());
    for full in [v1, v2_header] {
        for cut in 0..full.len() {
            assert!(
                matches!(parse_proxy_header(&full[..cut]), Ok(None)),
                "cut {cut}"
            );
        }
        assert!(matches!(parse_proxy_header(&full), Ok(Some(_))));
    }
    // A v2 header announcing TLVs over the cap is refused from its first 16 bytes.
    let big = v2(0x21, 0x11, &[tcp4_body(), vec![0; 2000]].concat());
    assert!(matches!(
        parse_proxy_header(&big[..16]),
        Err(ProxyError::TlvTooLong)
    ));
}

#[tokio::test]
async fn reads_a_header_and_replays_what_follows() {
    let (mut client, server) = tokio::io::duplex(1024);
    let mut input = v2(0x21, 0x11, &tcp4_body());
    input.extend_from_slice(b"GET / HTTP/1.1\r\n");
    client.write_all(&input).await.unwrap();
    let mut server = server;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (header, leftover) = read_proxy_header(&mut server, deadline).await.unwrap();
    assert_eq!(header.addresses, tcp("203.0.113.7:4711", "10.0.0.9:443"));
    let mut io = PrefixedIo::new(leftover, server);
    client.write_all(b"Host: a\r\n\r\n").await.unwrap();
    drop(client);
    let mut rest = String::new();
    io.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[tokio::test(start_paused = true)]
async fn gives_up_on_a_silent_or_closed_peer() {
    let (mut client, mut server) = tokio::io::duplex(1024);
    client.write_all(b"PROXY TCP4 ").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let err = read_proxy_header(&mut server, deadline).await.unwrap_err();
    assert!(matches!(err, ProxyError::Timeout), "{err}");
    drop(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let err = read_proxy_header(&mut server, deadline).await.unwrap_err();
    assert!(matches!(err, ProxyError::Truncated), "{err}");
    let (mut client, mut server) = tokio::io::duplex(1024);
    client.write_all(b"\x16\x03\x01\x02\x00").await.unwrap();
    let err = read_proxy_header(&mut server, deadline).await.unwrap_err();
    assert!(matches!(err, ProxyError::NotProxy), "{err}");
}

#[test]
fn never_panics_on_truncated_or_corrupted_headers() {
    let v1 = b"PROXY TCP6 2001:db8::1 2001:db8::2 4711 443\r\n".to_vec();
    let tlv = [tcp4_body(), vec![0x02, 0, 3, b'a', b'.', b'b']].concat();
    let v2_header = v2(0x21, 0x11, &tlv);
    for base in [v1, v2_header] {
        for i in 0..base.len() {
            for b in [0u8, b'\r', b'\n', b' ', 0xff, 0x21] {
                let mut bad = base.clone();
                bad[i] = b;
                let _ = parse_proxy_header(&bad);
                let _ = parse_proxy_header(&bad[..i]);
            }
        }
    }
}
