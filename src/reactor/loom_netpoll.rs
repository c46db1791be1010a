//! The reactor under `--cfg loom`: a deterministic stand-in for netpoll with the API the
//! scheduler and sysmon call on the real [`Reactor`](super) (mio and the timerfd do not build
//! under loom, and real I/O and real time would make loom's replays diverge).
//!
//! What it models:
//! - **The poll is held by one M at a time** (a `try_lock`, as the real one): a second M's
//!   `poll_nonblocking` returns 0 and its `poll_blocking` returns `None`.
//! - **The blocked poll and `netpoll_break`**: the mio `Waker` (an eventfd) is a loom
//!   `Mutex<bool>` ("a wake is readable") and a `Condvar`. `poll_blocking` with no deadline
//!   (`u64::MAX`) sleeps on the condvar until a wake is readable; whichever poll (blocking or
//!   not) next runs consumes the wake and clears `break_pending`, as the real poll does when
//!   it sees `WAKER_TOKEN`. Breaks are coalesced by `break_pending` exactly as in the real
//!   reactor, so a lost break is a deadlock loom reports.
//! - **The publication protocol around the blocked poll**: `poll_until` (`DEADLINE_UNKNOWN`
//!   while the deadline is computed, then the deadline, then `NOT_BLOCKED`; with SeqCst
//!   fences standing in for its SeqCst accesses, see the field), the M counted
//!   idle (`clock.active_dec`) before the deadline is computed and active again
//!   (`clock.active_inc`) before anything is dispatched, `wake_for_timer`, `is_blocked`.
//! - **Time**, deterministically: [`crate::loom::time::Instant`], which stands still unless a
//!   model advances it. Loom has no timeouts, so a blocking poll given any deadline other than
//!   "never" returns at once, as if the deadline had passed (the caller then runs its timers
//!   and looks again); one with no deadline waits for a break only.
//! - Virtual time (`pause`, `resume`, the quiescence counts in [`Clock`]), as the real
//!   reactor does, minus the I/O waiters (there are no sources).
//!
//! What it does not model: I/O sources (no `register`/`deregister`; `has_sources` is always
//! false and a poll never dispatches an event), readiness (see `scheduled_io`'s own models),
//! spurious returns of `epoll_wait` (`EINTR`), a deadline that is still in the future when
//! the poll returns, or the timerfd's precision.

use super::clock::Clock;
use super::{saturating_ns, DEADLINE_UNKNOWN, FAR_NS, NOT_BLOCKED};
use crate::loom::lock;
use crate::loom::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering::*};
use crate::loom::sync::{Condvar, Mutex};
use crate::loom::time::Instant;
use std::io;
use std::time::Duration;

/// The stand-in for the mio `Waker`'s eventfd.
struct WakeFd {
    /// A wake was written and not yet read by a poll.
    readable: Mutex<bool>,
    cvar: Condvar,
}

/// Holds the poll until dropped (see [`Reactor::try_poll`]).
struct PollGuard<'a>(&'a AtomicBool);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Release);
    }
}

pub(crate) struct Reactor {
    /// The poll itself is held (the real reactor's `Mutex<PollState>`, taken with `try_lock`).
    /// A flag, not a loom `Mutex`: loom 0.7 marks a thread whose next operation is `try_lock`
    /// on a mutex as blocked while another thread holds it, so a poller blocked in the poll
    /// would make every other M's `try_lock` a (false) deadlock.
    polling: AtomicBool,
    waker: WakeFd,
    /// A `netpoll_break` is in flight (coalesces wakes of the poll).
    break_pending: AtomicBool,
    /// Deadline of the blocked poll, `u64::MAX` for none, `NOT_BLOCKED` when no M is in it.
    ///
    /// The real reactor relies on SeqCst *accesses* here: the poller's store of
    /// `DEADLINE_UNKNOWN` then its loads of the timers, against an adder's timer store then
    /// its load of `poll_until` (Dekker: one of the two loads sees the other's store). Loom
    /// models SeqCst accesses as AcqRel only (loom #180) and would report that store-buffering
    /// outcome as a lost wakeup; it does model `fence(SeqCst)`. So here a SeqCst fence follows
    /// the store of `DEADLINE_UNKNOWN` and precedes every load of `poll_until`: under loom the
    /// accesses get the order that SeqCst gives them on real hardware.
    poll_until: AtomicU64,
    /// When the poll last ran (ns since `epoch`).
    last_poll: AtomicU64,
    /// Readiness events dispatched (always 0 here), and polls made.
    pub(crate) events_total: AtomicU64,
    pub(crate) polls_total: AtomicU64,
    epoch: Instant,
    /// The timer clock (virtual while paused) and the quiescence counts.
    pub(crate) clock: Clock,
}

