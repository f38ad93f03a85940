//! Skipping a chunked body (RFC 9112 §7.1) while checking its framing.

use super::{FramingViolation, H1Limits};
use FramingViolation::*;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Step {
    /// Reading the hexadecimal chunk size.
    #[default]
    Size,
    /// Whitespace after the size: only a `;` extension may follow.
    SizeSpace,
    /// Inside chunk extensions.
    Extension,
    /// CR of a chunk line seen, LF expected.
    SizeLf,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// CR expected after chunk data.
    DataCr,
    /// LF expected after chunk data.
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value.
    TrailerValue,
    /// CR of a trailer line seen, LF expected.
    TrailerLf,
    /// CR of the final empty line seen, LF expected.
    EndLf,
}

/// State of one chunked body.
#[derive(Debug, Default)]
pub(super) struct Chunked {
    step: Step,
    size: u64,
    digits: usize,
    line: usize,
    extensions: usize,
    trailers: usize,
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

impl Chunked {
    /// Consumes body bytes; `Ok((used, true))` when the body ended after `used` bytes.
    /// On a violation, returns how many bytes preceded the offending one.
    pub(super) fn feed(
        &mut self,
        data: &[u8],
        limits: &H1Limits,
    ) -> Result<(usize, bool), (usize, FramingViolation)> {
        let mut pos = 0;
        while pos < data.len() {
            if let Step::Data(left) = self.step {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(data.len() - pos);
                pos += take;
                let left = left - take as u64;
                self.step = if left == 0 {
                    Step::DataCr
                } else {
                    Step::Data(left)
                };
                continue;
            }
            let b = data[pos];
            match self.byte(b, limits) {
                Ok(done) => {
                    pos += 1;
                    if done {
                        return Ok((pos, true));
                    }
                }
                Err(v) => return Err((pos, v)),
            }
        }
        Ok((pos, false))
    }

    /// One byte outside chunk data; `Ok(true)` at the end of the body.
    fn byte(&mut self, b: u8, limits: &H1Limits) -> Result<bool, FramingViolation> {
        if matches!(self.step, Step::Size | Step::SizeSpace | Step::Extension) {
            self.line += 1;
            if self.line > limits.max_chunk_line_bytes() {
                return Err(if self.step == Step::Size {
                    InvalidChunkSize
                } else {
                    ChunkExtensionTooLong
                });
            }
        }
        if matches!(
            self.step,
            Step::TrailerStart | Step::TrailerName | Step::TrailerValue | Step::TrailerLf
        ) {
            self.trailers += 1;
            if self.trailers > limits.max_trailer_bytes() {
                return Err(TrailerTooLarge);
            }
        }
        self.step = match (self.step, b) {
            (_, b'\n')
                if !matches!(
                    self.step,
                    Step::SizeLf | Step::DataLf | Step::TrailerLf | Step::EndLf
                ) =>
            {
                return Err(BareLineFeed);
            }
            (Step::Size, _) if b.is_ascii_hexdigit() => {
                let digit = u64::from(hex(b));
                self.digits += 1;
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(digit))
                    .ok_or(InvalidChunkSize)?;
                Step::Size
            }
            (Step::Size, _) if self.digits == 0 => return Err(InvalidChunkSize),
            (Step::Size, b' ' | b'\t') | (Step::SizeSpace, b' ' | b'\t') => Step::SizeSpace,
            (Step::Size | Step::SizeSpace, b';') => Step::Extension,
            (Step::Size, b'\r') => Step::SizeLf,
            (Step::Size | Step::SizeSpace, _) => return Err(InvalidChunkSize),
            (Step::Extension, b'\r') => Step::SizeLf,
            (Step::Extension, _) => {
                self.extensions += 1;
                if self.extensions > limits.max_chunk_extensions_bytes() {
                    return Err(ChunkExtensionTooLong);
                }
                if is_ctl(b) {
                    return Err(InvalidChunkExtension);
                }
                Step::Extension
            }
            (Step::SizeLf, b'\n') => {
                self.line = 0;
                self.digits = 0;
                let size = std::mem::take(&mut self.size);
                if size == 0 {
                    Step::TrailerStart
                } else {
                    Step::Data(size)
                }
            }
            (Step::DataCr, b'\r') => Step::DataLf,
            (Step::DataLf, b'\n') => Step::Size,
            (Step::TrailerStart, b'\r') => Step::EndLf,
            (Step::TrailerStart, b' ' | b'\t') => return Err(ObsFold),
            (Step::TrailerStart | Step::TrailerName, _) if is_tchar(b) => Step::TrailerName,
            (Step::TrailerName, b':') => Step::TrailerValue,
            (Step::TrailerValue, b'\r') => Step::TrailerLf,
            (Step::TrailerValue, _) if !is_ctl(b) => Step::TrailerValue,
            (Step::TrailerStart | Step::TrailerName | Step::TrailerValue, _) => {
                return Err(InvalidTrailer);
            }
            (Step::TrailerLf, b'\n') => Step::TrailerStart,
            (Step::EndLf, b'\n') => return Ok(true),
            (Step::SizeLf | Step::DataCr | Step::DataLf | Step::TrailerLf | Step::EndLf, _) => {
                return Err(InvalidChunkFraming);
            }
            (Step::Data(_), _) => self.step, // handled in bulk by `feed`
        };
        Ok(false)
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}
