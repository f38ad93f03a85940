//! The HTTP/1 framing guard: its judgement cannot depend on how the stream was split
//! into reads. The same bytes fed at once and in fuzzed chunks give the same clean and
//! refused heads, the same body fault, and, while no head is refused, the same bytes
//! handed on (target rewriting included).
//!
//! Input: `[n][n chunk sizes][stream...]`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_http::{H1Config, H1Guard, H1Limits, HeadVerdict};

#[derive(Debug, PartialEq)]
struct Outcome {
    verdicts: Vec<HeadVerdict>,
    handed: Vec<u8>,
    body_fault: bool,
    stopped: bool,
}

fn run(limits: H1Limits, stream: &[u8], sizes: &[usize]) -> Outcome {
    let mut guard = H1Guard::new(limits);
    let mut outcome = Outcome {
        verdicts: Vec::new(),
        handed: Vec::new(),
        body_fault: false,
        stopped: false,
    };
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len());
        let (chunk, next) = rest.split_at(size.min(rest.len()));
        rest = next;
        i += 1;
        let result = guard.feed(chunk);
        let out = guard.take_rewritten().unwrap_or_else(|| chunk.to_vec());
        // A rewrite only ever escapes bytes: one byte becomes at most three.
        assert!(out.len() <= chunk.len() * 3, "rewrite grew too much");
        while let Some(v) = guard.next_verdict() {
            outcome.verdicts.push(v);
        }
        match result {
            Ok(()) => outcome.handed.extend_from_slice(&out),
            Err(fault) => {
                assert!(fault.offset <= out.len(), "fault offset past the bytes");
                outcome.handed.extend_from_slice(&out[..fault.offset]);
                outcome.body_fault = true;
                break;
            }
        }
    }
    outcome.stopped = guard.is_stopped();
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 8);
    if rest.len() < n {
        return;
    }
    let (sizes, stream) = rest.split_at(n);
    let sizes: Vec<usize> = sizes.iter().map(|&b| usize::from(b) + 1).collect();
    let config = H1Config {
        max_head_bytes: 1024,
        max_headers: 16,
        max_chunk_line_bytes: 32,
        max_chunk_extensions_bytes: 64,
        max_trailer_bytes: 256,
        ..H1Config::default()
    };
    let limits = H1Limits::try_from(config).expect("valid limits");
    let whole = run(limits, stream, &[]);
    let split = run(limits, stream, &sizes);
    // Which rule a head with two problems is refused under may depend on where the reads
    // split it (a bare LF seen in an early read vs. the whole head judged at once); that
    // it is refused, and everything about clean heads, may not.
    let clean = |o: &Outcome| -> Vec<bool> {
        o.verdicts
            .iter()
            .map(|v| *v == HeadVerdict::Clean)
            .collect()
    };
    assert_eq!(clean(&whole), clean(&split), "{whole:?}\n{split:?}");
    assert_eq!(whole.stopped, split.stopped);
    assert_eq!(whole.body_fault, split.body_fault);
    // After a head violation the edge answers and closes: what follows is not handed on.
    if whole.verdicts.iter().all(|v| *v == HeadVerdict::Clean) {
        assert_eq!(whole.handed, split.handed);
    }
});
