//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA-1, 6 digits, 30 s
//! steps, one step of clock drift either way. Built on `ring`'s HMAC (already linked for
//! TLS) rather than another crate: the algorithm is twenty lines.
//!
//! SHA-1 is what every authenticator app implements; as an HMAC key derivation it is not
//! affected by SHA-1's collision weakness.
//!
//! Replay: [`Secret::verify`] takes the last step that user logged in with and only
//! accepts later steps, so a code is good once and an older code never.

use std::fmt;

use ring::hmac;

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Steps of clock drift accepted either way.
const DRIFT: u64 = 1;
/// Secret length: 160 bits, as RFC 4226 recommends for HMAC-SHA-1.
pub const SECRET_BYTES: usize = 20;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A user's TOTP secret. Its `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; SECRET_BYTES]);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A TOTP secret that is not 32 base32 characters (160 bits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 32 base32 characters (a 160-bit secret)")]
pub struct SecretError;

impl Secret {
    /// A fresh random secret.
    pub fn generate() -> Secret {
        Secret(rand::random())
    }

    /// Parses RFC 4648 base32 (case-insensitive; spaces and `=` padding ignored).
    pub fn from_base32(text: &str) -> Result<Secret, SecretError> {
        let mut out = [0u8; SECRET_BYTES];
        let mut n = 0usize;
        let mut buffer = 0u64;
        let mut bits = 0u32;
        for c in text.bytes().filter(|c| !matches!(c, b' ' | b'=')) {
            let c = c.to_ascii_uppercase();
            let v = BASE32.iter().position(|b| *b == c).ok_or(SecretError)? as u64;
            buffer = (buffer << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                *out.get_mut(n).ok_or(SecretError)? = (buffer >> bits) as u8;
                n += 1;
                buffer &= (1 << bits) - 1;
            }
        }
        if n != SECRET_BYTES || bits != 0 {
            return Err(SecretError);
        }
        Ok(Secret(out))
    }

    /// Unpadded base32, as authenticator apps take it.
    pub fn to_base32(&self) -> String {
        let mut out = String::with_capacity(32);
        let mut buffer = 0u64;
        let mut bits = 0u32;
        for b in self.0 {
            buffer = (buffer << 8) | u64::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// The code for `step` (RFC 4226 HOTP with the step as counter).
    pub fn code(&self, step: u64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let mac = tag.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            mac[offset] & 0x7f,
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]);
        format!("{:06}", binary % 1_000_000)
    }

    /// The step a `code` typed at `unix_secs` matches, if it matches one within the
    /// drift and later than `last_used` (the step of this user's previous login).
    pub fn verify(&self, code: &str, unix_secs: u64, last_used: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = unix_secs / STEP_SECS;
        let mut found = None;
        // Every candidate is computed and compared without an early exit.
        for step in now.saturating_sub(DRIFT)..=now + DRIFT {
            let expected = self.code(step);
            let same = expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            if same && last_used.is_none_or(|last| step > last) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The enrolment URI authenticator apps read (often from a QR code).
    pub fn otpauth_uri(&self, user: &str) -> String {
        let user: String = user
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!(
            "otpauth://totp/Rampart:{user}?secret={}&issuer=Rampart&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.to_base32()
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows; the 6-digit code is the last six of the eight.
    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        let secret = Secret(*b"12345678901234567890");
        for (time, eight) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code(time / STEP_SECS), eight[2..], "t={time}");
        }
    }

    #[test]
    fn base32_round_trips_and_refuses_other_lengths() {
        let secret = Secret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(Secret::from_base32(&text).unwrap(), secret);
        assert_eq!(
            Secret::from_base32(&text.to_ascii_lowercase()).unwrap(),
            secret
        );
        assert_eq!(
            Secret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            Secret(*b"12345678901234567890")
        );
        for bad in [
            "",
            "GEZDGNBV",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
            &format!("{text}AA"),
        ] {
            assert!(Secret::from_base32(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn accepts_one_step_of_drift_once_and_never_an_older_step() {
        let secret = Secret::generate();
        let now = 1_700_000_000u64;
        let step = now / STEP_SECS;
        let table: [(u64, Option<u64>, Option<u64>); 8] = [
            (step, None, Some(step)),
            (step - 1, None, Some(step - 1)),
            (step + 1, None, Some(step + 1)),
            (step - 2, None, None),
            (step + 2, None, None),
            // Replays: the same step or an earlier one after it was used.
            (step, Some(step), None),
            (step - 1, Some(step), None),
            (step + 1, Some(step), Some(step + 1)),
        ];
        for (code_step, last, want) in table {
            let code = secret.code(code_step);
            assert_eq!(
                secret.verify(&code, now, last),
                want,
                "{code_step} {last:?}"
            );
        }
        for bad in ["", "12345", "1234567", "12a456", "-12345"] {
            assert_eq!(secret.verify(bad, now, None), None, "{bad}");
        }
    }

    #[test]
    fn the_enrolment_uri_names_the_issuer_and_user() {
        let secret = Secret(*b"12345678901234567890");
        assert_eq!(
            secret.otpauth_uri("alice@ops"),
            "otpauth://totp/Rampart:alice%40ops?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Rampart&algorithm=SHA1&digits=6&period=30"
        );
    }
}
