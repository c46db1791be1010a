//! The reactor: Go's netpoll, over one `mio::Poll` per runtime. There is no I/O thread.
//!
//! - Any M may poll **without blocking** while it looks for work (`find_runnable`), any
//!   number at once and beside the blocked M (on Linux: `platform::Poller` calls
//!   `epoll_wait` itself, each caller with its own events; elsewhere one poll at a time).
//! - The one M with nothing else to do **blocks** in the poll, with the earliest timer of all
//!   Ps as its deadline (on Linux armed on a timerfd, so the deadline is kept to the
//!   microsecond). It claims the poll by swapping `poll_until` from `NOT_BLOCKED` (Go's
//!   `sched.lastpoll` swapped to 0): a non-blocking poll never turns it away.
//! - `netpoll_break` (an eventfd, coalesced) interrupts that blocked poll: a timer earlier
//!   than its deadline, work that no other M can take, shutdown. Only the blocking poll
//!   takes a break (a busy M's poll that gets one passes it on), so a busy M's poll cannot
//!   swallow one meant for the blocked M.
//! - Each readiness event wakes the tasks waiting on it. On an M holding a P the wake lands in
//!   that P's runnext/ring (Go's `injectglist`: run one, queue the rest, `wakep`); from the
//!   blocked M, which holds no P, it goes to the global queue and `wakep` starts an M.
//!
//! Invariants: a source's token carries its slab index and a generation, so an event for a
//! source that was deregistered (and whose slot was reused) is dropped, never delivered to the
//! wrong task. Dropping an [`IoSource`] deregisters it and frees its slot: no fd or slot leaks.
//! I/O never depends on one worker: whichever M is free polls, so a task stuck in a long poll
//! on one M does not stop I/O for the others (tokio #4730).

//!
//! Under `--cfg loom` there is no mio and no timerfd: [`loom_netpoll`] stands in for this
//! `Reactor` with the same API and no I/O sources, so the scheduler builds and runs in loom
//! models.

pub(crate) mod clock;
#[cfg(not(loom))]
mod io_source;
#[cfg(loom)]
mod loom_netpoll;
mod scheduled_io;
pub(crate) mod timers;

#[cfg(not(loom))]
pub(crate) use io_source::IoSource;
#[cfg(not(loom))]
pub(crate) use io_source::Readiness;
#[cfg(loom)]
pub(crate) use loom_netpoll::Reactor;
#[cfg(not(loom))]
pub(crate) use scheduled_io::ScheduledIo;

#[cfg(not(loom))]
use crate::loom::lock;
#[cfg(not(loom))]
use crate::platform::{Poller, Wait};
#[cfg(not(loom))]
use mio::Token;
#[cfg(not(loom))]
use slab::Slab;
#[cfg(not(loom))]
use std::io;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
#[cfg(not(loom))]
use std::sync::{Arc, Mutex};
use std::time::Duration;
#[cfg(not(loom))]
use std::time::Instant;

#[cfg(not(loom))]
const INDEX_BITS: u32 = 24;
#[cfg(not(loom))]
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// "Nobody is blocked in the poll" for `Reactor::poll_until`.
pub(crate) const NOT_BLOCKED: u64 = 0;
/// A blocked poll whose deadline is still being computed: every new timer breaks it.
const DEADLINE_UNKNOWN: u64 = u64::MAX - 1;
/// The latest deadline a timer can have (ns since the epoch, about 584 years): "never" in
/// practice. Far deadlines saturate here instead of wrapping, and stay below the sentinels
/// `DEADLINE_UNKNOWN` and `u64::MAX` ("no timer").
pub(crate) const FAR_NS: u64 = u64::MAX - 2;

/// `d` in whole nanoseconds, saturating at `u64::MAX` (never truncated by an `as` cast).
pub(crate) fn saturating_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(not(loom))]
struct Source {
    io: Arc<ScheduledIo>,
    generation: usize,
}

#[cfg(not(loom))]
pub(crate) struct Reactor {
    /// What every poll and break writes, on cache lines of its own: the fields below are
    /// read on every pass of the M loop (`now_ns`, `has_sources`), and sharing a line with
    /// these cost `chained_spawn` 4% on 2 Ps (BENCHMARKS.md).
    state: PollState,
    poller: Poller,
    sources: Mutex<Slab<Source>>,
    next_generation: AtomicUsize,
    nsources: AtomicUsize,
    /// Time zero of the runtime's clocks (`instant_to_ns`).
    epoch: Instant,
    /// `platform::monotonic_ns()` read just *after* `epoch` was taken, so `now_ns` (the raw
    /// clock minus this) never runs ahead of `instant_to_ns(Instant::now())`: it lags by the
    /// few nanoseconds between the two reads, so a timer fires that much late at most, never
    /// before its `Instant` deadline.
    epoch_raw: u64,
    /// The timer clock (virtual while paused) and the quiescence counts.
    pub(crate) clock: clock::Clock,
}

