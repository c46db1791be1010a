//! P: a logical processor (Go's `p`), the right to run Gs. An M must hold a P to run them.
//!
//! A P is two halves, so that "only the owner touches this" is checked by the compiler:
//! - [`P`], the **shared half**, stays in `Sched::allp` for the runtime's life. It holds what
//!   other threads read or take: the ring's consumer end (thieves, sysmon's stuck-P rescue,
//!   shutdown), the status word (sysmon's retake CASes it), the counters sysmon and thieves
//!   read, the timers (added from any thread, stolen by idle Ms: Go locks `p.timers` too), the
//!   preempt flag (set by sysmon), and the slot where the owned half waits.
//! - [`PLocal`], the **owned half**, is a `Box` that moves between Ms with the right to run
//!   the P: the ring's producer end ([`RunqOwner`]), the free task memory (Go's `p.gFree`),
//!   the task id cache (Go's `goidcache`). Everything only the owner may do takes
//!   `&mut PLocal`. Go's `acquirep` and `releasep` are the moves of that box: `acquirep`
//!   takes it out of the P's slot, `releasep` puts it back.
//!
//! Invariants:
//! - The box is in exactly one place: the slot (the P is idle, a reserve, dead — shut down or
//!   above `procs` after a resize — or its M is
//!   in a blocking section that sysmon may retake), an M's hands (`M::p`), or the thread
//!   context of an M polling a task (lent for the poll, so spawns and wakes reach the ring).
//!   `acquirep` finding the slot empty is a broken invariant (two owners) and panics.
//! - A P's status is `Running` or `Syscall` while an M owns it, `Idle` on the idle list,
//!   `Dead` shut down, above `procs` after a resize (`sched/resize.rs`), or in the reserve of
//!   stuck-P rescue. The box is put in the slot
//!   *before* the status (or the idle list) says another M may take the P, and the status
//!   word and the slot's lock order the hand-over.
//! - Owner counters ([`OwnerCounter`]: `schedtick`, `polls`, `syscalltick`, steals, ...) are
//!   written with a plain load+store (no read-modify-write on the hot path) and only with the
//!   owned half in hand; anyone may read them racily. Counters that sysmon writes
//!   (`handoffs`, `preemptions`, `last_handoff`) are separate and updated with RMWs.

use super::latency::LatencyHist;
pub(crate) use super::pstatus::PStatus;
use super::pstatus::PStatusCell;
use super::runq::{RunQueue, RunqOwner};
use super::sched::Sched;
use super::sched_ref;
use super::schedule_impl::Notified;
use super::task::first_poll::FirstPoll;
use super::task::gfree::LocalFree;
use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::Mutex;
use crate::reactor::timers::Timers;

/// Ids a P hands out before refilling from the global counter (Go's `_GoidCacheBatch`).
const ID_CACHE_BATCH: u64 = 16;

/// Metric-only bookkeeping (spawn counts, per-task polls and state times) can be compiled out
/// with `RUSTFLAGS="--cfg gmp_no_metrics"` — only to measure what it costs
/// (`benches/metrics_overhead.rs`); counters the scheduler itself needs stay.
pub(crate) const METRICS: bool = !cfg!(gmp_no_metrics);

/// A counter written only by the P's owner, read by anyone.
#[derive(Default)]
pub(crate) struct OwnerCounter(AtomicU64);

impl OwnerCounter {
    /// A racy read (sysmon, thieves, metrics).
    #[inline(always)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// Add `n`: the owner alone writes, so a load and a store (no locked instruction). The
    /// `&mut PLocal` is the proof of ownership.
    #[inline(always)]
    pub(crate) fn add(&self, _owner: &mut PLocal, n: u64) {
        self.0.store(self.0.load(Relaxed) + n, Relaxed);
    }

    #[inline(always)]
    pub(crate) fn bump(&self, owner: &mut PLocal) {
        self.add(owner, 1);
    }
}

