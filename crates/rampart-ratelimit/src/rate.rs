//! Rates, limits and the GCRA arithmetic (no I/O, no locks).
//!
//! GCRA keeps one number per key, the theoretical arrival time (TAT): the instant at
//! which the key's bucket is full again. A request is admitted when advancing the TAT by
//! one emission interval keeps it within `burst` intervals of now. Only an admitted
//! request advances the TAT, so a client hammering while throttled does not extend its
//! own penalty, and a TAT in the past is the same as a full bucket (which is what makes
//! eviction safe, see `table`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A number of requests per period, written `"100/s"`, `"6000/min"`, `"10/h"`, `"1000/d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    period: Duration,
}

/// Why a rate or limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// Not of the form `N/unit`.
    #[error("expected a rate like \"100/s\", \"6000/min\", \"10/h\" or \"1000/d\"")]
    Malformed,
    /// Zero requests per period.
    #[error("the count must be at least 1")]
    ZeroCount,
    /// The emission interval would be below one microsecond.
    #[error("more than 1,000,000 requests per second per key cannot be limited")]
    TooFast,
    /// `burst` is zero.
    #[error("burst must be at least 1")]
    ZeroBurst,
}

impl Rate {
    /// `count` requests per `period`.
    pub fn new(count: u32, period: Duration) -> Result<Self, RateError> {
        if count == 0 {
            return Err(RateError::ZeroCount);
        }
        let rate = Self { count, period };
        if rate.interval_nanos() < 1_000 {
            return Err(RateError::TooFast);
        }
        Ok(rate)
    }

    /// `count` requests per second.
    pub fn per_second(count: u32) -> Result<Self, RateError> {
        Self::new(count, Duration::from_secs(1))
    }

    /// Requests per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    fn interval_nanos(&self) -> u64 {
        let period = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        period / u64::from(self.count.max(1))
    }
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (count, unit) = s.split_once('/').ok_or(RateError::Malformed)?;
        let count: u32 = count.trim().parse().map_err(|_| RateError::Malformed)?;
        let secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            _ => return Err(RateError::Malformed),
        };
        Self::new(count, Duration::from_secs(secs))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "min",
            3_600 => "h",
            86_400 => "d",
            _ => return write!(f, "{}/{}ms", self.count, self.period.as_millis()),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A rate with a burst: at most `burst` requests at once after an idle period, refilled
/// at `rate`. This is a token bucket of capacity `burst`, evaluated as GCRA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    rate: Rate,
    burst: u32,
    interval_nanos: u64,
}

impl Limit {
    /// `rate` with a bucket of `burst` requests.
    pub fn new(rate: Rate, burst: u32) -> Result<Self, RateError> {
        if burst == 0 {
            return Err(RateError::ZeroBurst);
        }
        Ok(Self {
            rate,
            burst,
            interval_nanos: rate.interval_nanos(),
        })
    }

    /// The advertised rate (what `RateLimit-Policy` announces).
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The bucket size.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Time between two requests at the steady rate.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos)
    }

    /// This limit shrunk to a `share` in (0, 1] of itself: the rate is multiplied by
    /// `share` and the burst rounded up (never below 1). The advertised rate is kept.
    pub fn scaled(&self, share: f64) -> Self {
        if !(share > 0.0 && share < 1.0) {
            return *self;
        }
        // Float rounding here only moves the interval by a nanosecond.
        let interval_nanos = ((self.interval_nanos as f64) / share).min(u64::MAX as f64) as u64;
        let burst = ((f64::from(self.burst) * share).ceil() as u32).max(1);
        Self {
            rate: self.rate,
            burst,
            interval_nanos,
        }
    }

    fn capacity_nanos(&self) -> u64 {
        self.interval_nanos.saturating_mul(u64::from(self.burst))
    }
}

/// What GCRA says about one request against one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gcra {
    /// Admit; store `new_tat` if every other limit admits too.
    Allow {
        new_tat: u64,
        remaining: u64,
        reset_after: u64,
    },
    /// Refuse; nothing changes.
    Deny { retry_after: u64, reset_after: u64 },
}

/// Evaluates one request at `now` against a key whose TAT is `tat` (0 when unknown).
pub(crate) fn gcra(limit: &Limit, tat: u64, now: u64) -> Gcra {
    let base = tat.max(now);
    let horizon = (base - now).saturating_add(limit.interval_nanos);
    let capacity = limit.capacity_nanos();
    if horizon > capacity {
        Gcra::Deny {
            retry_after: horizon - capacity,
            reset_after: base - now,
        }
    } else {
        Gcra::Allow {
            new_tat: now.saturating_add(horizon),
            remaining: (capacity - horizon) / limit.interval_nanos.max(1),
            reset_after: horizon,
        }
    }
}

/// Gives back one admitted request's worth, for a reservation that was not used.
pub(crate) fn gcra_refund(limit: &Limit, tat: u64) -> u64 {
    tat.saturating_sub(limit.interval_nanos)
}

#[cfg(test)]
#[path = "rate_tests.rs"]
mod tests;
