//! Moving Ps between Ms (Go's `releasep`/`pidleput`, `pidleget`, `wakep`, `startm`,
//! `handoffp`), around the spinning handshake of [`super::super::idle::IdleState`].
//!
//! Invariants (the "no lost wakeup" contract):
//! - A task pushed to the **global queue** is followed by a SeqCst fence and `wakep()`. An M that
//!   gives up its P first publishes the P as idle (`npidle += 1`, SeqCst), then fences and looks
//!   at the global queue again. So either the pusher sees an idle P and starts an M, or the
//!   releasing M sees the task.
//! - `wakep()` starts a spinning M only when none spins (`nmspinning == 0`). A spinning M that
//!   gives up decrements `nmspinning` *then* re-checks the global queue and every P's ring, so
//!   the last spinner to leave never strands work that a pusher left to "the spinners".
//! - A task pushed to a P's own ring is always run by that P's M eventually; `wakep()` there
//!   only adds parallelism. A push into an empty `runnext` wakes nobody (the M runs it next).
//! - At most `max_threads` Ms exist; past that `startm` returns the P to the idle list and the
//!   work waits in queues. A failed thread spawn is survived the same way.

use super::Sched;
use crate::executor::idle::{Idle, PollClaim, ReleaseStep};
use crate::executor::m::MShared;
use crate::executor::p::{PLocal, PStatus};
use crate::loom::lock;
use crate::loom::sync::atomic::Ordering::*;
use std::sync::Arc;

/// Outcome of [`Sched::give_up_p`].
pub(crate) enum Release {
    /// The global queue has work: keep the P (here it is back) and take from it.
    Global(Box<PLocal>),
    /// Keep the P and start spinning: a `wakep` found no idle P.
    Spin(Box<PLocal>),
    /// The P is on the idle list now, its owned half in its slot.
    Released,
}

impl Sched {
    /// Publish P `p` as idle (its status, then the idle list); a reserve P goes back to the
    /// reserve instead, and a P at or above `procs` (a resize shrank the runtime below it)
    /// dies (Go's `procresize` destroying it): it is marked `Dead` and left off the list.
    /// Under the idle lock, so the `procs` read here is the one every resize agrees with.
    ///
    /// Returns true if the P died: the caller, once the lock is dropped, hands whatever its
    /// ring holds on with [`Sched::drain_dead`].
    #[must_use = "a P that died must have its ring drained (drain_dead)"]
    pub(super) fn pidleput(&self, idle: &mut Idle<Arc<MShared>>, p: usize) -> bool {
        let pp = &self.allp[p];
        if p >= self.max_procs() {
            // A reserve P that could not be started: back to the reserve.
            self.return_reserve(p);
            return false;
        }
        if p >= self.procs() {
            pp.retire.store(false, SeqCst);
            pp.set_status(PStatus::Dead);
            return true;
        }
        pp.set_status(PStatus::Idle);
        self.idle.pidleput(idle, p);
        false
    }

    /// Give up the P whose owned half is `local` (Go's `releasep` + `pidleput` under
    /// `sched.lock`), unless the global queue has work or an M is wanted spinning (Go's
    /// `needspinning`): then the P is handed back. Released, the owned half is in the P's slot
    /// before the P is on the idle list.
    pub(crate) fn give_up_p(self: &Arc<Self>, local: Box<PLocal>, spinning: bool) -> Release {
        let p = local.id;
        let mut local = Some(local);
        let mut died = false;
        let step = self.idle.give_up_p(spinning, &**self, |_, idle| {
            self.allp[p].put_local(self, local.take().expect("released once"));
            died = self.pidleput(idle, p);
        });
        if died {
            self.drain_dead(p);
        }
        match (step, local) {
            (ReleaseStep::Global, Some(l)) => Release::Global(l),
            (ReleaseStep::Spin, Some(l)) => Release::Spin(l),
            _ => Release::Released,
        }
    }

    /// The delicate dance after `give_up_p` released the P (see [`IdleState::recheck`]): an
    /// idle P taken back for work that appeared meanwhile, if any.
    pub(crate) fn recheck(&self, was_spinning: bool) -> Option<usize> {
        self.idle.recheck(was_spinning, self)
    }

    pub(crate) fn pidleget_locked(&self) -> Option<usize> {
        self.idle.pidleget_locked(self)
    }

    /// The poller's `pidleget`, which also ends a `startm`'s claim on it: the P, and whether
    /// to spin ([`IdleState::pidleget_after_poll`]).
    pub(crate) fn pidleget_after_poll(&self) -> (Option<usize>, bool) {
        self.idle.pidleget_after_poll(self)
    }

    /// The poller leaves on shutdown: a reserve P handed to it in a claim goes back to the
    /// reserve.
    pub(crate) fn drop_poll_claim(&self) {
        if let Some(p) = self.idle.drop_poll_claim() {
            self.return_reserve(p);
        }
    }

