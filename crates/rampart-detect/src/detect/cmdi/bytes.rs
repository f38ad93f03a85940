//! Byte classes of the command-injection detector, one table for all of its scans.

/// [`GATES`] bit: a quoting or expansion byte (obfuscation possible).
pub(super) const QUOTING: u8 = 1;
/// [`GATES`] bit: a byte that can put a command in position (without one, none is).
pub(super) const SHELL: u8 = 2;
/// [`GATES`] bit: a separator, substitution or quote that makes a later word a command.
pub(super) const SEPARATOR: u8 = 4;

/// [`GATES`] bit: a byte the separator loop of [`detect`](super::detect) looks at.
pub(super) const SEP_START: u8 = 8;
/// [`GATES`] bit: a byte of a shell word (`word`).
pub(super) const WORD: u8 = 16;
/// [`GATES`] bit: a byte `normalise` may do more with than lowercase it.
pub(super) const NORMALISE: u8 = 32;

/// Per byte, the classes above: table lookups instead of long `matches!` chains, since
/// these loops run over most values.
pub(super) static GATES: [u8; 256] = gates();

const fn gates() -> [u8; 256] {
    let mut t = [0u8; 256];
    t = mark(t, b"'\"\\$`", QUOTING);
    t = mark(t, b";|&`$\n/-({<>", SHELL);
    t = mark(t, b";|&`$\n\r{('\"\\<", SEPARATOR);
    t = mark(t, b";\n\r|&`$({", SEP_START);
    t = mark(t, b"_./-~?*[]+:\\%", WORD);
    t = mark(t, b"'\"\\${,}<", NORMALISE);
    let mut i = 0;
    while i < 256 {
        if (i as u8).is_ascii_alphanumeric() {
            t[i] |= WORD;
        }
        if i >= 0x80 {
            t[i] |= NORMALISE;
        }
        i += 1;
    }
    t
}

const fn mark(mut t: [u8; 256], bytes: &[u8], bit: u8) -> [u8; 256] {
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] |= bit;
        i += 1;
    }
    t
}
