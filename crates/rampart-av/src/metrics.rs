//! Counters a scanner keeps for export: plain atomics, no metrics library. The lead's
//! exporter reads a [`MetricsSnapshot`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::ScanError;
use crate::verdict::{Engine, Verdict};

/// Upper bounds (inclusive, milliseconds) of the scan latency histogram buckets; one more
/// bucket counts everything slower.
pub const LATENCY_BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/// Counters for one engine.
#[derive(Debug, Default)]
struct EngineCounters {
    requests: AtomicU64,
    errors: AtomicU64,
    cache_hits: AtomicU64,
    signature_changes: AtomicU64,
}

/// A scanner's counters.
#[derive(Debug, Default)]
pub struct AvMetrics {
    scans: AtomicU64,
    clean: AtomicU64,
    infected: AtomicU64,
    oversize: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    latency_micros_sum: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    clamd: EngineCounters,
    icap: EngineCounters,
}

/// Per-engine counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineSnapshot {
    /// Scans sent to the engine (cache hits excluded).
    pub requests: u64,
    /// Those that ended in a [`ScanError`].
    pub errors: u64,
    /// Scans answered from the verdict cache instead.
    pub cache_hits: u64,
    /// Times the engine was found with other signatures than before (its cached
    /// verdicts were dropped).
    pub signature_changes: u64,
}

/// All counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Calls to `Scanner::scan`.
    pub scans: u64,
    /// Scans that ended clean.
    pub clean: u64,
    /// Scans that ended infected.
    pub infected: u64,
    /// Scans that ended oversize.
    pub oversize: u64,
    /// Scans an engine refused.
    pub refused: u64,
    /// Scans that ended in an error.
    pub errors: u64,
    /// Sum of scan latencies in microseconds.
    pub latency_micros_sum: u64,
    /// Scans per latency bucket ([`LATENCY_BUCKETS_MS`], then the overflow bucket).
    pub latency_buckets: Vec<u64>,
    /// clamd's counts.
    pub clamd: EngineSnapshot,
    /// The ICAP service's counts.
    pub icap: EngineSnapshot,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl AvMetrics {
    fn engine(&self, engine: Engine) -> &EngineCounters {
        match engine {
            Engine::Clamd => &self.clamd,
            Engine::Icap => &self.icap,
        }
    }

    pub(crate) fn engine_request(&self, engine: Engine) {
        bump(&self.engine(engine).requests);
    }

    pub(crate) fn engine_error(&self, engine: Engine) {
        bump(&self.engine(engine).errors);
    }

    pub(crate) fn cache_hit(&self, engine: Engine) {
        bump(&self.engine(engine).cache_hits);
    }

    pub(crate) fn signature_change(&self, engine: Engine) {
        bump(&self.engine(engine).signature_changes);
    }

    /// Records one finished scan.
    pub(crate) fn scan(&self, result: &Result<Verdict, ScanError>, took: Duration) {
        bump(&self.scans);
        bump(match result {
            Ok(Verdict::Clean) => &self.clean,
            Ok(Verdict::Infected { .. }) => &self.infected,
            Ok(Verdict::Oversize { .. }) => &self.oversize,
            Ok(Verdict::Refuse { .. }) => &self.refused,
            Err(_) => &self.errors,
        });
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros_sum.fetch_add(micros, Ordering::Relaxed);
        let ms = micros.div_ceil(1000);
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&bound| ms <= bound)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        if let Some(counter) = self.latency_buckets.get(bucket) {
            bump(counter);
        }
    }

    /// The counts now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let engine = |e: &EngineCounters| EngineSnapshot {
            requests: load(&e.requests),
            errors: load(&e.errors),
            cache_hits: load(&e.cache_hits),
            signature_changes: load(&e.signature_changes),
        };
        MetricsSnapshot {
            scans: load(&self.scans),
            clean: load(&self.clean),
            infected: load(&self.infected),
            oversize: load(&self.oversize),
            refused: load(&self.refused),
            errors: load(&self.errors),
            latency_micros_sum: load(&self.latency_micros_sum),
            latency_buckets: self.latency_buckets.iter().map(load).collect(),
            clamd: engine(&self.clamd),
            icap: engine(&self.icap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_buckets_latencies() {
        let m = AvMetrics::default();
        m.scan(&Ok(Verdict::Clean), Duration::from_micros(300));
        m.scan(&Ok(Verdict::Clean), Duration::from_millis(1));
        m.scan(
            &Ok(Verdict::Oversize {
                engine: Engine::Clamd,
            }),
            Duration::from_millis(7),
        );
        m.scan(
            &Err(ScanError::Timeout {
                engine: Engine::Icap,
                after: Duration::from_secs(5),
            }),
            Duration::from_secs(60),
        );
        m.engine_request(Engine::Clamd);
        m.cache_hit(Engine::Icap);
        m.engine_error(Engine::Icap);
        m.signature_change(Engine::Icap);
        let s = m.snapshot();
        assert_eq!(
            (s.scans, s.clean, s.oversize, s.errors, s.infected),
            (4, 2, 1, 1, 0)
        );
        assert_eq!(s.latency_micros_sum, 300 + 1000 + 7000 + 60_000_000);
        let mut want = vec![0; LATENCY_BUCKETS_MS.len() + 1];
        want[0] = 2; // <= 1 ms
        want[3] = 1; // <= 10 ms
        want[LATENCY_BUCKETS_MS.len()] = 1; // slower than every bound
        assert_eq!(s.latency_buckets, want);
        assert_eq!(
            s.clamd,
            EngineSnapshot {
                requests: 1,
                errors: 0,
                cache_hits: 0,
                signature_changes: 0,
            }
        );
        assert_eq!(
            s.icap,
            EngineSnapshot {
                requests: 0,
                errors: 1,
                cache_hits: 1,
                signature_changes: 1,
            }
        );
    }
}
