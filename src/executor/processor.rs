//! P: a logical processor (Go's `p`). An M must hold a P to run Gs.
//!
//! Invariants:
//! - At any time a P is held by at most one M (status `Running`), or sits on the idle list
//!   (`Idle`), or is shut down (`Dead`). Ownership moves only through `acquirep`/`releasep`
//!   under the scheduler's protocol (`pidleput`/`pidleget`/`startm`).
//! - Counters (`schedtick`, steals, ...) are written only by the owning M, with plain
//!   load+store (no read-modify-write on the hot path); anyone may read them racily.

use super::runq::RunQueue;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use crate::reactor::timers::Timers;

/// Go's `_Pidle`, `_Prunning`, `_Psyscall`, `_Pdead`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PStatus {
    Idle = 0,
    Running = 1,
    Syscall = 2,
    Dead = 3,
}

/// Ids a P hands out before refilling from the global counter (Go's `_GoidCacheBatch`).
const ID_CACHE_BATCH: u64 = 16;

#[repr(align(128))] // one P per cache-line pair: no false sharing between Ps
pub(crate) struct P {
    pub(crate) id: usize,
    pub(crate) runq: RunQueue,
    status: AtomicU8,
    /// Gs scheduled on this P (Go's `schedtick`); also drives the 1-in-61 global-queue check.
    pub(crate) schedtick: AtomicU64,
    /// Successful steals by this P, and tasks moved by them.
    pub(crate) steals: AtomicU64,
    pub(crate) stolen_tasks: AtomicU64,
    /// `runqputslow` batches sent to the global queue.
    pub(crate) overflows: AtomicU64,
    /// Times the 1-in-61 check took a G from the global queue first.
    pub(crate) fairness_picks: AtomicU64,
    pub(crate) spawned: AtomicU64,
    id_next: AtomicU64,
    id_end: AtomicU64,
    /// This P's timers (Go's `p.timers`).
    pub(crate) timers: Timers,
    /// Set by sysmon when the running task has used up its time slice (Go's `preempt`).
    preempt: AtomicBool,
}

/// Increment a counter that only its owner writes.
#[inline(always)]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
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
            status: AtomicU8::new(PStatus::Idle as u8),
            schedtick: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            stolen_tasks: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
            fairness_picks: AtomicU64::new(0),
            spawned: AtomicU64::new(0),
            id_next: AtomicU64::new(0),
            id_end: AtomicU64::new(0),
            timers: Timers::new(),
            preempt: AtomicBool::new(false),
        }
    }

    pub(crate) fn preempt_requested(&self) -> bool {
        self.preempt.load(Relaxed)
    }

    #[allow(dead_code)] // set by sysmon
    pub(crate) fn request_preempt(&self) {
        self.preempt.store(true, Relaxed);
    }

    /// Clear the preempt flag (a new task starts its slice); a load first keeps the line shared.
    #[inline]
    pub(crate) fn clear_preempt(&self) {
        if self.preempt.load(Relaxed) {
            self.preempt.store(false, Relaxed);
        }
    }

    pub(crate) fn status(&self) -> PStatus {
        match self.status.load(Relaxed) {
            0 => PStatus::Idle,
            1 => PStatus::Running,
            2 => PStatus::Syscall,
            _ => PStatus::Dead,
        }
    }

    pub(crate) fn set_status(&self, s: PStatus) {
        self.status.store(s as u8, Relaxed);
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