/// The poll's shared state: written by every poll (any M's) and every break.
#[cfg(not(loom))]
#[repr(align(128))]
struct PollState {
    /// A `netpoll_break` is in flight (coalesces wakes of the poll).
    break_pending: AtomicBool,
    /// Deadline (ns since `epoch`) of the blocked poll, `u64::MAX` for none, `NOT_BLOCKED`
    /// when no M is blocked in it (Go's `sched.pollUntil` / `sched.lastpoll == 0`).
    poll_until: AtomicU64,
    /// When the poll last ran (ns since `epoch`), for sysmon's fallback poll.
    last_poll: AtomicU64,
    /// Readiness events dispatched, and polls made.
    events_total: AtomicU64,
    polls_total: AtomicU64,
}

#[cfg(not(loom))]
impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let poller = Poller::new()?;
        let epoch = Instant::now();
        let epoch_raw = crate::platform::monotonic_ns();
        Ok(Reactor {
            poller,
            sources: Mutex::new(Slab::new()),
            next_generation: AtomicUsize::new(1),
            nsources: AtomicUsize::new(0),
            state: PollState {
                break_pending: AtomicBool::new(false),
                poll_until: AtomicU64::new(NOT_BLOCKED),
                last_poll: AtomicU64::new(0),
                events_total: AtomicU64::new(0),
                polls_total: AtomicU64::new(0),
            },
            epoch,
            epoch_raw,
            clock: clock::Clock::default(),
        })
    }

    /// Real nanoseconds since this runtime's epoch (the scheduler's own clock: time slices,
    /// poll ages, sysmon). Never 0 (reserved). Read straight from the monotonic clock (see
    /// `epoch_raw`): the M loop asks it on every round while its P has timers.
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        crate::platform::monotonic_ns()
            .saturating_sub(self.epoch_raw)
            .clamp(1, FAR_NS)
    }

    /// The clock timers use (ns since the epoch): the real one, unless time was paused on this
    /// runtime (`gmp::time::pause`).
    #[inline]
    pub(crate) fn timer_now(&self) -> u64 {
        self.clock.now(self.now_ns())
    }

    /// The timer clock as an `Instant`, if this runtime's time was ever paused (else the real
    /// clock is the timer clock: `None`).
    pub(crate) fn virtual_now(&self) -> Option<Instant> {
        self.clock
            .is_virtual()
            .then(|| self.epoch + Duration::from_nanos(self.timer_now()))
    }

    /// Pause the timer clock; the first time, count the tasks already waiting on a source.
    pub(crate) fn pause(&self) {
        if self.clock.pause(self.now_ns()) {
            let all: Vec<_> = lock(&self.sources)
                .iter()
                .map(|(_, s)| s.io.clone())
                .collect();
            for io in all {
                io.count_waiters();
            }
        }
        // The blocked poll may sleep until a real deadline: make it look again.
        self.netpoll_break();
    }

    /// Let the timer clock run again; false if it was not paused.
    pub(crate) fn resume(&self) -> bool {
        let resumed = self.clock.resume(self.now_ns());
        if resumed {
            // The blocked poll sleeps with no deadline while paused: give it one.
            self.netpoll_break();
        }
        resumed
    }

    /// `t` on the timer clock: ns since the epoch, in `1..=FAR_NS` (an instant before the
    /// epoch is 1, one too far for 64 bits of nanoseconds is `FAR_NS`, never a wrapped value).
    pub(crate) fn instant_to_ns(&self, t: Instant) -> u64 {
        saturating_ns(t.saturating_duration_since(self.epoch)).clamp(1, FAR_NS)
    }

    /// Register a source; returns its readiness cell and its slab key.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        interest: mio::Interest,
    ) -> io::Result<(Arc<ScheduledIo>, usize)> {
        let io = Arc::new(ScheduledIo::with_waiters(self.clock.io_waiters.clone()));
        let generation = self.next_generation.fetch_add(1, Relaxed) & (usize::MAX >> INDEX_BITS);
        let key = {
            let mut sources = lock(&self.sources);
            let entry = sources.vacant_entry();
            let key = entry.key();
            if key > INDEX_MASK {
                return Err(io::Error::other(
                    "gmp: too many I/O sources registered (16,777,216)",
                ));
            }
            entry.insert(Source {
                io: io.clone(),
                generation,
            });
            self.nsources.fetch_add(1, Relaxed);
            key
        };
        let token = Token(key | (generation << INDEX_BITS));
        if let Err(e) = self.poller.registry().register(source, token, interest) {
            lock(&self.sources).remove(key);
            self.nsources.fetch_sub(1, Relaxed);
            return Err(e);
        }
        Ok((io, key))
    }

    /// Deregister a source and free its slot.
    pub(crate) fn deregister(
        &self,
        source: &mut impl mio::event::Source,
        key: usize,
    ) -> io::Result<()> {
        let res = self.poller.registry().deregister(source);
        let mut sources = lock(&self.sources);
        if sources.contains(key) {
            sources.remove(key);
            self.nsources.fetch_sub(1, Relaxed);
        }
        res
    }

    /// Registered sources (for leak checks and metrics).
    pub(crate) fn sources_len(&self) -> usize {
        self.nsources.load(Relaxed)
    }

    /// Go's `netpollAnyWaiters`, approximated by "any source registered".
    #[inline]
    pub(crate) fn has_sources(&self) -> bool {
        self.nsources.load(Relaxed) != 0
    }

    /// True when an M is blocked in the poll.
    pub(crate) fn is_blocked(&self) -> bool {
        self.state.poll_until.load(SeqCst) != NOT_BLOCKED
    }

    /// Go's `netpollBreak`: make a blocked poll return. Coalesced.
    pub(crate) fn netpoll_break(&self) {
        if self.state.break_pending.swap(true, AcqRel) {
            return;
        }
        if let Err(e) = self.poller.wake() {
            self.state.break_pending.store(false, Release);
            eprintln!("gmp: netpoll_break failed: {e}");
        }
    }

    /// Wake the poll even if a break is already pending (shutdown's retry, which must not
    /// depend on who consumed the last one).
    pub(crate) fn netpoll_break_force(&self) {
        self.state.break_pending.store(true, Release);
        let _ = self.poller.wake();
    }

    /// A timer at `when` was added: if the blocked poll would sleep past it, break it.
    /// Returns false when no M is blocked in the poll (the caller must make sure one looks).
    pub(crate) fn wake_for_timer(&self, when: u64) -> bool {
        let until = self.state.poll_until.load(SeqCst);
        if until == NOT_BLOCKED {
            return false;
        }
        if when < until {
            self.netpoll_break();
        }
        true
    }

    /// Poll without blocking: any M, any number at once, beside the blocked one (on Linux;
    /// elsewhere 0 if another M holds the poll). Returns the number of events.
    pub(crate) fn poll_nonblocking(&self) -> usize {
        self.poll(Wait::Now, || {})
    }

    /// Block in the poll until an event, a `netpoll_break`, or the deadline that `deadline`
    /// computes (ns since epoch, `u64::MAX` for none). Only one M blocks at a time: returns
    /// `None` if another M has claimed the poll. Non-blocking polls never stand in the way.
    ///
    /// The M is published as blocked (with a deadline of "unknown": any new timer breaks it)
    /// *before* the deadline is computed, so a timer added concurrently is either seen by the
    /// computation or breaks the poll.
    pub(crate) fn poll_blocking(&self, deadline: impl FnOnce() -> u64) -> Option<usize> {
        self.state
            .poll_until
            .compare_exchange(NOT_BLOCKED, DEADLINE_UNKNOWN, SeqCst, SeqCst)
            .ok()?;
        // This M is idle from here until the poll returns (for auto-advance, which
        // `deadline` may perform: see `clock`).
        self.clock.active_dec();
        let deadline = deadline();
        self.state.poll_until.store(deadline, SeqCst);
        let timeout = (deadline != u64::MAX)
            .then(|| Duration::from_nanos(deadline.saturating_sub(self.timer_now())));
        let n = self.poll(Wait::Block(timeout), || self.clock.active_inc());
        self.state.poll_until.store(NOT_BLOCKED, SeqCst);
        Some(n)
    }

    /// Poll, then run `woke` before dispatching anything (the blocking poll counts its M
    /// active again there, before any task it readies is out of its waiter slot). Returns
    /// the number of source events dispatched.
    fn poll(&self, wait: Wait, woke: impl FnOnce()) -> usize {
        let mut n = 0;
        let res = self.poller.poll(wait, woke, |token, ready| {
            let key = token & INDEX_MASK;
            let generation = token >> INDEX_BITS;
            let io = {
                let sources = lock(&self.sources);
                match sources.get(key) {
                    Some(s) if s.generation == generation => s.io.clone(),
                    _ => return, // stale event for a deregistered source
                }
            };
            io.dispatch(scheduled_io::ready_bits(ready));
            n += 1;
        });
        match res {
            // A break consumed: the next one must wake the poll again.
            Ok(true) => self.state.break_pending.store(false, Release),
            Ok(false) => {}
            Err(e) => {
                eprintln!("gmp: netpoll failed: {e}");
                return 0;
            }
        }
        self.state.last_poll.store(self.now_ns(), Relaxed);
        self.state.polls_total.fetch_add(1, Relaxed);
        if n > 0 {
            self.state.events_total.fetch_add(n as u64, Relaxed);
        }
        n
    }

    /// Polls made, and readiness events they dispatched (runtime metrics).
    pub(crate) fn poll_counts(&self) -> (u64, u64) {
        (
            self.state.polls_total.load(Relaxed),
            self.state.events_total.load(Relaxed),
        )
    }

    /// When the poll last ran (ns since epoch).
    pub(crate) fn last_poll(&self) -> u64 {
        self.state.last_poll.load(Relaxed)
    }

    /// Wake every source's waiters (runtime shutdown): their futures see the runtime is gone.
    pub(crate) fn shutdown(&self) {
        let all: Vec<_> = lock(&self.sources)
            .iter()
            .map(|(_, s)| s.io.clone())
            .collect();
        for io in all {
            io.wake_all();
        }
        self.netpoll_break();
    }
}
