//! The fast path, derived from what the rules, detectors and decoders declare they need.
//!
//! One pass over a value looks each byte up in a per-kind table and ORs the bits together:
//! which detectors could fire (each [`Detector`] declares its trigger bytes and atoms in
//! [`Detector::needs`]), whether a decoding layer or nested document could apply (the
//! decoder's own trigger bytes, [`decode::trigger_bytes`]), whether the value could be
//! base64, and which single-byte rule literals occur. A value without decoder triggers is
//! inspected once, as is, without allocating; a detector whose trigger bytes and atoms are
//! all absent is not called. Nothing here names a rule or a detector: a new one is covered
//! by what it declares (`fastpath_matches_the_full_path` in `tests/fastpath.rs` compares
//! both paths over the corpus).

use crate::decode;
use crate::detect::Detector;
use crate::field::FieldKind;

/// A decoding layer or a nested document may produce more variants.
pub(crate) const DECODE: u64 = 1 << 63;
/// A byte that base64 text cannot hold: the value has no base64 view.
pub(crate) const NOT_B64: u64 = 1 << 62;
/// The first byte (either case) of a multi-byte rule literal or detector atom.
pub(crate) const ATOM_START: u64 = 1 << 61;
/// Bits `0..DETECTOR_BITS` are detectors, by declaration order.
pub(crate) const DETECTOR_BITS: u32 = 16;
/// An ASCII lowercase letter, uppercase letter, digit: base64 of text mixes them, so a
/// value with one kind alone has no base64 view ([`route`] skips decoding it).
pub(crate) const LOWER: u64 = 1 << 60;
pub(crate) const UPPER: u64 = 1 << 59;
pub(crate) const DIGIT: u64 = 1 << 58;
/// Bits for single-byte rule literals: `DETECTOR_BITS..LITERAL_END`.
pub(crate) const LITERAL_END: u32 = 58;

/// What a value must contain for a detector to possibly fire: one of `bytes`, a byte
/// outside ASCII (when `non_ascii`), or one of `atoms` (ASCII case-insensitive).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Needs {
    pub(crate) bytes: &'static [u8],
    pub(crate) non_ascii: bool,
    pub(crate) atoms: &'static [&'static str],
}

/// Every byte value, for [`Needs::always`].
static ALL_BYTES: [u8; 256] = {
    let mut all = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        all[i] = i as u8;
        i += 1;
    }
    all
};

impl Needs {
    /// For a detector that may fire on any non-empty value (no gate to declare).
    #[allow(dead_code, reason = "for detectors without a byte gate; none today")]
    pub(crate) fn always() -> Needs {
        Needs {
            bytes: &ALL_BYTES,
            non_ascii: true,
            atoms: &[],
        }
    }

    /// Whether `text` meets the declaration (what the fast path computes in bulk).
    #[cfg(test)]
    pub(crate) fn admits(&self, text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        text.bytes()
            .any(|b| self.bytes.contains(&b) || (self.non_ascii && !b.is_ascii()))
            || self
                .atoms
                .iter()
                .any(|a| lower.contains(&a.to_ascii_lowercase()))
    }
}

/// The bit of a detector; 0 (never skipped) past the bits set aside for detectors.
pub(crate) fn detector_bit(d: Detector) -> u64 {
    let i = d as u32;
    if i < DETECTOR_BITS { 1 << i } else { 0 }
}

/// Per kind, the bits each byte sets.
#[derive(Debug)]
pub(crate) struct ByteClasses {
    tables: Vec<[u64; 256]>,
}

