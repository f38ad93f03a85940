//! Human units for configuration values: `"30s"`, `"1MiB"`.
//!
//! Config files carry these as strings; the validated config holds the parsed values,
//! so a bad unit is reported with its key path instead of surfacing later.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A number of bytes. Parsed from `"512"`, `"64KiB"`, `"1MiB"`, `"2GiB"`, `"10kB"`, `"5MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(u64);

impl ByteSize {
    /// `n` bytes.
    pub const fn bytes(n: u64) -> Self {
        Self(n)
    }
    /// `n` KiB.
    pub const fn kib(n: u64) -> Self {
        Self(n * 1024)
    }
    /// `n` MiB.
    pub const fn mib(n: u64) -> Self {
        Self(n * 1024 * 1024)
    }
    /// The size in bytes.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
    /// The size in bytes, saturating on 32-bit targets.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

/// Why a unit string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// No number at the start.
    #[error("expected a number followed by a unit, e.g. {example:?}")]
    MissingNumber {
        /// An example of the expected form.
        example: &'static str,
    },
    /// The suffix is not one of the accepted units.
    #[error("unknown unit {unit:?}; use one of {accepted}")]
    UnknownUnit {
        /// The suffix found.
        unit: String,
        /// The accepted suffixes.
        accepted: &'static str,
    },
    /// The value does not fit.
    #[error("value is too large")]
    Overflow,
}

const SIZE_UNITS: &str = "B, KiB, MiB, GiB, kB, MB, GB";
const DURATION_UNITS: &str = "ms, s, m, h";

fn split_number(s: &str) -> Option<(u64, &str)> {
    let s = s.trim();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..end].parse().ok()?;
    Some((n, s[end..].trim()))
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, unit) = split_number(s).ok_or(UnitError::MissingNumber { example: "1MiB" })?;
        let factor: u64 = match unit {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "kB" | "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            other => {
                return Err(UnitError::UnknownUnit {
                    unit: other.to_owned(),
                    accepted: SIZE_UNITS,
                });
            }
        };
        n.checked_mul(factor).map(Self).ok_or(UnitError::Overflow)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        for (factor, name) in UNITS {
            if self.0 >= factor && self.0.is_multiple_of(factor) {
                return write!(f, "{}{name}", self.0 / factor);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`. A bare number is refused: a timeout
/// without a unit is a classic misconfiguration.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let (n, unit) = split_number(s).ok_or(UnitError::MissingNumber { example: "30s" })?;
    let ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(UnitError::UnknownUnit {
                unit: other.to_owned(),
                accepted: DURATION_UNITS,
            });
        }
    };
    n.checked_mul(ms)
        .map(Duration::from_millis)
        .ok_or(UnitError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_in_binary_and_decimal_units() {
        let table = [
            ("512", 512),
            ("512B", 512),
            ("64KiB", 65_536),
            ("1MiB", 1 << 20),
            ("2GiB", 2 << 30),
            ("10kB", 10_000),
            ("5MB", 5_000_000),
            (" 3 MiB ", 3 << 20),
        ];
        for (input, want) in table {
            assert_eq!(
                input.parse::<ByteSize>().map(ByteSize::as_u64),
                Ok(want),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_malformed_sizes() {
        for input in [
            "",
            "MiB",
            "1 mib",
            "1.5MiB",
            "-1",
            "99999999999999999999GiB",
            "1TiB",
        ] {
            assert!(input.parse::<ByteSize>().is_err(), "{input}");
        }
    }

    #[test]
    fn displays_sizes_in_the_largest_exact_unit() {
        assert_eq!(ByteSize::mib(64).to_string(), "64MiB");
        assert_eq!(ByteSize::bytes(1500).to_string(), "1500B");
        assert_eq!(ByteSize::kib(1536).to_string(), "1536KiB");
    }

    #[test]
    fn parses_durations_and_refuses_bare_numbers() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["30", "s", "1d", "1.5s", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
