//! P: a logical processor (Go's `p`). An M must hold a P to run Gs.
//!
//! Invariants:
//! - At any time a P is held by at most one M (status `Running`), or sits on the idle list
//!   (`Idle`), or is shut down (`Dead`). Ownership moves only through `acquirep`/`releasep`
//!   under the scheduler's protocol (`pidleput`/`pidleget`/`startm`).
//! - Counters (`schedtick`, steals, ...) are written only by the owning M, with plain
//!   load+store (no read-modify-write on the hot path); anyone may read them racily.

pub(crate) use super::pstatus::PStatus;
use super::pstatus::PStatusCell;
use super::runq::RunQueue;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use crate::reactor::timers::Timers;

/// Ids a P hands out before refilling from the global counter (Go's `_GoidCacheBatch`).
const ID_CACHE_BATCH: u64 = 16;

#[repr(align(128))] // one P per cache-line pair: no false sharing between Ps
pub(crate) struct P {
    pub(crate) id: usize,
    pub(crate) runq: RunQueue,
    pub(crate) status: PStatusCell,
    /// Gs scheduled on this P with a fresh time slice (Go's `schedtick`: a runnext hand-off
    /// inherits the slice and does not count). sysmon watches it to find long slices.
    pub(crate) schedtick: AtomicU64,
    /// Every poll on this P; drives the 1-in-61 global-queue check (Go uses schedtick, which a
    /// runnext chain never advances — that would let a ping-pong pair starve the global queue).
    pub(crate) polls: AtomicU64,
    /// Blocking sections entered on this P (Go's `syscalltick`).
    pub(crate) syscalltick: AtomicU64,
    /// Blocking sections whose P was handed off (by sysmon, or eagerly in a burst).
    pub(crate) handoffs: AtomicU64,
    /// When that last happened (coarse clock).
    pub(crate) last_handoff: AtomicU64,
    /// Preempt flags set on this P by sysmon.
    pub(crate) preemptions: AtomicU64,
    /// Id of the M that holds (or last held) this P (Go's `p.m`).
    pub(crate) m: AtomicUsize,
    /// Id of the task being polled, 0 for none (Go's `m.curg`).
    pub(crate) curg_id: AtomicU64,
    /// A reserve P lent by stuck-P rescue: its M gives it back when this is set.
    pub(crate) retire: AtomicBool,
    /// Successful steals by this P, and tasks moved by them.
    pub(crate) steals: AtomicU64,
    pub(crate) stolen_tasks: AtomicU64,
    /// `runqputslow` batches sent to the global queue.
    pub(crate) overflows: AtomicU64,
    /// Times the 1-in-61 check took a G from the global queue first.
    pub(crate) fairness_picks: AtomicU64,
    id_next: AtomicU64,
    id_end: AtomicU64,
    /// This P's timers (Go's `p.timers`).
    pub(crate) timers: Timers,
    /// Free task memory, by size class (Go's `p.gFree`); touched only by this P's M.
    #[cfg(not(loom))]
    pub(crate) gfree: crate::executor::task::gfree::LocalFree,
    /// Set by sysmon when the running task has used up its time slice (Go's `preempt`).
    preempt: AtomicBool,
}

/// Metric-only bookkeeping (spawn counts, per-task polls and state times) can be compiled out
/// with `RUSTFLAGS="--cfg gmp_no_metrics"` — only to measure what it costs
/// (`benches/metrics_overhead.rs`); counters the scheduler itself needs stay.
pub(crate) const METRICS: bool = !cfg!(gmp_no_metrics);

/// Increment a counter that only its owner writes.
#[inline(always)]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// Increment a counter written by sysmon only.
fn bump_shared(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

#[inline(always)]
pub(crate) fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed) + n, Relaxed);
}

impl P {
    pub(crate) fn new(id: usize) -> P {
        P {
            id,
            runq: RunQueue::new(),
            status: PStatusCell::new(PStatus::Idle),
            schedtick: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            syscalltick: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
            last_handoff: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            m: AtomicUsize::new(usize::MAX),
            curg_id: AtomicU64::new(0),
            retire: AtomicBool::new(false),
            steals: AtomicU64::new(0),
            stolen_tasks: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
            fairness_picks: AtomicU64::new(0),
            id_next: AtomicU64::new(0),
            id_end: AtomicU64::new(0),
            timers: Timers::new(),
            #[cfg(not(loom))]
            gfree: crate::executor::task::gfree::LocalFree::new(),
            preempt: AtomicBool::new(false),
        }
    }

    pub(crate) fn preempt_requested(&self) -> bool {
        self.preempt.load(Relaxed)
    }

    pub(crate) fn request_preempt(&self) {
        self.preempt.store(true, Relaxed);
        bump_shared(&self.preemptions);
    }

    /// Clear the preempt flag (a new task starts its slice); a load first keeps the line shared.
    #[inline]
    pub(crate) fn clear_preempt(&self) {
        if self.preempt.load(Relaxed) {
            self.preempt.store(false, Relaxed);
        }
    }

    pub(crate) fn status(&self) -> PStatus {
        self.status.get()
    }

    pub(crate) fn set_status(&self, s: PStatus) {
        self.status.set(s);
    }

    /// Record the task about to be polled (for sysmon's reports and scheddetail).
    #[inline]
    pub(crate) fn set_curg(&self, id: u64) {
        self.curg_id.store(id, Relaxed);
    }

    /// Next task id from this P's cache (Go's `goidcache`), refilled from `global`.
    pub(crate) fn next_task_id(&self, global: &AtomicU64) -> u64 {
        let next = self.id_next.load(Relaxed);
        if next < self.id_end.load(Relaxed) {
            self.id_next.store(next + 1, Relaxed);
            return next;
        }
        let start = global.fetch_add(ID_CACHE_BATCH, Relaxed);
        self.id_next.store(start + 1, Relaxed);
        self.id_end.store(start + ID_CACHE_BATCH, Relaxed);
        start
    }
}
