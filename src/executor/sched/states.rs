//! Tasks by state (Go 1.26's `/sched/goroutines/*`), counted on read from what the scheduler
//! already keeps: no per-task walk and no counter on the poll or wake path.
//!
//! A live task (spawned, not complete) is in exactly one of four states, the same four a
//! [`TaskDump`](crate::TaskDump) reports (`TaskState`):
//! - **runnable**: queued — every P's ring and runnext, and the global queue. Each queue entry
//!   is one task (invariant 1 of `executor`), so this counts tasks not polled yet, which the
//!   dump counts as `unpolled`, too;
//! - **running**: being polled by an M that holds its P — a P whose status is `Running` and
//!   whose `curg` names a task;
//! - **blocking**: being polled inside a blocking section (`spawn_blocking`, `block_in_place`,
//!   `gmp::fs`, Go's `_Gsyscall`) — a P whose status is `Syscall` and whose `curg` names a
//!   task — or by an M whose P was handed off during a blocking section: the section may still
//!   run, or the poll goes on without a P until it returns ([`Sched::polls_without_p`]);
//! - **waiting**: the rest — returned `Pending` and not woken since. A `spawn_blocking` task
//!   waiting for a blocking slot (`blocking_waiting`) is waiting too: it holds no M.
//!
//! The counts are racy reads taken one after the other, so a task that moves while they are
//! read may be missed or counted twice; *waiting* is derived (live minus the rest, floored at
//! zero) and absorbs the difference. With nothing moving they are exact and match the dump.
//! Code run by `block_on` on a thread of its own, and `block_in_place` there, is no task.

use super::Sched;
use crate::executor::p::PStatus;
use crate::loom::sync::atomic::Ordering::Relaxed;

/// Live tasks by state (see the module docs).
pub(crate) struct TaskStates {
    pub(crate) runnable: usize,
    pub(crate) running: usize,
    pub(crate) blocking: usize,
    pub(crate) waiting: usize,
}

impl Sched {
    /// Split `live` tasks into the four states.
    pub(crate) fn task_states(&self, live: usize) -> TaskStates {
        let mut runnable = self.global.len();
        // Negative for a moment when a poll's return is counted before its handoff: none.
        let without_p = self.polls_without_p.load(Relaxed).max(0) as usize;
        let (mut running, mut blocking) = (0, without_p);
        for p in self.allp.iter() {
            runnable += p.runq.len() + usize::from(p.runq.has_runnext());
            if p.curg_id.load(Relaxed) != 0 {
                match p.status() {
                    PStatus::Running => running += 1,
                    PStatus::Syscall => blocking += 1,
                    // A P handed off in a section has its `curg` cleared (`lost_p`).
                    PStatus::Idle | PStatus::Dead => {}
                }
            }
        }
        let waiting = live.saturating_sub(runnable + running + blocking);
        TaskStates {
            runnable,
            running,
            blocking,
            waiting,
        }
    }

    /// P `p` was taken from an M in a blocking section: the task it polls no longer runs on
    /// `p` (its `curg` is cleared, before the P can go to another M) and counts as blocking
    /// until its poll returns ([`Sched::lost_p_poll_returned`]).
    pub(super) fn lost_p(&self, p: usize) {
        self.allp[p].curg_id.store(0, Relaxed);
        // The M whose poll lost the P counts it back down when the poll returns, which can be
        // as soon as it sees the P gone: the status CAS came before this call, so the
        // decrement may come first, and the count goes negative until this increment.
        self.polls_without_p.fetch_add(1, Relaxed);
        // A first poll's record moves to the lost list before the P can reach another M
        // (`task::first_poll`): the poll may go on for long, and dumps must still list it.
        let mut lost = crate::loom::lock(&self.lost_first_polls);
        if let Some(t) = self.allp[p].first_poll.take() {
            lost.push(t);
        }
        drop(lost);
    }

    /// `execute`: a poll whose blocking section lost its P has returned. (No check that the
    /// handoff counted it already: it may not have yet, see `lost_p`.)
    pub(crate) fn lost_p_poll_returned(&self) {
        self.polls_without_p.fetch_sub(1, Relaxed);
    }
}