#[allow(dead_code)] // the API is the real reactor's; not every model calls every part of it
impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            polling: AtomicBool::new(false),
            waker: WakeFd {
                readable: Mutex::new(false),
                cvar: Condvar::new(),
            },
            break_pending: AtomicBool::new(false),
            poll_until: AtomicU64::new(NOT_BLOCKED),
            last_poll: AtomicU64::new(0),
            events_total: AtomicU64::new(0),
            polls_total: AtomicU64::new(0),
            epoch: Instant::now(),
            clock: Clock::default(),
        })
    }

    /// Nanoseconds since this runtime's epoch on the loom clock. Never 0 (reserved).
    pub(crate) fn now_ns(&self) -> u64 {
        self.instant_to_ns(Instant::now())
    }

    /// The clock timers use: the loom clock, unless time was paused on this runtime.
    #[inline]
    pub(crate) fn timer_now(&self) -> u64 {
        self.clock.now(self.now_ns())
    }

    /// The timer clock as an `Instant`, if this runtime's time was ever paused.
    pub(crate) fn virtual_now(&self) -> Option<Instant> {
        self.clock
            .is_virtual()
            .then(|| self.epoch + Duration::from_nanos(self.timer_now()))
    }

    /// Pause the timer clock (there are no I/O waiters to count).
    pub(crate) fn pause(&self) {
        self.clock.pause(self.now_ns());
        self.netpoll_break();
    }

    /// Let the timer clock run again; false if it was not paused.
    pub(crate) fn resume(&self) -> bool {
        let resumed = self.clock.resume(self.now_ns());
        if resumed {
            self.netpoll_break();
        }
        resumed
    }

    /// `t` on the timer clock: ns since the epoch, in `1..=FAR_NS`.
    pub(crate) fn instant_to_ns(&self, t: Instant) -> u64 {
        saturating_ns(t.saturating_duration_since(self.epoch)).clamp(1, FAR_NS)
    }

    /// Registered sources: none under loom.
    pub(crate) fn sources_len(&self) -> usize {
        0
    }

    /// Go's `netpollAnyWaiters`: never, under loom.
    #[inline]
    pub(crate) fn has_sources(&self) -> bool {
        false
    }

    /// True when an M is blocked in the poll.
    pub(crate) fn is_blocked(&self) -> bool {
        fence(SeqCst); // see `Reactor::poll_until`
        self.poll_until.load(SeqCst) != NOT_BLOCKED
    }

    /// Go's `netpollBreak`: make a blocked poll return. Coalesced.
    pub(crate) fn netpoll_break(&self) {
        if self.break_pending.swap(true, AcqRel) {
            return;
        }
        self.wake();
    }

    /// Wake the poll even if a break is already pending.
    pub(crate) fn netpoll_break_force(&self) {
        self.break_pending.store(true, Release);
        self.wake();
    }

    /// The mio `Waker::wake`: make a wake readable.
    fn wake(&self) {
        *lock(&self.waker.readable) = true;
        self.waker.cvar.notify_all();
    }

    /// A timer at `when` was added: if the blocked poll would sleep past it, break it.
    /// Returns false when no M is blocked in the poll.
    pub(crate) fn wake_for_timer(&self, when: u64) -> bool {
        fence(SeqCst); // see `Reactor::poll_until`
        let until = self.poll_until.load(SeqCst);
        if until == NOT_BLOCKED {
            return false;
        }
        if when < until {
            self.netpoll_break();
        }
        true
    }

    /// Poll without blocking, if no other M is polling: consumes a pending wake. Returns the
    /// number of events (always 0).
    pub(crate) fn poll_nonblocking(&self) -> usize {
        let Some(_st) = self.try_poll() else {
            return 0;
        };
        self.poll_locked_then(false, || {})
    }

    /// Block in the poll until a `netpoll_break` (deadline `u64::MAX`), or return at once (any
    /// other deadline: loom has no time to wait for). `None` if another M holds the poll.
    /// The same publication protocol as the real reactor's (see there). Never `patient`:
    /// here no non-blocking poll holds the poll for longer than one step.
    pub(crate) fn poll_blocking(
        &self,
        deadline: impl FnOnce() -> u64,
        _patient: bool,
    ) -> Option<usize> {
        let _st = self.try_poll()?;
        self.poll_until.store(DEADLINE_UNKNOWN, SeqCst);
        fence(SeqCst); // see `Reactor::poll_until`
        self.clock.active_dec();
        let deadline = deadline();
        self.poll_until.store(deadline, SeqCst);
        let n = self.poll_locked_then(deadline == u64::MAX, || self.clock.active_inc());
        self.poll_until.store(NOT_BLOCKED, SeqCst);
        Some(n)
    }

    /// Take the poll, if no other M holds it (`try_lock`: acquire on success).
    fn try_poll(&self) -> Option<PollGuard<'_>> {
        (!self.polling.swap(true, Acquire)).then_some(PollGuard(&self.polling))
    }

    /// The poll proper: wait for a wake if `block`, then run `woke`, then take the wake.
    fn poll_locked_then(&self, block: bool, woke: impl FnOnce()) -> usize {
        let mut readable = lock(&self.waker.readable);
        if block {
            while !*readable {
                readable = self
                    .waker
                    .cvar
                    .wait(readable)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
        let woken = std::mem::replace(&mut *readable, false);
        drop(readable);
        woke();
        self.last_poll.store(self.now_ns(), Relaxed);
        self.polls_total.fetch_add(1, Relaxed);
        if woken {
            // The real poll's `WAKER_TOKEN` event.
            self.break_pending.store(false, Release);
        }
        0
    }

    /// When the poll last ran (ns since epoch).
    pub(crate) fn last_poll(&self) -> u64 {
        self.last_poll.load(Relaxed)
    }

    /// Runtime shutdown: no sources to wake; break the poll.
    pub(crate) fn shutdown(&self) {
        self.netpoll_break();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    /// A poll blocked with no deadline is woken by a `netpoll_break` from another thread,
    /// whichever runs first: the break is never lost (a lost one leaves the poller waiting
    /// for ever, which loom reports as a deadlock).
    /// WAKEUPS.md step 4 (`netpoll_break`).
    #[test]
    fn loom_netpoll_break_wakes_blocked_poll() {
        loom::model(|| {
            let r = Arc::new(Reactor::new().unwrap());
            let r2 = r.clone();
            let breaker = thread::spawn(move || r2.netpoll_break());
            let n = r.poll_blocking(|| u64::MAX, false);
            assert_eq!(n, Some(0));
            assert!(!r.is_blocked());
            breaker.join().unwrap();
        });
    }

    /// Go's `wakeNetPoller` against a poller computing its deadline: a timer added from
    /// another thread is either seen by the deadline computation (the poll returns at once)
    /// or breaks the poll (`wake_for_timer`), because the poller publishes itself as blocked
    /// (deadline unknown) before it reads the timers. Never both missed.
    /// WAKEUPS.md step 5 (`wake_for_timer`, Go's `wakeNetPoller`).
    #[test]
    fn loom_netpoll_timer_added_while_deadline_computed() {
        use crate::loom::sync::atomic::AtomicU64;
        loom::model(|| {
            let r = Arc::new(Reactor::new().unwrap());
            let timer = Arc::new(AtomicU64::new(u64::MAX));
            let (r2, timer2) = (r.clone(), timer.clone());
            let adder = thread::spawn(move || {
                timer2.store(10, SeqCst);
                // False: nobody is blocked, so the poller, when it comes, sees the timer.
                r2.wake_for_timer(10);
            });
            assert_eq!(r.poll_blocking(|| timer.load(SeqCst), false), Some(0));
            adder.join().unwrap();
        });
    }

    /// Only one M holds the poll: a second poller gets `None` while another holds it, every
    /// poll returns, and the participant count is balanced afterwards (each poll that ran
    /// counted its M idle, then active again).
    /// WAKEUPS.md step 4 (one M blocks in the poll).
    #[test]
    fn loom_netpoll_one_poller_at_a_time() {
        loom::model(|| {
            let r = Arc::new(Reactor::new().unwrap());
            r.clock.active_inc();
            r.clock.active_inc();
            let r2 = r.clone();
            let other = thread::spawn(move || {
                // A deadline: returns at once whenever it gets the poll.
                let _ = r2.poll_blocking(|| 5, false);
                assert_eq!(r2.poll_nonblocking(), 0);
                r2.netpoll_break();
            });
            while r.poll_blocking(|| u64::MAX, false).is_none() {
                thread::yield_now();
            }
            other.join().unwrap();
            assert_eq!(Clock::active(r.clock.participants()), 2);
            assert!(!r.is_blocked());
        });
    }
}
