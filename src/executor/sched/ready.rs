//! Making Gs runnable: spawn (Go's `newproc`), `ready`, `injectglist`, and the moves between a
//! P's ring and the global queue (`runqput`, `runqputslow`'s batch, `globrunqget`).
//!
//! Who may call what: `runqput` and `globrunqget` take the caller's P's owned half
//! (`&mut PLocal`), so only the M holding the P (or the task it polls, through the thread
//! context) puts to its ring; `inject` may be called from anywhere. Every push that leaves work
//! for other Ms ends in `wakep` (see `WAKEUPS.md`).

use super::Sched;
use crate::executor::context;
use crate::executor::p::{PLocal, PStatus};
use crate::executor::runq::{Put, RUNQ_SIZE};
use crate::executor::sched_ref::SchedRef;
use crate::executor::schedule_impl::Notified;
use crate::executor::task::{self, JoinHandle};
use crate::executor::trace;
use crate::loom::sync::atomic::Ordering::*;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

impl Sched {
    /// Go's `newproc`: a G spawned on an M goes to its P's runnext; elsewhere to the global queue.
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (notified, join) = task::new_task(future, SchedRef::borrowed(self), at);
        trace::spawn(self, join.id(), at);
        if let Some(notified) = notified {
            match context::with_local(self, notified, |l, t| self.runqput(l, t, true)) {
                Ok(()) => {}
                Err(notified) => {
                    self.inject(notified);
                    // The task is in no list until its first poll, so a spawn that raced
                    // shutdown's queue drain must clean up behind itself. `inject` fenced
                    // (SeqCst) after the push, and shutdown fences between setting the flag
                    // and draining: either the drain sees our task or we see the flag. (An M
                    // spawning locally cancels its P's queue on its way out, `M::exit`.)
                    if self.shutdown.load(SeqCst) {
                        self.cancel_global_queue();
                    }
                }
            }
        }
        join
    }

    /// Go's `ready`: make a woken task runnable. On one of our Ms it goes to that M's P —
    /// runnext for a wake (it inherits the time slice) — or, while that M readies a batch
    /// (netpoll, timers), into the batch for `injectglist`; elsewhere to the global queue.
    ///
    /// A yield (`is_yield`: woken during its own poll) goes to the back of the local ring. If
    /// the global queue has work waiting, a fair share of it is moved into the ring first, so it
    /// runs before the yielder comes round again — the effect of Go's `Gosched` (which puts the
    /// yielder on the global queue) without a contended global push per yield. Without this, a
    /// P whose ring holds only yielding tasks would take global work only at its 1-in-61 check,
    /// one task at a time.
    pub(crate) fn ready(self: &Arc<Self>, task: Notified, is_yield: bool) {
        let put = context::ready_local(self, task, |l, task| {
            trace::wake(self, Some(l.id), &task, is_yield);
            if is_yield && !self.global.is_empty() {
                if let Some(t) = self.globrunqget(l, 0) {
                    self.runqput(l, t, false);
                }
            }
            self.runqput(l, task, !is_yield)
        });
        if let Err(task) = put {
            trace::wake(self, None, &task, is_yield);
            self.inject(task);
        }
    }

    /// Go's `injectglist`: make a batch of readied tasks (netpoll events, due timers)
    /// runnable, in order. Without a P they all go to the global queue. With P `p` (the
    /// caller's), as many as Ms could be started for (idle Ps, within the CPU limit:
    /// `IdleState::startable`) go to the global queue, the rest to `p`'s ring;
    /// either way at most one `wakep` for the whole batch (a spinning M that finds work wakes
    /// the next), never one per task.
    pub(crate) fn injectglist(
        self: &Arc<Self>,
        mut rest: impl ExactSizeIterator<Item = Notified>,
        p: Option<&mut PLocal>,
    ) {
        if rest.len() == 0 {
            return;
        }
        let nglobal = match p {
            None => rest.len(),
            Some(_) => self.idle.startable(self.procs()).min(rest.len()),
        };
        if nglobal > 0 {
            self.global.push_batch(&mut rest.by_ref().take(nglobal));
        }
        let local = p.is_some();
        if let Some(l) = p {
            let runq = &self.allp[l.id].runq;
            for t in rest {
                runq.runqput(&mut l.runq, t, false, |batch| self.overflow(batch));
            }
        }
        if nglobal > 0 {
            self.wakep_after_push();
            if !local {
                self.kick_sysmon_if_stranded();
            }
        }
    }

    /// `runqput` on the caller's own P, overflowing to the global queue.
    pub(crate) fn runqput(self: &Arc<Self>, local: &mut PLocal, task: Notified, next: bool) {
        let pp = &self.allp[local.id];
        let put = pp
            .runq
            .runqput(&mut local.runq, task, next, |batch| self.overflow(batch));
        match put {
            Put::Runnext => {}
            Put::Ring => self.wakep(),
            Put::Overflow => {
                pp.overflows.bump(local);
                self.wakep_after_push();
            }
        }
    }

    /// `runqputslow`'s batch: half a ring plus one, to the global queue.
    pub(super) fn overflow(&self, batch: &mut dyn Iterator<Item = Notified>) {
        self.global.push_batch(batch);
    }

    /// Push to the global queue from anywhere (Go's `globrunqput` + `wakep`).
    pub(crate) fn inject(self: &Arc<Self>, task: Notified) {
        self.global.push(task);
        self.wakep_after_push();
        self.kick_sysmon_if_stranded();
    }

    /// Work just went to the global queue. If no P is idle and some P's M sits in a blocking
    /// section, or a poll is known stuck (a reserve P is lent), the work may wait for sysmon
    /// to retake that P or lend one — so make sure sysmon looks now, not after its idle
    /// back-off (up to 10ms, 1ms while lent): a timer that fires while both Ps of a 2-P
    /// runtime are in `spawn_blocking` calls would otherwise run up to 10ms late. A few
    /// relaxed loads, and only when no M can be started (every P is taken, or the taken ones
    /// fill the CPUs: `IdleState::room`).
    pub(super) fn kick_sysmon_if_stranded(&self) {
        if !self.room()
            && (self.rescues_active() > 0
                || self.allp[..self.procs()]
                    .iter()
                    .any(|p| p.status() == PStatus::Syscall))
        {
            self.sysmon.kick();
        }
    }

    /// Go's `globrunqget`: take a fair share of the global queue (at most `max` when non-zero,
    /// never more than half a ring) into the caller's P's ring, returning one to run now.
    ///
    /// Tasks moved into the ring are published like a global push (WAKEUPS.md step 2, "A
    /// batch from the global queue"): a spinner may have looked at the global queue after we
    /// popped them and at our ring before they landed, then parked; with a P idle, wake one
    /// (`wakep_after_ring_push`). Go has this window too and closes it only at the next
    /// preemption, which gmp cannot force on a task that never yields.
    pub(crate) fn globrunqget(
        self: &Arc<Self>,
        local: &mut PLocal,
        max: usize,
    ) -> Option<Notified> {
        let len = self.global.len();
        if len == 0 {
            return None;
        }
        // A fair share among the Ms that can take it: one per P (Go), but no more Ms than
        // CPUs run at once (`IdleState::room`), so never fewer than len / cpus.
        let takers = self.procs().min(self.cpus());
        let mut n = (len / takers + 1).min(len).min(RUNQ_SIZE / 2);
        if max > 0 {
            n = n.min(max);
        }
        let mut batch = std::mem::take(&mut local.global_batch);
        let first = self.global.pop_batch(n, &mut batch);
        let moved = !batch.is_empty();
        let runq = &self.allp[local.id].runq;
        for t in batch.drain(..) {
            runq.runqput(&mut local.runq, t, false, |b| self.overflow(b));
        }
        local.global_batch = batch;
        let first = first?;
        if moved {
            self.wakep_after_ring_push();
        }
        Some(first)
    }

    pub(crate) fn record_steal(&self, local: &mut PLocal, n: u32) {
        let pp = &self.allp[local.id];
        pp.steals.bump(local);
        pp.stolen_tasks.add(local, n as u64);
    }
}
