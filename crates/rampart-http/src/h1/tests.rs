use super::*;
use FramingViolation::*;
use HeadVerdict::{Clean, Violation as V};

/// Feeds `input` in pieces of `piece` bytes; returns the verdicts and the body fault
/// with its offset in `input`.
fn run(input: &[u8], piece: usize) -> (Vec<HeadVerdict>, Option<(FramingViolation, usize)>) {
    let mut guard = H1Guard::new(H1Limits::default());
    let mut verdicts = Vec::new();
    let mut fault = None;
    for (i, chunk) in input.chunks(piece).enumerate() {
        if let Err(f) = guard.feed(chunk) {
            fault = Some((f.violation, i * piece + f.offset));
        }
        verdicts.extend(std::iter::from_fn(|| guard.next_verdict()));
        if fault.is_some() {
            break;
        }
    }
    (verdicts, fault)
}

/// Same outcome whatever the read boundaries.
fn judge(input: &[u8]) -> (Vec<HeadVerdict>, Option<FramingViolation>) {
    let whole = run(input, input.len().max(1));
    for piece in [1, 2, 3, 5, 7, 64] {
        assert_eq!(
            run(input, piece),
            whole,
            "piece {piece}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    (whole.0, whole.1.map(|(v, _)| v))
}

const GET: &str = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

#[test]
fn judges_heads_attacks_next_to_look_alikes() {
    let long_name = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(61 * 1024)
    );
    let many = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-A: 1\r\n".repeat(100)
    );
    let hundred = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-A: 1\r\n".repeat(99)
    );
    let table: Vec<(&str, String, HeadVerdict)> = vec![
        ("plain GET", GET.into(), Clean),
        ("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n".into(), Clean),
        ("empty lines before the request", format!("\r\n\r\n{GET}"), Clean),
        ("many empty lines before the request", format!("{}{GET}", "\r\n".repeat(5)), V(MalformedHead)),
        ("one Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".into(), Clean),
        ("look-alike header names", "POST / HTTP/1.1\r\nHost: a\r\nX-Content-Length: 9\r\nX-Transfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n".into(), Clean),
        ("chunked in odd case and spacing", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\n\r\n0\r\n\r\n".into(), Clean),
        ("100 headers", hundred, Clean),
        ("two identical Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello".into(), V(DuplicateContentLength)),
        ("Content-Length and chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(), V(LengthAndTransferEncoding)),
        ("chunked, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n".into(), V(UnsupportedTransferEncoding)),
        ("two chunked headers", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n".into(), V(UnsupportedTransferEncoding)),
        ("gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".into(), V(UnsupportedTransferEncoding)),
        ("chunked on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n".into(), V(TransferEncodingInHttp10)),
        ("no Host on HTTP/1.1", "GET / HTTP/1.1\r\nX-Host: a\r\n\r\n".into(), V(MissingHost)),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), V(DuplicateHost)),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n".into(), V(ObsFold)),
        ("signed length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n".into(), V(InvalidContentLength)),
        ("length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n".into(), V(InvalidContentLength)),
        ("hex length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n".into(), V(InvalidContentLength)),
        ("empty length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n".into(), V(InvalidContentLength)),
        ("overflowing length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n".into(), V(InvalidContentLength)),
        ("bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n".into(), V(BareLineFeed)),
        ("one bare LF", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n".into(), V(BareLineFeed)),
        ("head over the limit", long_name, V(HeadTooLarge)),
        ("101 headers", many, V(TooManyHeaders)),
        ("HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(), V(MalformedHead)),
        ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n".into(), V(MalformedHead)),
        ("NUL in a value", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n".into(), V(MalformedHead)),
    ];
    for (name, input, want) in table {
        let (verdicts, fault) = judge(input.as_bytes());
        assert_eq!(verdicts, vec![want], "{name}");
        assert_eq!(fault, None, "{name}");
    }
}

fn chunked(body: &str) -> String {
    format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}")
}

#[test]
fn judges_chunked_bodies_attacks_next_to_look_alikes() {
    let ext_ok = format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(200));
    let ext_long = format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(10 * 1024));
    let ext_total = format!(
        "{}0\r\n\r\n",
        format!("1;{}\r\nx\r\n", "e".repeat(200)).repeat(25)
    );
    let trailer_big = format!("0\r\nX-T: {}\r\n\r\n", "t".repeat(5000));
    let table: Vec<(&str, String, Option<FramingViolation>)> = vec![
        (
            "two chunks",
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".into(),
            None,
        ),
        (
            "uppercase hex, leading zeros",
            "00A\r\n0123456789\r\n0\r\n\r\n".into(),
            None,
        ),
        (
            "extension with quoted value",
            "5;a=\"b c\"\r\nhello\r\n0\r\n\r\n".into(),
            None,
        ),
        (
            "space before extension",
            "5 ;a=b\r\nhello\r\n0\r\n\r\n".into(),
            None,
        ),
        ("200-byte extension", ext_ok, None),
        ("trailer", "0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n".into(), None),
        (
            "data that looks like framing",
            "c\r\n0\r\n\r\nGET / x\r\n0\r\n\r\n".into(),
            None,
        ),
        ("10 KiB extension", ext_long, Some(ChunkExtensionTooLong)),
        (
            "extensions over 4 KiB in total",
            ext_total,
            Some(ChunkExtensionTooLong),
        ),
        (
            "control character in extension",
            "5;a\x01\r\nhello\r\n0\r\n\r\n".into(),
            Some(InvalidChunkExtension),
        ),
        ("not hex", "zz\r\nhello\r\n".into(), Some(InvalidChunkSize)),
        ("negative", "-5\r\nhello\r\n".into(), Some(InvalidChunkSize)),
        ("empty size", "\r\nhello\r\n".into(), Some(InvalidChunkSize)),
        (
            "size overflow",
            "1ffffffffffffffff\r\n".into(),
            Some(InvalidChunkSize),
        ),
        (
            "trailing space after size",
            "5 \r\nhello\r\n0\r\n\r\n".into(),
            Some(InvalidChunkSize),
        ),
        (
            "bare LF after size",
            "5\nhello\r\n0\r\n\r\n".into(),
            Some(BareLineFeed),
        ),
        (
            "bare LF in extension",
            "5;a\nhello\r\n".into(),
            Some(BareLineFeed),
        ),
        (
            "CR without LF",
            "5\rhello\r\n".into(),
            Some(InvalidChunkFraming),
        ),
        (
            "data longer than its size",
            "5\r\nhelloX\r\n0\r\n\r\n".into(),
            Some(InvalidChunkFraming),
        ),
        (
            "bare LF after data",
            "5\r\nhello\n0\r\n\r\n".into(),
            Some(BareLineFeed),
        ),
        ("trailer over 4 KiB", trailer_big, Some(TrailerTooLarge)),
        (
            "trailer without colon",
            "0\r\nX-Sum\r\n\r\n".into(),
            Some(InvalidTrailer),
        ),
        (
            "trailer with bare LF",
            "0\r\nX-Sum: 1\n\r\n".into(),
            Some(BareLineFeed),
        ),
        (
            "folded trailer",
            "0\r\nX-Sum: 1\r\n 2\r\n\r\n".into(),
            Some(ObsFold),
        ),
    ];
    for (name, body, want) in table {
        let (verdicts, fault) = judge(chunked(&body).as_bytes());
        assert_eq!(verdicts, vec![Clean], "{name}");
        assert_eq!(fault, want, "{name}");
    }
}

