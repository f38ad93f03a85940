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
