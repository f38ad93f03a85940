//! The bound on large-body inspections running at once on the blocking pool.
//!
//! Unbounded, each one in flight holds its parse tree on a pool thread of its own, with
//! that thread's allocator cache: 256 concurrent 64 KiB bodies took the inner to
//! 0.6–1.1 GB on ~250 threads (0.24 GB bounded). The default is four per core rather
//! than one: answers then leave the link in batches (one per core cost 18 % of the
//! 64 KiB throughput, four nothing). The rest wait their turn, fairly, holding only
//! their body. One set per process, kept across reloads (`[server]` is restart-only).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rampart_service::metrics::Histograms;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// Most slots a configuration may ask for: beyond it the bound no longer bounds memory.
pub(crate) const MAX_SLOTS: usize = 4096;

/// Upper bounds (seconds) of the wait histogram: a slot normally frees within one
/// inspection (milliseconds); waits of a second mean the cores are saturated.
const WAIT_BOUNDS: &[f64] = &[0.001, 0.005, 0.025, 0.1, 0.25, 1.0, 2.5, 10.0];

/// Large-body inspection slots, their use and how long requests waited for one.
pub(crate) struct LargeSlots {
    permits: Arc<Semaphore>,
    count: usize,
    waiting: AtomicUsize,
    wait: Histograms,
}

impl LargeSlots {
    /// `count` slots, or four per available core when `None`.
    pub(crate) fn new(count: Option<usize>) -> Self {
        let count = count.unwrap_or_else(|| {
            4 * std::thread::available_parallelism().map_or(2, NonZeroUsize::get)
        });
        LargeSlots {
            permits: Arc::new(Semaphore::new(count)),
            count,
            waiting: AtomicUsize::new(0),
            wait: Histograms::new(
                "rampart_inspection_large_wait_seconds",
                "Time large-body inspections waited for a slot.",
                &[],
                WAIT_BOUNDS,
            ),
        }
    }

    /// Waits for a slot, first come first served; the permit frees it when dropped. A
    /// request given up while waiting is counted out of the waiters, not observed.
    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit, AcquireError> {
        let started = Instant::now();
        let waiting = Waiting::start(&self.waiting);
        let permit = self.permits.clone().acquire_owned().await;
        drop(waiting);
        self.wait.observe(&[], started.elapsed().as_secs_f64());
        permit
    }

    /// How many slots there are.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The semaphore itself, for tests that take every slot.
    #[cfg(test)]
    pub(crate) fn permits(&self) -> &Semaphore {
        &self.permits
    }

    /// Prometheus text: the slots, those in use, waiters now, and the wait histogram.
    /// Waiters that persist mean large bodies arrive faster than the cores inspect them.
    pub(crate) fn render_metrics(&self) -> String {
        let slots = self.count();
        let in_use = slots.saturating_sub(self.permits.available_permits());
        let waiting = self.waiting.load(Ordering::Relaxed);
        let mut out = format!(
            "# HELP rampart_inspection_large_slots Large-body inspections allowed at once.\n\
             # TYPE rampart_inspection_large_slots gauge\n\
             rampart_inspection_large_slots {slots}\n\
             # HELP rampart_inspection_large_in_flight Large-body inspections running.\n\
             # TYPE rampart_inspection_large_in_flight gauge\n\
             rampart_inspection_large_in_flight {in_use}\n\
             # HELP rampart_inspection_large_waiting Large-body inspections waiting for a slot.\n\
             # TYPE rampart_inspection_large_waiting gauge\n\
             rampart_inspection_large_waiting {waiting}\n"
        );
        self.wait.render(&mut out, None);
        out
    }
}

/// Counts one waiter while alive (also when the request is given up while waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn start(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