#[test]
fn follows_pipelined_requests_in_order() {
    let input = format!(
        "{}{GET}{}{}",
        "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nGET / HTTP/",
        chunked("3\r\nabc\r\n0\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    );
    let (verdicts, fault) = judge(input.as_bytes());
    assert_eq!(verdicts, vec![Clean, Clean, Clean, V(DuplicateHost)]);
    assert_eq!(fault, None);
}

#[test]
fn stops_after_the_first_violation() {
    let input = format!("GET / HTTP/1.1\r\n\r\n{GET}{GET}");
    let mut guard = H1Guard::new(H1Limits::default());
    assert_eq!(guard.feed(input.as_bytes()), Ok(()));
    assert_eq!(guard.next_verdict(), Some(V(MissingHost)));
    assert_eq!(guard.next_verdict(), None);
    assert!(guard.is_stopped());
    // A body fault after a stop cannot happen: nothing is parsed any more.
    assert_eq!(guard.feed(b"zz\r\n"), Ok(()));
}

#[test]
fn reports_where_a_body_fault_starts() {
    let head = chunked("");
    let input = format!("{head}5\r\nhello\r\nzz");
    let (_, fault) = run(input.as_bytes(), input.len());
    assert_eq!(fault, Some((InvalidChunkSize, head.len() + 10)));
    let (_, fault) = run(input.as_bytes(), 4);
    assert_eq!(fault, Some((InvalidChunkSize, head.len() + 10)));
}

#[test]
fn flags_an_unfinished_head_over_the_limit_before_it_ends() {
    let mut guard = H1Guard::new(H1Limits::default());
    let start = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}",
        "a".repeat(70 * 1024)
    );
    assert_eq!(guard.feed(start.as_bytes()), Ok(()));
    assert_eq!(guard.next_verdict(), Some(V(HeadTooLarge)));
}