/// The shared half of a P (see the module docs).
#[repr(align(128))] // one P per cache-line pair: no false sharing between Ps
pub(crate) struct P {
    pub(crate) id: usize,
    /// The ring's consumer end; its producer end is `PLocal::runq`.
    pub(crate) runq: RunQueue,
    pub(crate) status: PStatusCell,
    /// Gs scheduled on this P with a fresh time slice (Go's `schedtick`: a runnext hand-off
    /// inherits the slice and does not count). sysmon watches it to find long slices.
    pub(crate) schedtick: OwnerCounter,
    /// Every poll on this P; drives the 1-in-61 global-queue check (Go uses schedtick, which a
    /// runnext chain never advances — that would let a ping-pong pair starve the global queue).
    pub(crate) polls: OwnerCounter,
    /// Blocking sections entered on this P (Go's `syscalltick`).
    pub(crate) syscalltick: OwnerCounter,
    /// Successful steals by this P, and tasks moved by them.
    pub(crate) steals: OwnerCounter,
    pub(crate) stolen_tasks: OwnerCounter,
    /// `runqputslow` batches sent to the global queue.
    pub(crate) overflows: OwnerCounter,
    /// Times the 1-in-61 check took a G from the global queue first.
    pub(crate) fairness_picks: OwnerCounter,
    /// Blocking sections whose P was handed off (by sysmon, or eagerly in a burst): RMWs.
    pub(crate) handoffs: AtomicU64,
    /// When that last happened (coarse clock), stored by sysmon.
    pub(crate) last_handoff: AtomicU64,
    /// Preempt flags set on this P by sysmon: RMWs.
    pub(crate) preemptions: AtomicU64,
    /// Id of the M that holds (or last held) this P (Go's `p.m`), for scheddetail.
    pub(crate) m: AtomicUsize,
    /// Id of the task being polled, 0 for none (Go's `m.curg`), for sysmon and scheddetail.
    pub(crate) curg_id: AtomicU64,
    /// The task whose first poll runs on this P, for dumps (it is in no list yet): see
    /// `task::first_poll`.
    pub(crate) first_poll: FirstPoll,
    /// Give the P back at the next scheduling point: set on a reserve P lent by stuck-P
    /// rescue when its stuck poll returned, and on a P a resize shrank the runtime below
    /// (its M re-checks `procs` under the idle lock: `Sched::retire_running_p`).
    pub(crate) retire: AtomicBool,
    /// This P's timers (Go's `p.timers`).
    pub(crate) timers: Timers,
    /// Scheduling latency sampled on this P (owner-written, see `latency`).
    pub(crate) latency: LatencyHist,
    /// Set by sysmon when the running task has used up its time slice (Go's `preempt`).
    preempt: AtomicBool,
    /// The owned half while no M holds the P, and whether it is to be folded when put back.
    local: Mutex<LocalSlot>,
}

/// Where a P's owned half waits while no M holds it.
struct LocalSlot {
    local: Option<Box<PLocal>>,
    /// Shutdown asked for the P's reference count to be folded (`sched_ref`): done now if the
    /// owned half is here, else by the M that puts it back.
    fold: bool,
}

/// The owned half of a P (see the module docs): only the M holding the P has it.
///
/// Aligned (so also sized) to a cache-line pair: its M writes it on every spawn and every
/// free (the free lists' lengths, the id cache), and as a plain heap block it shared its
/// first and last lines with whatever the allocator put beside it — another P's owned half,
/// a ring — which other Ms write. Measured on 2 workers (A B B A, against the unaligned box):
/// ping_pong 0.80 and 0.97 (6 of 8 quadruples faster), chained_spawn 0.97 (3 of 4).
#[repr(align(128))]
pub(crate) struct PLocal {
    /// The P's index in `allp`.
    pub(crate) id: usize,
    /// The ring's producer end.
    pub(crate) runq: RunqOwner,
    /// Free task memory, by size class (Go's `p.gFree`).
    pub(crate) gfree: LocalFree,
    id_next: u64,
    id_end: u64,
    /// References to the runtime counted on this P (`sched_ref`): task cells and timers taken
    /// or dropped by the thread holding it. May be negative.
    pub(crate) refs: isize,
    /// Folded into the remote count: no more counting here.
    pub(crate) refs_folded: bool,
    /// `globrunqget`'s batch on its way from the global queue to the ring: filled by
    /// `GlobalQueue::pop_batch`, filed in the ring once the queue's lock is released. Empty
    /// between calls; keeps its capacity.
    pub(crate) global_batch: Vec<Notified>,
}

