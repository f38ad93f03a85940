//! Time, injected: limiters take their clock as a type parameter so tests control it.
//!
//! Everything is measured in nanoseconds since the Unix epoch (UTC). GCRA only needs a
//! monotonic clock, quotas need the calendar; [`SystemClock`] serves both by anchoring a
//! monotonic [`Instant`] to the wall clock once, so a wall-clock step (NTP, an operator)
//! can neither hand out a fresh burst nor lock everyone out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> u64;
}

/// The real clock: monotonic, anchored to the wall clock at creation.
#[derive(Debug, Clone)]
pub struct SystemClock {
    start: Instant,
    start_unix_nanos: u64,
}

impl SystemClock {
    /// Anchors a new clock to the current wall-clock time.
    pub fn new() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self {
            start: Instant::now(),
            start_unix_nanos: saturating_nanos(since_epoch),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        self.start_unix_nanos
            .saturating_add(saturating_nanos(self.start.elapsed()))
    }
}

/// A clock that moves only when told to; for tests and simulations.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `unix_nanos`.
    pub fn at(unix_nanos: u64) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(unix_nanos)),
        }
    }

    /// A clock standing at `secs` seconds after the Unix epoch.
    pub fn at_unix_secs(secs: u64) -> Self {
        Self::at(secs.saturating_mul(1_000_000_000))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(saturating_nanos(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::at_unix_secs(10);
        let copy = clock.clone();
        assert_eq!(clock.now_nanos(), 10_000_000_000);
        copy.advance(Duration::from_millis(5));
        assert_eq!(clock.now_nanos(), 10_005_000_000);
    }

    #[test]
    fn system_clock_is_near_the_wall_clock_and_never_goes_back() {
        let clock = SystemClock::new();
        let wall = saturating_nanos(SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
        let a = clock.now_nanos();
        let b = clock.now_nanos();
        assert!(b >= a);
        assert!(a.abs_diff(wall) < 1_000_000_000);
    }
}