#[test]
fn validates_its_config() {
    let limits = H1Limits::try_from(H1Config::default()).unwrap();
    assert_eq!(limits, H1Limits::default());
    let bad = H1Config {
        max_headers: 0,
        max_head_bytes: 10,
        ..H1Config::default()
    };
    let err = H1Limits::try_from(bad).unwrap_err().to_string();
    assert!(
        err.contains("max_headers") && err.contains("max_head_bytes"),
        "{err}"
    );
    let parsed: Result<H1Config, _> = toml::from_str("max_headers = 50\nmax_heads = 1");
    assert!(parsed.is_err(), "unknown keys are refused");
}

/// Deterministic xorshift, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 33) as usize
    }
}

#[test]
fn ignores_read_boundaries_and_never_panics_on_shuffled_framing() {
    const PARTS: [&str; 16] = [
        "GET / HTTP/1.1\r\n",
        "POST /x HTTP/1.0\r\n",
        "Host: a\r\n",
        "Content-Length: 3\r\n",
        "Transfer-Encoding: chunked\r\n",
        "\r\n",
        "\n",
        "\r",
        "3\r\nabc\r\n",
        "0\r\n\r\n",
        "5;e=1\r\n",
        "X: y\r\n",
        " fold\r\n",
        "ffffffffffffffffff\r\n",
        "abc",
        ":\r\n",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let input: String = (0..rng.next() % 12)
            .map(|_| PARTS[rng.next() % PARTS.len()])
            .collect();
        let whole = run(input.as_bytes(), input.len().max(1));
        let piece = 1 + rng.next() % 9;
        assert_eq!(
            run(input.as_bytes(), piece),
            whole,
            "piece {piece}: {input:?}"
        );
    }
}

/// Feeds `input` in pieces of `piece` bytes; returns the verdicts and the bytes to hand
/// on (rewritten where the guard rewrote).
fn run_rewriting(input: &[u8], piece: usize) -> (Vec<HeadVerdict>, Vec<u8>) {
    let mut guard = H1Guard::new(H1Limits::default());
    let (mut verdicts, mut out) = (Vec::new(), Vec::new());
    for chunk in input.chunks(piece) {
        let fed = guard.feed(chunk);
        match guard.take_rewritten() {
            Some(bytes) => out.extend_from_slice(&bytes),
            None => out.extend_from_slice(chunk),
        }
        verdicts.extend(std::iter::from_fn(|| guard.next_verdict()));
        assert_eq!(fed, Ok(()));
    }
    (verdicts, out)
}

