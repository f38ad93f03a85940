//! Inputs `cargo fuzz` found (crates/rampart-http/fuzz), replayed with the invariants the
//! fuzz targets assert, next to look-alikes that must keep working.

#![allow(clippy::unwrap_used)]

use rampart_http::{H1Config, H1Guard, H1Limits, HeadVerdict};

/// The `h1_guard` target's limits.
fn limits() -> H1Limits {
    H1Limits::try_from(H1Config {
        max_head_bytes: 1024,
        max_headers: 16,
        max_chunk_line_bytes: 32,
        max_chunk_extensions_bytes: 64,
        max_trailer_bytes: 256,
        ..H1Config::default()
    })
    .unwrap()
}

/// Feeds `stream` in pieces cycling through `sizes` (all at once when empty); returns
/// the verdicts and whether the guard stopped.
fn run(stream: &[u8], sizes: &[usize]) -> (Vec<HeadVerdict>, bool) {
    let mut guard = H1Guard::new(limits());
    let mut verdicts = Vec::new();
    let mut rest = stream;
    for size in sizes.iter().cycle().chain(std::iter::once(&usize::MAX)) {
        if rest.is_empty() {
            break;
        }
        let (chunk, next) = rest.split_at((*size).min(rest.len()));
        rest = next;
        if guard.feed(chunk).is_err() {
            break;
        }
        verdicts.extend(std::iter::from_fn(|| guard.next_verdict()));
    }
    verdicts.extend(std::iter::from_fn(|| guard.next_verdict()));
    (verdicts, guard.is_stopped())
}

fn clean(verdicts: &[HeadVerdict]) -> Vec<bool> {
    verdicts.iter().map(|v| *v == HeadVerdict::Clean).collect()
}

#[test]
fn heads_with_two_problems_are_refused_whatever_the_reads() {
    let found: &[u8] = b"GET /a<b>!\xff\xffzc\xb9C\xf6\x00{c}\x03\x01\x02\x03GET /a<b>\xff\xff\xff\xff\xff\xff\xff\x07caf\xc3\xa9 HTTP/1.1\r\nHo\r\nHost: a\x15st:\n\r\n a\r\n\r\n";
    // (stream, pieces, refused)
    let table: [(&[u8], &[usize], bool); 6] = [
        // found by `h1_guard`: invalid UTF-8 in the target and a bare LF in the head;
        // at once it is refused as invalid-target-utf8, in small reads as bare-line-feed
        (found, &[1, 2, 3], true),
        (b"GET /a\xff HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", &[1], true),
        (
            b"GET /a\xff HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
            &[7, 3],
            true,
        ),
        // look-alikes: valid UTF-8 and CRLF everywhere pass in any reads
        (
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX: b\r\n\r\n",
            &[1],
            false,
        ),
        (
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX: b\r\n\r\n",
            &[7, 3],
            false,
        ),
        (b"GET /a<b> HTTP/1.1\r\nHost: a\r\n\r\n", &[2], false),
    ];
    for (stream, pieces, refused) in table {
        let whole = run(stream, &[]);
        let split = run(stream, pieces);
        let text = String::from_utf8_lossy(stream);
        assert_eq!(
            clean(&whole.0),
            clean(&split.0),
            "{text:?}: {whole:?} vs {split:?}"
        );
        assert_eq!(whole.1, split.1, "{text:?}");
        assert_eq!(whole.1, refused, "{text:?}: {whole:?}");
    }
}

#[test]
fn empty_lines_split_across_reads_are_counted_together() {
    let four = format!("{}GET / HTTP/1.1\r\nHost: a\r\n\r\n", "\r\n".repeat(4));
    // (stream, pieces, refused)
    let table: [(&[u8], &[usize], bool); 4] = [
        // found by `h1_guard`: six empty lines and the start of a head. At once they were
        // refused; read as 2 + 14 bytes the second read's lines were never counted
        (b"\r\n\r\n\r\n\r\n\r\n\r\n*\r\n2", &[2, 14, 11], true),
        (b"\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", &[1], true),
        // look-alikes: the four empty lines RFC 9112 tolerates, in any reads
        (four.as_bytes(), &[2, 14, 11], false),
        (four.as_bytes(), &[1], false),
    ];
    for (stream, pieces, refused) in table {
        let whole = run(stream, &[]);
        let split = run(stream, pieces);
        let text = String::from_utf8_lossy(stream);
        assert_eq!(whole, split, "{text:?}");
        assert_eq!(whole.1, refused, "{text:?}: {whole:?}");
    }
}