impl PLocal {
    /// Next task id from this P's cache (Go's `goidcache`), refilled from `global`.
    #[inline]
    pub(crate) fn next_task_id(&mut self, global: &AtomicU64) -> u64 {
        if self.id_next < self.id_end {
            self.id_next += 1;
            return self.id_next - 1;
        }
        let start = global.fetch_add(ID_CACHE_BATCH, Relaxed);
        self.id_next = start + 1;
        self.id_end = start + ID_CACHE_BATCH;
        start
    }
}

impl P {
    pub(crate) fn new(id: usize) -> P {
        let (runq, owner) = RunQueue::new();
        P {
            id,
            runq,
            status: PStatusCell::new(PStatus::Idle),
            schedtick: OwnerCounter::default(),
            polls: OwnerCounter::default(),
            syscalltick: OwnerCounter::default(),
            steals: OwnerCounter::default(),
            stolen_tasks: OwnerCounter::default(),
            overflows: OwnerCounter::default(),
            fairness_picks: OwnerCounter::default(),
            handoffs: AtomicU64::new(0),
            last_handoff: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            m: AtomicUsize::new(usize::MAX),
            curg_id: AtomicU64::new(0),
            first_poll: FirstPoll::new(),
            retire: AtomicBool::new(false),
            timers: Timers::new(),
            latency: LatencyHist::new(),
            preempt: AtomicBool::new(false),
            local: Mutex::new(LocalSlot {
                local: Some(Box::new(PLocal {
                    id,
                    runq: owner,
                    gfree: LocalFree::new(),
                    id_next: 0,
                    id_end: 0,
                    refs: 0,
                    refs_folded: false,
                    global_batch: Vec::new(),
                })),
                fold: false,
            }),
        }
    }

    /// Take the owned half out of the slot (Go's `acquirep`, the move). Panics if it is not
    /// there: another M owns this P, which the scheduler's protocol rules out.
    pub(crate) fn take_local(&self) -> Box<PLocal> {
        lock(&self.local).local.take().unwrap_or_else(|| {
            panic!(
                "gmp: internal error: acquirep of P{} whose owned half is held by another M",
                self.id
            )
        })
    }

    /// Put the owned half back in the slot (Go's `releasep`, the move): from now on whoever
    /// the status or the idle list lets take the P may take it.
    ///
    /// After shutdown asked for it, the P's reference count is folded first (`sched_ref`).
    pub(crate) fn put_local(&self, sched: &Sched, mut local: Box<PLocal>) {
        debug_assert_eq!(local.id, self.id, "releasep: another P's owned half");
        let mut slot = lock(&self.local);
        if slot.fold {
            sched_ref::fold(sched, &mut local);
        }
        let old = slot.local.replace(local);
        debug_assert!(old.is_none(), "releasep: P{} had two owned halves", self.id);
    }

    /// Fold this P's reference count now if its owned half is in the slot, else when it is
    /// put back (shutdown, once the Ms are stopped: see `sched_ref`).
    pub(crate) fn fold_refs(&self, sched: &Sched) {
        let mut slot = lock(&self.local);
        slot.fold = true;
        if let Some(local) = slot.local.as_mut() {
            sched_ref::fold(sched, local);
        }
    }

    pub(crate) fn preempt_requested(&self) -> bool {
        self.preempt.load(Relaxed)
    }

    /// sysmon: the running task has used up its slice.
    pub(crate) fn request_preempt(&self) {
        self.preempt.store(true, Relaxed);
        self.preemptions.fetch_add(1, Relaxed);
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

    /// Record the task about to be polled (for sysmon's reports and scheddetail); owner only.
    #[inline]
    pub(crate) fn set_curg(&self, _owner: &mut PLocal, id: u64) {
        self.curg_id.store(id, Relaxed);
    }

    /// The poll recorded by `set_curg` returned. Called by the M that polled, after the poll,
    /// only if it still holds the P (a blocking section in the poll may have lost it); takes no
    /// `&mut PLocal` because the owned half is in the thread context then, and a borrow per
    /// poll would cost more than this store is worth checking.
    #[inline]
    pub(crate) fn clear_curg(&self) {
        self.curg_id.store(0, Relaxed);
    }
}