/// Same verdicts and same bytes handed on whatever the read boundaries.
fn rewrite(input: &[u8]) -> (Vec<HeadVerdict>, Vec<u8>) {
    let whole = run_rewriting(input, input.len().max(1));
    for piece in [1, 2, 3, 5, 7, 64] {
        assert_eq!(
            run_rewriting(input, piece),
            whole,
            "piece {piece}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

fn get(target: &[u8]) -> Vec<u8> {
    [b"GET ".as_slice(), target, b" HTTP/1.1\r\nHost: a\r\n\r\n"].concat()
}

#[test]
fn encodes_target_bytes_hyper_refuses_and_keeps_refusing_dangerous_ones() {
    let table: Vec<(&str, &[u8], &[u8], HeadVerdict)> = vec![
        // Rewritten: refused by hyper's URI parser, harmless escaped.
        (
            "lt gt in query",
            b"/s?q=<script>",
            b"/s?q=%3Cscript%3E",
            Clean,
        ),
        ("double quote", b"/s?q=\"x\"", b"/s?q=%22x%22", Clean),
        (
            "JSON in query",
            b"/s?filter={\"a\":1}",
            b"/s?filter=%7B%22a%22:1%7D",
            Clean,
        ),
        ("pipe", b"/a|b", b"/a%7Cb", Clean),
        ("backslash", b"/a\\b", b"/a%5Cb", Clean),
        ("caret", b"/a^b", b"/a%5Eb", Clean),
        ("backtick", b"/a`b`", b"/a%60b%60", Clean),
        ("braces in path", b"/{id}", b"/%7Bid%7D", Clean),
        (
            "two-byte UTF-8",
            "/caf\u{e9}?q=\u{e9}".as_bytes(),
            b"/caf%C3%A9?q=%C3%A9",
            Clean,
        ),
        (
            "four-byte UTF-8",
            "/\u{1F600}".as_bytes(),
            b"/%F0%9F%98%80",
            Clean,
        ),
        ("absolute form", b"http://a/<x>", b"http://a/%3Cx%3E", Clean),
        // Look-alikes left alone: already valid, or escaped by the client.
        ("plain target", b"/a/b?c=d&e=f", b"/a/b?c=d&e=f", Clean),
        (
            "client escapes",
            b"/s?q=%3Cscript%3E",
            b"/s?q=%3Cscript%3E",
            Clean,
        ),
        (
            "reserved characters",
            b"/a;b=c,d@e!$&'()*+:=",
            b"/a;b=c,d@e!$&'()*+:=",
            Clean,
        ),
        // Refused as before: never rewritten.
        ("NUL", b"/a\0b", b"/a\0b", V(MalformedHead)),
        ("control byte", b"/a\x01b", b"/a\x01b", V(MalformedHead)),
        ("unit separator", b"/a\x1fb", b"/a\x1fb", V(MalformedHead)),
        ("DEL", b"/a\x7fb", b"/a\x7fb", V(MalformedHead)),
        ("tab", b"/a\tb", b"/a\tb", V(MalformedHead)),
        ("bare CR", b"/a\rb", b"/a\rb", V(MalformedHead)),
        // The target ends at the first space: what follows is never rewritten.
        ("space inside", b"/a <b>", b"/a <b>", V(MalformedHead)),
        (
            "lone high byte",
            b"/a\xffb",
            b"/a%FFb",
            V(InvalidTargetUtf8),
        ),
        (
            "overlong slash",
            b"/a\xc0\xafb",
            b"/a%C0%AFb",
            V(InvalidTargetUtf8),
        ),
        (
            "truncated sequence",
            b"/a\xe2\x82",
            b"/a%E2%82",
            V(InvalidTargetUtf8),
        ),
        (
            "surrogate",
            b"/a\xed\xa0\x80",
            b"/a%ED%A0%80",
            V(InvalidTargetUtf8),
        ),
        (
            "continuation first",
            b"/a\x80",
            b"/a%80",
            V(InvalidTargetUtf8),
        ),
        (
            "above U+10FFFF",
            b"/a\xf4\x90\x80\x80",
            b"/a%F4%90%80%80",
            V(InvalidTargetUtf8),
        ),
    ];
    for (name, target, want, verdict) in table {
        let (verdicts, out) = rewrite(&get(target));
        assert_eq!(verdicts, vec![verdict], "{name}");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&get(want)),
            "{name}"
        );
    }
    let bare_lf = rewrite(b"GET /a\n<b> HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(bare_lf.0, vec![V(BareLineFeed)]);
}

#[test]
fn rewrites_only_the_request_target() {
    let table: Vec<(&str, &[u8], HeadVerdict)> = vec![
        ("header value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: <{\"|\"}>\r\n\r\n", Clean),
        ("method", b"G<T / HTTP/1.1\r\nHost: a\r\n\r\n", V(MalformedHead)),
        ("version", b"GET / HTTP/1.1<\r\nHost: a\r\n\r\n", V(MalformedHead)),
        (
            "body",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 28\r\n\r\nGET /<x> HTTP/1.1\r\nHost: a\r\n",
            Clean,
        ),
    ];
    for (name, input, verdict) in table {
        let (verdicts, out) = rewrite(input);
        assert_eq!(verdicts, vec![verdict], "{name}");
        assert_eq!(out, input, "{name}");
    }
}

#[test]
fn pipelined_rewritten_targets_keep_verdicts_aligned() {
    let input = [
        "\r\nGET /a?q=<1> HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /b?q={\"a\":1} HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\nGET /<x> HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /c|d HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n<a>\r\n0\r\n\r\n",
        "GET /plain HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /e^f HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /never<judged> HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    .concat();
    let want = [
        "\r\nGET /a?q=%3C1%3E HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /b?q=%7B%22a%22:1%7D HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\nGET /<x> HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /c%7Cd HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n<a>\r\n0\r\n\r\n",
        "GET /plain HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /e%5Ef HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        // After a violation the guard stops: later bytes pass unjudged and unchanged.
        "GET /never<judged> HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    .concat();
    let (verdicts, out) = rewrite(input.as_bytes());
    assert_eq!(verdicts, vec![Clean, Clean, Clean, Clean, V(DuplicateHost)]);
    assert_eq!(String::from_utf8_lossy(&out), want);
}

#[test]
fn head_limit_counts_the_rewritten_bytes() {
    // 21000 bytes as sent, 63000 once escaped: over the 60 KiB default either way round
    // only when rewritten.
    let table = [
        (
            "escaped target over the limit",
            "<".repeat(21_000),
            V(HeadTooLarge),
        ),
        ("same length unescaped", "a".repeat(21_000), Clean),
        ("escaped target under the limit", "<".repeat(20_000), Clean),
    ];
    for (name, query, verdict) in table {
        let input = get(format!("/s?q={query}").as_bytes());
        // Bytes after the stop pass unjudged, so only verdicts are compared.
        for piece in [1, 7, 4096, input.len()] {
            let (verdicts, _) = run_rewriting(&input, piece);
            assert_eq!(verdicts, vec![verdict], "{name}, piece {piece}");
        }
    }
}

#[test]
fn body_fault_offset_counts_rewritten_bytes() {
    let head = "POST /<a> HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let input = format!("{head}3\r\nabc\r\nzz\r\n");
    let mut guard = H1Guard::new(H1Limits::default());
    let fault = guard.feed(input.as_bytes()).unwrap_err();
    let out = guard.take_rewritten().unwrap();
    assert_eq!(fault.violation, InvalidChunkSize);
    assert_eq!(
        String::from_utf8_lossy(&out[..fault.offset]),
        format!("{}3\r\nabc\r\n", head.replace("<a>", "%3Ca%3E"))
    );
    assert_eq!(guard.take_rewritten(), None, "taken once");
}
