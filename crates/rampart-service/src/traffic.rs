//! Request counters per tier, fed by the access log (every request ends in exactly one
//! [`crate::logging::AccessRecord::log`]), read by the admin status: requests, refusals
//! and a latency histogram.
//!
//! One process serves one tier, so the counters are process-wide, keyed by tier name.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in milliseconds; the last bucket is open.
const BOUNDS_MS: [u64; 16] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000,
];

/// The counters of one tier.
#[derive(Debug, Default)]
pub struct Traffic {
    requests: AtomicU64,
    denials: AtomicU64,
    buckets: [AtomicU64; BOUNDS_MS.len() + 1],
}

/// Latency percentiles, in milliseconds (bucket upper bounds, so never under-reported).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Traffic {
    /// Counts one finished request. `refused`: Rampart refused it (4xx with a reason);
    /// failures of the backend or the link are requests, not refusals.
    pub fn observe(&self, refused: bool, elapsed: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if refused {
            self.denials.fetch_add(1, Ordering::Relaxed);
        }
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let i = BOUNDS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(BOUNDS_MS.len());
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests finished since start.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests refused since start.
    pub fn denials(&self) -> u64 {
        self.denials.load(Ordering::Relaxed)
    }

    /// Latency percentiles since start; `None` before the first request.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let at = |q: f64| {
            // The rank of the q-quantile, 1-based; float precision is ample for counters.
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    // The open bucket reports its lower bound: the worst we know.
                    let bound = BOUNDS_MS.get(i).or(BOUNDS_MS.last()).copied();
                    return bound.unwrap_or(0) as f64;
                }
            }
            BOUNDS_MS.last().copied().unwrap_or(0) as f64
        };
        Some(Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
        })
    }
}

static EDGE: Traffic = Traffic::new();
static INNER: Traffic = Traffic::new();
static OTHER: Traffic = Traffic::new();

impl Traffic {
    const fn new() -> Self {
        Traffic {
            requests: AtomicU64::new(0),
            denials: AtomicU64::new(0),
            buckets: [const { AtomicU64::new(0) }; BOUNDS_MS.len() + 1],
        }
    }
}

/// The counters of `tier` (`edge` or `inner`; any other name shares one set).
pub fn of(tier: &str) -> &'static Traffic {
    match tier {
        "edge" => &EDGE,
        "inner" => &INNER,
        _ => &OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_refusals_and_percentiles() {
        let t = Traffic::new();
        assert_eq!(t.percentiles(), None);
        for ms in [0u64, 3, 3, 3, 3, 3, 3, 3, 40, 700] {
            t.observe(ms == 40, Duration::from_millis(ms));
        }
        assert_eq!((t.requests(), t.denials()), (10, 1));
        let p = t.percentiles().unwrap_or(Percentiles {
            p50: -1.0,
            p90: -1.0,
            p99: -1.0,
        });
        assert_eq!((p.p50, p.p90, p.p99), (5.0, 50.0, 1_000.0));
        t.observe(false, Duration::from_secs(3_600));
        assert_eq!(t.percentiles().map(|p| p.p99), Some(300_000.0));
    }

    #[test]
    fn tiers_count_apart() {
        let before = (of("edge").requests(), of("inner").requests());
        of("inner").observe(false, Duration::ZERO);
        assert_eq!(of("inner").requests(), before.1 + 1);
        assert!(of("edge").requests() >= before.0);
    }
}
