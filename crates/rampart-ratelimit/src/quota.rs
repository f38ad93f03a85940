//! Quotas: a number of admitted requests per calendar day or month, in UTC.
//!
//! Windows are calendar windows (a daily quota resets at 00:00 UTC, a monthly one on the
//! 1st at 00:00 UTC), not sliding ones, because that is what consumers are billed and
//! told. The same arithmetic runs inside the redis script on the server's clock.

use std::time::Duration;

use crate::table::QUOTA_COUNT_BITS;

/// The largest quota a policy may set (the count shares a `u64` with the window end).
pub const MAX_QUOTA: u32 = (1 << QUOTA_COUNT_BITS) - 1;

/// A calendar window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaPeriod {
    /// 00:00 UTC to 00:00 UTC.
    Day,
    /// The 1st of a month, 00:00 UTC, to the 1st of the next.
    Month,
}

/// The window containing `unix_secs`, as `(start, end)` in Unix seconds.
pub fn window(period: QuotaPeriod, unix_secs: u64) -> (u64, u64) {
    let day = unix_secs / 86_400;
    match period {
        QuotaPeriod::Day => (day * 86_400, (day + 1) * 86_400),
        QuotaPeriod::Month => {
            let (year, month, dom) = civil_from_days(day);
            let start = day - (dom - 1);
            let end = start + days_in_month(year, month);
            (start * 86_400, end * 86_400)
        }
    }
}

/// A quota with its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Admitted requests per window.
    pub limit: u32,
    /// The window.
    pub period: QuotaPeriod,
}

/// What a quota says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotaCheck {
    /// Admit; store `new_state` if every other limit admits too.
    Allow {
        new_state: u64,
        remaining: u64,
        reset_after: u64,
    },
    /// Refuse until the window ends.
    Deny { reset_after: u64 },
}

impl Quota {
    /// Evaluates one request at `now` (Unix nanoseconds) against `state`
    /// (`window_end_secs << 30 | count`, 0 when unknown).
    pub(crate) fn check(&self, state: u64, now: u64) -> QuotaCheck {
        let (_, end) = window(self.period, now / 1_000_000_000);
        let count = if state >> QUOTA_COUNT_BITS == end {
            state & u64::from(MAX_QUOTA)
        } else {
            0 // an older window (or nothing) counts nothing
        };
        let reset_after = (end * 1_000_000_000).saturating_sub(now);
        if count >= u64::from(self.limit) {
            return QuotaCheck::Deny { reset_after };
        }
        QuotaCheck::Allow {
            new_state: end << QUOTA_COUNT_BITS | (count + 1),
            remaining: u64::from(self.limit) - count - 1,
            reset_after,
        }
    }

    /// `state` with one admitted request given back, if it is still `now`'s window.
    pub(crate) fn refund(&self, state: u64, now: u64) -> u64 {
        let (_, end) = window(self.period, now / 1_000_000_000);
        if state >> QUOTA_COUNT_BITS == end && state & u64::from(MAX_QUOTA) > 0 {
            state - 1
        } else {
            state
        }
    }

    /// The window length around `now`, for `RateLimit-Policy: w=`.
    pub(crate) fn window_len(&self, now: u64) -> Duration {
        let (start, end) = window(self.period, now / 1_000_000_000);
        Duration::from_secs(end - start)
    }
}

/// Howard Hinnant's `civil_from_days`, for days since 1970-01-01 (always >= 0 here).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dom = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, dom)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
