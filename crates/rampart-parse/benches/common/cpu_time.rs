//! A criterion measurement of the benchmark thread's own CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so numbers taken on a shared, loaded machine are not
//! inflated by time spent waiting for a core.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use rustix::time::{ClockId, clock_gettime};

/// Thread CPU time in nanoseconds, formatted like wall time.
pub(crate) struct CpuTime {
    wall: WallTime,
}

impl CpuTime {
    pub(crate) fn new() -> Self {
        Self { wall: WallTime }
    }
}

fn now_nanos() -> u64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    (t.tv_sec as u64).saturating_mul(1_000_000_000) + t.tv_nsec as u64
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        now_nanos()
    }

    fn end(&self, start: u64) -> u64 {
        now_nanos().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}
