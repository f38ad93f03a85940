//! `Content-Encoding` decoding with caps on output size, ratio and layers, checked as
//! the output grows (never decompress-then-check).
//!
//! Choices, for parser parity with backends that differ:
//! - `gzip` (and `x-gzip`): exactly one member; data after it is refused
//!   (`GzDecoder` stops after the first member, `MultiGzDecoder` reads all).
//! - `deflate`: the zlib format only, as RFC 9110 §8.4.1.2 says; raw deflate is refused.
//! - `br`: standard windows only (no large-window extension), trailing data refused.
//! - `zstd`: pure-Rust `ruzstd` (no C build, no unsafe FFI on hostile input); one
//!   frame, no dictionaries, window at most 8 MiB (RFC 9659), checksum verified.
//! - A truncated or corrupt stream is an error; partial output is never returned.
//! - `identity` is a no-op and does not count as a layer.

use std::io::Read;

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use bytes::Bytes;
use flate2::{Decompress, FlushDecompress, Status};

use crate::error::ParseError;
use crate::limits::DecodeLimits;

/// A content coding this crate decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Coding {
    /// gzip, one member.
    Gzip,
    /// zlib-wrapped deflate.
    Deflate,
    /// Brotli.
    Brotli,
    /// Zstandard, one frame.
    Zstd,
}

/// Largest zstd window accepted (RFC 9659 §3).
const ZSTD_MAX_WINDOW: u64 = 8 << 20;
const CHUNK: usize = 32 << 10;

/// Parses a `Content-Encoding` value into the codings in the order they were applied.
pub fn codings(header: &str, limits: &DecodeLimits) -> Result<Vec<Coding>, ParseError> {
    let mut out = Vec::new();
    for token in header.split(',') {
        let t = token.trim_matches([' ', '\t']);
        let coding = match t.to_ascii_lowercase().as_str() {
            "" => return Err(ParseError::malformed("encoding-malformed", 0)),
            "identity" => continue,
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Brotli,
            "zstd" => Coding::Zstd,
            _ => {
                return Err(ParseError::unsupported(
                    "encoding-unsupported",
                    t.as_bytes(),
                ));
            }
        };
        out.push(coding);
    }
    if out.len() > limits.max_layers {
        return Err(ParseError::unsupported(
            "encoding-too-many-layers",
            header.as_bytes(),
        ));
    }
    Ok(out)
}

/// Undoes `content_encoding` on `body`. Without an encoding (or `identity`) the body
/// is returned as is, sharing its buffer.
pub fn decode(
    content_encoding: Option<&str>,
    body: &Bytes,
    limits: &DecodeLimits,
) -> Result<Bytes, ParseError> {
    let Some(header) = content_encoding else {
        return Ok(body.clone());
    };
    let layers = codings(header, limits)?;
    // The ratio is measured against what was received: layers compound.
    let by_ratio = body
        .len()
        .saturating_mul(limits.max_ratio)
        .max(limits.ratio_grace_bytes);
    let cap = limits.max_output_bytes.min(by_ratio);
    let mut cur = body.clone();
    for coding in layers.into_iter().rev() {
        let out = match coding {
            Coding::Gzip => gunzip(&cur, cap)?,
            Coding::Deflate => inflate(&cur, true, cap)?,
            Coding::Brotli => unbrotli(&cur, cap)?,
            Coding::Zstd => unzstd(&cur, cap)?,
        };
        cur = Bytes::from(out);
    }
    Ok(cur)
}

fn bomb(cap: usize) -> ParseError {
    ParseError::exceed("encoding-bomb", cap, 0)
}

fn truncated() -> ParseError {
    ParseError::malformed("encoding-truncated", 0)
}

fn corrupt() -> ParseError {
    ParseError::malformed("encoding-corrupt", 0)
}

fn trailing(at: usize) -> ParseError {
    ParseError::malformed("encoding-trailing-data", at)
}

/// Makes room for `need` more bytes, doubling as `Vec` would but never past
/// `cap + need`: plain doubling lets a bomb's buffer reach twice the cap before the
/// length check refuses it.
fn make_room(out: &mut Vec<u8>, need: usize, cap: usize) {
    let len = out.len();
    if out.capacity() - len >= need {
        return;
    }
    let ceiling = cap.saturating_add(need);
    let target = len
        .saturating_mul(2)
        .max(CHUNK)
        .min(ceiling)
        .max(len + need);
    out.reserve_exact(target - len);
}

/// Reads `r` to its end, refusing output beyond `cap`.
fn read_capped(mut r: impl Read, cap: usize) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::new();
    loop {
        if out.len() > cap {
            return Err(bomb(cap));
        }
        let len = out.len();
        make_room(&mut out, CHUNK, cap);
        out.resize(len + CHUNK, 0);
        match r.read(&mut out[len..]) {
            Ok(0) => {
                out.truncate(len);
                return Ok(out);
            }
            Ok(n) => out.truncate(len + n),
            Err(e) if is_eof(&e) => return Err(truncated()),
            Err(_) => return Err(corrupt()),
        }
    }
}

/// Whether an error, or one it wraps (ruzstd wraps its reader's), is an early end.
fn is_eof(e: &std::io::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|i| i as _);
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return true;
    }
    while let Some(inner) = cur {
        if inner
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        cur = inner.source();
    }
    false
}

