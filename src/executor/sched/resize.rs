//! Changing the number of Ps live: Go's `procresize`, behind `runtime.GOMAXPROCS(n)`.
//! [`Handle::set_procs`](crate::runtime::Handle::set_procs) and sysmon following the cgroup
//! CPU limit (`crate::sysmon::procs`) both call [`Sched::procresize`].
//!
//! `allp` is allocated once: `max_procs` real Ps, then the reserve of stuck-P rescue. `procs`
//! (an atomic) says how many real Ps are in use; `allp[procs..max_procs]` are `Dead`, or on
//! their way there. Go stops the world to resize; gmp does not — each P stops at its owner's
//! next scheduling point, and the protocol below keeps every task and timer.
//!
//! - **The idle lock decides.** `procs` changes only under the idle lock (Go's `sched.lock`),
//!   and the one place where a P stops being an M's without being handed to another —
//!   `pidleput` — reads it under the same lock: a P at or above `procs` dies there (`Dead`,
//!   kept off the idle list) instead of going idle. So no P idles above `procs`, and none
//!   stays dead below it.
//! - **Grow** to `n`: under the lock, each dead P of `old..n` goes `Dead -> Idle` onto the idle
//!   list (`pidleput`); one not dead yet (a shrink had marked it and its M has not reached a
//!   scheduling point) just has its `retire` mark cleared and stays with its M. Then `wakep`
//!   brings a spinning M to the new Ps, and the spinners chain as they find work.
//! - **Shrink** to `n`: under the lock, each P of `n..old` on the idle list leaves it and dies;
//!   one in a blocking section is retaken (CAS `Syscall -> Idle`, as sysmon's retake does)
//!   and handed off after the lock: `handoffp` sends a P above `procs` to `pidleput`, which
//!   kills it. Every other one — running, or between Ms (handed over by `startm`, retaken by
//!   sysmon) — gets `retire`: its M sees the mark at the top of `find_runnable` (the load it
//!   makes anyway for the rescue reserve: the hot path pays nothing) and gives the P back
//!   (`M::retire_p`), which re-reads `procs` under the lock (a grow may have come first).
//! - **A dead P's work.** Whoever kills a P, once the lock is dropped, moves its ring and
//!   runnext to the global queue with `inject` ([`Sched::drain_dead`]: each push is followed by
//!   `wakep`, WAKEUPS.md step 1). Only a P's owner pushes to its ring, and a dead P has none
//!   until a grow revives it, so the ring stays empty. Its timers stay in its heap: every path
//!   that fires the timers of Ps nobody runs — the poller's deadline and `run_all_timers`,
//!   sysmon's `timers_due`/`timers_overdue`, a spinning M's last steal round — walks all of
//!   `allp`, so a dead P's timers fire as an idle P's do (when every live P is busy, by
//!   sysmon, up to ~1ms late); new timers only go to Ps below `procs`. Its free task memory
//!   stays in its owned half for when it comes back.
//! - **What reads `procs` racily** (`globrunqget`'s share, the spinning cap, timer placement,
//!   the spare-M check, metrics, the SCHED line) only needs a recent value; per-P arrays
//!   (`OwnedTasks` counters, sysmon's watch, each M's `seen`, the metrics) are sized by
//!   `allp`, which never changes, and thieves walk all of it (a dead P's ring is empty).
//!
//! Why no wakeup is lost across a resize: WAKEUPS.md step 9.

use super::Sched;
use crate::executor::p::{PLocal, PStatus};
use crate::loom::sync::atomic::Ordering::*;
use std::io;
use std::sync::Arc;

impl Sched {
    /// `Handle::set_procs`: check `n`, switch the cgroup-following off (an explicit value
    /// wins, as in Go), resize.
    pub(crate) fn set_procs(self: &Arc<Self>, n: usize) -> io::Result<()> {
        let max = self.max_procs();
        if n == 0 || n > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "gmp: set_procs({n}) is invalid: it must be between 1 and max_procs ({max})"
                ),
            ));
        }
        self.auto_procs.store(false, Relaxed);
        self.procresize(n);
        Ok(())
    }

    /// Go's `procresize`: use `n` Ps from now on (`1 <= n <= max_procs`, checked by the
    /// callers). Returns at once; Ps above `n` stop at their owner's next scheduling point
    /// (see the module docs). After shutdown it does nothing.
    pub(crate) fn procresize(self: &Arc<Self>, n: usize) {
        debug_assert!(n >= 1 && n <= self.max_procs());
        if self.shutdown.load(SeqCst) {
            return;
        }
        let mut dead = Vec::new();
        let mut retaken = Vec::new();
        let grew;
        {
            let mut idle = self.idle.lock();
            let old = self.procs.load(Relaxed);
            if n == old {
                return;
            }
            grew = n > old;
            self.procs.store(n, SeqCst);
            self.resizes.fetch_add(1, Relaxed);
            if grew {
                for p in old..n {
                    let pp = &self.allp[p];
                    pp.retire.store(false, SeqCst);
                    if pp.status() == PStatus::Dead {
                        pp.set_status(PStatus::Idle);
                        self.idle.pidleput(&mut idle, p);
                    }
                }
            } else {
                for p in n..old {
                    let pp = &self.allp[p];
                    if self.idle.pidle_remove(&mut idle, p) {
                        pp.set_status(PStatus::Dead);
                        dead.push(p);
                        continue;
                    }
                    match pp.status() {
                        PStatus::Dead => {}
                        PStatus::Syscall if pp.status.cas(PStatus::Syscall, PStatus::Idle) => {
                            retaken.push(p);
                        }
                        _ => pp.retire.store(true, SeqCst),
                    }
                }
            }
        }
        for p in dead {
            self.drain_dead(p);
        }
        for p in retaken {
            // As sysmon's retake: the M's `exitsyscall` fails its CAS and goes on without it.
            self.handoff_from_syscall(p);
        }
        if grew {
            self.wakep();
        }
        // sysmon's idle test (`npidle == procs`) changed under it.
        self.sysmon.wake();
    }

    /// P `p` just died (`pidleput`, a shrink, `M::retire_p`): move what its ring holds
    /// (runnext included) to the global queue, waking Ms for it. Called without the idle lock.
    pub(crate) fn drain_dead(self: &Arc<Self>, p: usize) {
        for t in self.allp[p].runq.drain() {
            self.inject(t);
        }
    }

    /// `M::retire_p` for a real P: the M holding it saw its `retire` mark and released it
    /// (`local` is its owned half). Under the idle lock, kill the P if it is still at or above
    /// `procs` (`None`: the owned half is in its slot, the P `Dead`; the caller then drains
    /// it); if a grow revived it meanwhile, the owned half comes back to go on running it.
    pub(crate) fn retire_running_p(&self, local: Box<PLocal>) -> Option<Box<PLocal>> {
        let _idle = self.idle.lock();
        let pp = &self.allp[local.id];
        pp.retire.store(false, SeqCst);
        if local.id < self.procs.load(Relaxed) {
            return Some(local);
        }
        pp.put_local(self, local);
        pp.set_status(PStatus::Dead);
        None
    }
}