    /// Go's `handoffp`: P `p` was taken from an M in a blocking section. Start an M on it if it
    /// has work (or nobody else is looking for work), else put it on the idle list.
    ///
    /// A P at or above `procs` (a resize is shrinking the runtime) is not handed to an M: it
    /// goes straight to `pidleput`, which retires it, and its ring to the global queue.
    pub(crate) fn handoffp(self: &Arc<Self>, p: usize) {
        let pp = &self.allp[p];
        let dying = p >= self.procs() && p < self.max_procs();
        if !dying {
            if !pp.runq.is_empty() || !self.global.is_empty() || pp.timers.when() != u64::MAX {
                self.startm(p, false);
                return;
            }
            if self.idle.claim_spinning_if_nobody_looks() {
                self.startm(p, true);
                return;
            }
        }
        let mut idle = self.idle.lock();
        let died = self.pidleput(&mut idle, p);
        drop(idle);
        if died {
            self.drain_dead(p);
            return;
        }
        if dying && !pp.runq.is_empty() {
            // A grow revived it meanwhile and it is on the idle list with work in its ring:
            // `wakep` hands out such a P first.
            self.wakep();
        }
        // Go checks the global queue under `sched.lock`, which its global push also takes.
        // gmp's global queue is lock-free: look again after publishing the P idle, so that a
        // push whose `wakep` missed this P (it was not idle yet) is seen here (WAKEUPS.md
        // step 1). Likewise a `wakep` that wanted a spinner but found no idle P: typically
        // a spinner that just found work it took in a batch, whose rest sits in its ring
        // while its own task never yields (step 6). The handoff path is rare; the fences
        // cost nothing that matters.
        if self.idle.needspinning_after_pidleput() || !self.global.is_empty() {
            self.wakep();
        }
    }

    /// P `p` was just taken from an M in a blocking section (CAS `Syscall -> Idle`, by sysmon
    /// or eagerly): count it and hand the P on.
    pub(crate) fn handoff_from_syscall(self: &Arc<Self>, p: usize) {
        self.allp[p].handoffs.fetch_add(1, Relaxed);
        self.long_syscalls.fetch_add(1, Relaxed);
        crate::executor::trace::sysmon(self, crate::executor::trace::Kind::Handoff, p, 0);
        self.lost_p(p);
        self.handoffp(p);
    }

    pub(crate) fn become_spinning(&self) {
        self.idle.become_spinning();
    }

    /// A spinning M stops spinning; returns after the SeqCst decrement and fence.
    pub(crate) fn stop_spinning(&self) {
        self.idle.stop_spinning();
    }

    /// The CPU count that limits `wakep` ([`IdleState::room`]).
    pub(crate) fn cpus(&self) -> usize {
        self.idle.cpus()
    }

    /// The CPU count that limits `wakep` changed (sysmon re-reads the affinity mask). No-op
    /// with `Builder::wake_within_cpus(false)`.
    pub(crate) fn set_cpus(&self, cpus: usize) {
        if self.config.wake_within_cpus {
            self.idle.set_cpus(cpus);
        }
    }

    /// Whether `wakep` may start an M: a P is idle and the held Ps leave a CPU free
    /// ([`IdleState::room`]).
    pub(crate) fn room(&self) -> bool {
        self.idle.room(self.procs())
    }

    /// Go's spinning cap: don't start spinning when half the busy Ps' worth of Ms already spin.
    pub(crate) fn may_spin(&self) -> bool {
        self.idle.may_spin(self.procs())
    }

    /// Go's `wakep`: if there is an idle P and no spinning M, start one spinning M on it.
    pub(crate) fn wakep(self: &Arc<Self>) {
        if let Some(p) = self.idle.wakep(&**self) {
            self.startm(p, true);
        }
    }

    /// `wakep` after a push to the global queue: fenced, so either this sees the idle P of an
    /// M that is giving up, or that M's re-check sees the push ([`IdleState::recheck`]).
    pub(super) fn wakep_after_push(self: &Arc<Self>) {
        if let Some(p) = self.idle.wakep_after_push(&**self) {
            self.startm(p, true);
        }
    }

    /// Tasks were just put in the caller's ring from where a spinner could not see them (in
    /// hand between the global queue and the ring): fence, then `wakep` if a P is idle
    /// ([`IdleState::wakep_after_ring_push`]).
    pub(super) fn wakep_after_ring_push(self: &Arc<Self>) {
        if let Some(p) = self.idle.wakep_after_ring_push(&**self) {
            self.startm(p, true);
        }
    }

    /// Go's `startm`: run P `p` on an idle M, or on a new one. A `spinning` start was already
    /// counted in `nmspinning` by the caller.
    pub(crate) fn startm(self: &Arc<Self>, p: usize, spinning: bool) {
        let mut idle = self.idle.lock();
        if let Some(m) = idle.midle.pop() {
            self.nmidle.fetch_sub(1, Relaxed);
            // Counted active by its waker, before it can take anything from a queue.
            self.reactor.clock.active_inc();
            drop(idle);
            let old = lock(&m.nextp).replace((p, spinning));
            invariant!(
                old.is_none(),
                "startm: M{} already has a P handed to it",
                m.id
            );
            m.parker.unpark();
            return;
        }
        // No idle M. The M blocked in the poll is one: break its poll and it takes the P (a
        // thread wakeup instead of a thread creation) — unless an earlier `startm` already
        // counts on it: it takes one P, and a second would sit idle while its work (say a
        // batch the poller took from the global queue into its ring) waits behind the
        // poller's task. Past `max_threads` the poller is the only hope.
        // A reserve P (lent by stuck-P rescue) is handed over in the claim itself: it cannot
        // wait on the idle list.
        let poller_free = self.reactor.is_blocked() && idle.poll_claim.is_none();
        if poller_free
            || self.nthreads.load(SeqCst) >= self.config.max_threads
            || self.shutdown.load(SeqCst)
        {
            let handed = poller_free && p >= self.max_procs();
            if poller_free {
                idle.poll_claim = Some(PollClaim {
                    spinning,
                    reserve: handed.then_some(p),
                });
            }
            let died = !handed && self.pidleput(&mut idle, p);
            drop(idle);
            if spinning {
                self.idle.unclaim_spinning();
            }
            if died {
                self.drain_dead(p);
            }
            self.reactor.netpoll_break();
            return;
        }
        self.nthreads.fetch_add(1, SeqCst);
        drop(idle);
        self.newm(Some(p), spinning);
    }
}