/// One gzip member (RFC 1952), then nothing.
fn gunzip(input: &[u8], cap: usize) -> Result<Vec<u8>, ParseError> {
    let mut d = flate2::bufread::GzDecoder::new(input);
    let out = read_capped(&mut d, cap)?;
    if d.header().is_none() {
        return Err(corrupt());
    }
    let rest = d.into_inner().len();
    if rest != 0 {
        return Err(trailing(input.len() - rest));
    }
    Ok(out)
}

/// zlib (`zlib = true`) or raw deflate, to its end marker, then nothing.
fn inflate(input: &[u8], zlib: bool, cap: usize) -> Result<Vec<u8>, ParseError> {
    let mut d = Decompress::new(zlib);
    let mut out: Vec<u8> = Vec::new();
    loop {
        let (in_before, out_before) = (d.total_in() as usize, out.len());
        if out.len() == out.capacity() {
            make_room(&mut out, CHUNK, cap);
        }
        let status = d
            .decompress_vec(&input[in_before..], &mut out, FlushDecompress::None)
            .map_err(|_| corrupt())?;
        if out.len() > cap {
            return Err(bomb(cap));
        }
        if status == Status::StreamEnd {
            break;
        }
        // All input taken and room left in the output, yet no end marker: truncated.
        let stuck = d.total_in() as usize == in_before && out.len() == out_before;
        let starved = d.total_in() as usize == input.len() && out.len() < out.capacity();
        if stuck || starved {
            return Err(truncated());
        }
    }
    let used = d.total_in() as usize;
    if used != input.len() {
        return Err(trailing(used));
    }
    Ok(out)
}

/// One Brotli stream with a standard window, then nothing.
fn unbrotli(input: &[u8], cap: usize) -> Result<Vec<u8>, ParseError> {
    let mut state = BrotliState::new_strict(
        StandardAlloc::default(),
        StandardAlloc::default(),
        StandardAlloc::default(),
    );
    let mut avail_in = input.len();
    let mut in_off = 0;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    let mut out = Vec::new();
    loop {
        let mut avail_out = buf.len();
        let mut out_off = 0;
        let r = BrotliDecompressStream(
            &mut avail_in,
            &mut in_off,
            input,
            &mut avail_out,
            &mut out_off,
            &mut buf,
            &mut total,
            &mut state,
        );
        if out.len() + out_off > cap {
            return Err(bomb(cap));
        }
        make_room(&mut out, out_off, cap);
        out.extend_from_slice(&buf[..out_off]);
        match r {
            BrotliResult::NeedsMoreOutput => {}
            BrotliResult::ResultSuccess if avail_in == 0 => return Ok(out),
            BrotliResult::ResultSuccess => return Err(trailing(in_off)),
            BrotliResult::NeedsMoreInput => return Err(truncated()),
            BrotliResult::ResultFailure => return Err(corrupt()),
        }
    }
}

/// The window a zstd frame header asks for (RFC 8878 §3.1.1.1), refusing
/// dictionaries and skippable frames.
fn zstd_window(input: &[u8]) -> Result<u64, ParseError> {
    if input.len() < 6 {
        return Err(truncated());
    }
    if input[..4] != [0x28, 0xB5, 0x2F, 0xFD] {
        return Err(corrupt());
    }
    let desc = input[4];
    let single_segment = desc & 0x20 != 0;
    let dict_len = [0usize, 1, 2, 4][(desc & 3) as usize];
    if dict_len != 0 {
        return Err(corrupt());
    }
    if !single_segment {
        let wd = input[5];
        let log = 10 + u64::from(wd >> 3);
        let base = 1u64 << log;
        return Ok(base + (base / 8) * u64::from(wd & 7));
    }
    // Single segment: the window is the content size.
    let fcs_len = [1usize, 2, 4, 8][(desc >> 6) as usize];
    let fcs = input.get(5..5 + fcs_len).ok_or_else(truncated)?;
    let mut size = 0u64;
    for (i, &b) in fcs.iter().enumerate() {
        size |= u64::from(b) << (8 * i);
    }
    Ok(if fcs_len == 2 { size + 256 } else { size })
}

/// One zstd frame, checksum verified when present, then nothing.
fn unzstd(input: &[u8], cap: usize) -> Result<Vec<u8>, ParseError> {
    let window = zstd_window(input)?;
    if window > ZSTD_MAX_WINDOW {
        return Err(ParseError::exceed(
            "encoding-zstd-window",
            ZSTD_MAX_WINDOW as usize,
            4,
        ));
    }
    let mut d = ruzstd::decoding::StreamingDecoder::new(input).map_err(|_| corrupt())?;
    let out = read_capped(&mut d, cap)?;
    let (rest, frame) = d.into_parts();
    if !frame.is_finished() {
        return Err(truncated());
    }
    if let (Some(sent), Some(computed)) = (
        frame.get_checksum_from_data(),
        frame.get_calculated_checksum(),
    ) && sent != computed
    {
        return Err(corrupt());
    }
    if !rest.is_empty() {
        return Err(trailing(input.len() - rest.len()));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