impl ByteClasses {
    /// Tables for `detectors` and for `literal_bits` (byte, bit) of single-byte literals;
    /// `atom_starts` are the first bytes of the multi-byte literals and atoms.
    pub(crate) fn new(
        detectors: &[Detector],
        literal_bits: &[(u8, u64)],
        atom_starts: &[u8],
    ) -> Self {
        let mut common = [0u64; 256];
        for &d in detectors {
            let needs = d.needs();
            let bit = detector_bit(d);
            for &b in needs.bytes {
                common[usize::from(b)] |= bit;
            }
            if needs.non_ascii {
                for t in &mut common[0x80..] {
                    *t |= bit;
                }
            }
        }
        for &(b, bit) in literal_bits {
            common[usize::from(b.to_ascii_lowercase())] |= bit;
            common[usize::from(b.to_ascii_uppercase())] |= bit;
        }
        for &b in atom_starts {
            common[usize::from(b.to_ascii_lowercase())] |= ATOM_START;
            common[usize::from(b.to_ascii_uppercase())] |= ATOM_START;
        }
        for (b, t) in common.iter_mut().enumerate() {
            let Ok(b) = u8::try_from(b) else { continue };
            if b.is_ascii() && !decode::base64_byte(b) {
                *t |= NOT_B64;
            }
            *t |= match b {
                b'a'..=b'z' => LOWER,
                b'A'..=b'Z' => UPPER,
                b'0'..=b'9' => DIGIT,
                _ => 0,
            };
        }
        let tables = FieldKind::ALL
            .iter()
            .map(|&kind| {
                let mut t = common;
                for b in decode::trigger_bytes(kind) {
                    t[usize::from(b)] |= DECODE;
                }
                t
            })
            .collect();
        ByteClasses { tables }
    }

    /// The bits of every byte of `value` seen as `kind`, ORed.
    pub(crate) fn classify(&self, value: &[u8], kind: FieldKind) -> u64 {
        let t = &self.tables[kind.index()];
        // Four accumulators keep the loop free of a serial dependency.
        let mut acc = [0u64; 4];
        let mut chunks = value.chunks_exact(4);
        for c in &mut chunks {
            acc[0] |= t[usize::from(c[0])];
            acc[1] |= t[usize::from(c[1])];
            acc[2] |= t[usize::from(c[2])];
            acc[3] |= t[usize::from(c[3])];
        }
        for &b in chunks.remainder() {
            acc[0] |= t[usize::from(b)];
        }
        acc[0] | acc[1] | acc[2] | acc[3]
    }
}

/// Where a value goes: inspected as is, or decoded with what was learned here.
#[derive(Debug)]
pub(crate) enum Route<'a> {
    /// No decoder trigger, valid UTF-8, and no base64 or JWT-header view: the value as text.
    Plain(&'a str),
    /// Decode it ([`decode::variants_known`]).
    Decode(decode::Known<'a>),
}

#[cfg(test)]
impl<'a> Route<'a> {
    /// The text of a value that needs no decoding.
    pub(crate) fn plain(&self) -> Option<&'a str> {
        match self {
            Route::Plain(text) => Some(text),
            Route::Decode(_) => None,
        }
    }
}

/// Routes `value` seen as `kind`; `class` is [`ByteClasses::classify`] of it, `text` the
/// value when the caller already holds it as a `str` (no need to validate it again).
#[inline]
pub(crate) fn route<'a>(
    value: &'a [u8],
    kind: FieldKind,
    class: u64,
    text: Option<&'a str>,
) -> Route<'a> {
    // Exact for the lossy text of invalid UTF-8 too: it keeps every ASCII byte and adds none.
    let no_view = class & NOT_B64 != 0 || !mixed(class);
    let undecided = decode::Known {
        text,
        base64: no_view.then_some(None),
    };
    if class & DECODE != 0 {
        return Route::Decode(undecided);
    }
    let Some(text) = text.or_else(|| std::str::from_utf8(value).ok()) else {
        return Route::Decode(undecided);
    };
    let base64 = if no_view {
        None
    } else {
        decode::raw_base64_view(text, kind)
    };
    // A JWT's dots keep it out of the base64 view; its header has a view of its own, and
    // so has a `data:` URI's payload (base64 text mixes cases, `;` and `,` are not base64).
    let no_jwt = !mixed(class) || decode::jwt_token(text).is_none();
    let no_data_uri = class & NOT_B64 == 0 || !mixed(class) || !decode::has_data_uri_mark(text);
    if base64.is_none() && no_jwt && no_data_uri {
        return Route::Plain(text);
    }
    Route::Decode(decode::Known {
        text: Some(text),
        base64: Some(base64),
    })
}

/// Whether a value of this class mixes letter cases, or letters and digits: the base64
/// view requires it (of the whole value, which trimming and `=` padding do not change),
/// so a word, a number or a single-case id skips the decoding attempt.
fn mixed(class: u64) -> bool {
    let (lower, upper, digit) = (class & LOWER != 0, class & UPPER != 0, class & DIGIT != 0);
    lower && upper || digit && (lower || upper)
}

#[cfg(test)]
mod tests;
