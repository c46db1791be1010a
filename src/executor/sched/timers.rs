//! Timer routing: which P's heap a timer joins, Go's `wakeNetPoller` when it is earlier than
//! the blocked poll's deadline, the earliest timer of all Ps (`timeSleepUntil`), and virtual
//! time's auto-advance. The heaps themselves are `crate::reactor::timers`.

use super::Sched;
use crate::executor::context;
use crate::executor::idle::Queues;
use crate::loom::sync::atomic::Ordering::*;
use crate::reactor::clock::Clock;
use crate::reactor::timers::TimerEntry;
use std::sync::Arc;
use std::task::Waker;

impl Sched {
    /// Add a timer at `when` (ns since the reactor's epoch) that wakes `waker`: on the caller's
    /// P when it is one of our Ms, else on a P chosen round-robin. Makes sure someone will look
    /// at it in time: the blocked poll is broken if it would sleep past it (Go's
    /// `wakeNetPoller`), and if nobody is blocked in the poll, an M is woken.
    pub(crate) fn add_timer(
        self: &Arc<Self>,
        when: u64,
        waker: Waker,
    ) -> crate::loom::sync::Arc<TimerEntry> {
        // Reserve Ps come and go: their tasks' timers live on the real Ps.
        let here = context::current_p(self).filter(|&p| p < self.procs());
        let p = here.unwrap_or_else(|| self.next_timer_p.fetch_add(1, Relaxed) % self.procs());
        let entry = self.allp[p].timers.add(p, when, waker);
        if !self.reactor.wake_for_timer(when) && here.is_none() {
            self.wakep();
        }
        entry
    }

    pub(crate) fn cancel_timer(&self, entry: &TimerEntry) {
        self.allp[entry.p()].timers.cancel(entry);
    }

    /// Earliest timer of all Ps (Go's `timeSleepUntil`), `u64::MAX` for none.
    pub(crate) fn next_timer_when(&self) -> u64 {
        self.allp
            .iter()
            .map(|p| p.timers.when())
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The blocked poll's deadline (ns since the epoch on the timer clock, `u64::MAX` for
    /// none): the earliest timer; with time paused, the result of [`Sched::auto_advance`].
    pub(crate) fn poll_deadline(&self) -> u64 {
        if self.reactor.clock.is_paused() {
            return self.auto_advance();
        }
        self.next_timer_when()
    }

    /// Virtual time's auto-advance, run by the M about to block in the poll (holding the poll,
    /// so nobody dispatches readiness meanwhile, and already counted idle): if nothing can run
    /// — no participant active, nothing queued, no blocking section, every P idle, no task
    /// waiting on a reactor source — and that held for the whole check (`gen` unchanged), move
    /// the paused clock to the earliest timer and return it (the poll then returns at once and
    /// its M fires the timers). Otherwise `u64::MAX`: sleep until woken (new work, I/O, or
    /// the last participant going idle: [`Sched::kick_auto_advance`]).
    pub(super) fn auto_advance(&self) -> u64 {
        let clock = &self.reactor.clock;
        let seen = clock.participants();
        let quiet = Clock::active(seen) == 0
            && self.global.is_empty()
            && !self.rings_nonempty()
            && self.blocking.in_flight() == 0
            && self.npidle() == self.procs()
            && self.rescues_active() == 0
            && clock.io_waiters() == 0;
        if !quiet || clock.participants() != seen {
            return u64::MAX;
        }
        let next = self.next_timer_when();
        if next == u64::MAX || !clock.advance_to(next) {
            return u64::MAX;
        }
        next
    }

    /// The last participant went idle with time paused: make sure the poller looks (it may
    /// auto-advance) — break its poll, or, if nobody is in it, start an M that will be.
    pub(crate) fn kick_auto_advance(self: &Arc<Self>) {
        if self.reactor.is_blocked() {
            self.reactor.netpoll_break();
        } else {
            self.wakep();
        }
    }

    /// Fire the due timers of every P (Go's `checkTimersNoP`, for an M without a P).
    pub(crate) fn run_all_timers(&self) {
        let now = self.reactor.timer_now();
        for p in self.allp.iter() {
            if p.timers.when() <= now {
                p.timers.run(now);
            }
        }
    }
}
