//! The reactor: Go's netpoll, over one `mio::Poll` per runtime. There is no I/O thread.
//!
//! - Any M may poll **without blocking** while it looks for work (`find_runnable`), one at a
//!   time (`try_lock`); an M that finds the poll busy simply moves on. While a poll is known
//!   stuck, an M about to block waits out a non-blocking poll instead (`lock_to_block`), so
//!   that one ends up there.
//! - The one M with nothing else to do **blocks** in the poll, with the earliest timer of all
//!   Ps as its deadline (on Linux armed on a timerfd, so the deadline is kept to the microsecond).
//! - `netpoll_break` (a `mio::Waker`, coalesced) interrupts that blocked poll: a timer earlier
//!   than its deadline, work that no other M can take, shutdown.
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
mod drain_hint;
#[cfg(not(loom))]
mod io_source;
#[cfg(loom)]
mod loom_netpoll;
mod scheduled_io;
pub(crate) mod timers;

#[cfg(not(loom))]
pub(crate) use drain_hint::DrainHint;
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
use mio::{Events, Poll, Registry, Token, Waker};
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
const WAKER_TOKEN: Token = Token(usize::MAX);
#[cfg(not(loom))]
const TIMER_TOKEN: Token = Token(usize::MAX - 1);
#[cfg(not(loom))]
const INDEX_BITS: u32 = 24;
#[cfg(not(loom))]
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
#[cfg(not(loom))]
const EVENTS_CAPACITY: usize = 1024;

/// "Nobody is blocked in the poll" for `Reactor::poll_until`.
pub(crate) const NOT_BLOCKED: u64 = 0;
/// How long an M that means to block in the poll waits for a non-blocking poll to let go of
/// it (`Reactor::lock_to_block`). One `epoll_wait(0)` and the dispatch of its events take
/// microseconds; a full batch (1,024 events) some tens.
const POLL_LOCK_WAIT_NS: u64 = 1_000_000;
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
struct PollState {
    poll: Poll,
    events: Events,
    timerfd: crate::platform::TimerFd,
}

#[cfg(not(loom))]
struct Source {
    io: Arc<ScheduledIo>,
    generation: usize,
}

#[cfg(not(loom))]
pub(crate) struct Reactor {
    state: Mutex<PollState>,
    registry: Registry,
    waker: Waker,
    sources: Mutex<Slab<Source>>,
    next_generation: AtomicUsize,
    nsources: AtomicUsize,
    /// A `netpoll_break` is in flight (coalesces wakes of the poll).
    break_pending: AtomicBool,
    /// Deadline (ns since `epoch`) of the blocked poll, `u64::MAX` for none, `NOT_BLOCKED`
    /// when no M is blocked in it (Go's `sched.pollUntil` / `sched.lastpoll == 0`).
    poll_until: AtomicU64,
    /// When the poll last ran (ns since `epoch`), for sysmon's fallback poll.
    last_poll: AtomicU64,
    /// Readiness events dispatched, and polls made.
    pub(crate) events_total: AtomicU64,
    pub(crate) polls_total: AtomicU64,
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

#[cfg(not(loom))]
impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        let timerfd = crate::platform::TimerFd::new(poll.registry(), TIMER_TOKEN)?;
        let epoch = Instant::now();
        let epoch_raw = crate::platform::monotonic_ns();
        Ok(Reactor {
            state: Mutex::new(PollState {
                poll,
                events: Events::with_capacity(EVENTS_CAPACITY),
                timerfd,
            }),
            registry,
            waker,
            sources: Mutex::new(Slab::new()),
            next_generation: AtomicUsize::new(1),
            nsources: AtomicUsize::new(0),
            break_pending: AtomicBool::new(false),
            poll_until: AtomicU64::new(NOT_BLOCKED),
            last_poll: AtomicU64::new(0),
            events_total: AtomicU64::new(0),
            polls_total: AtomicU64::new(0),
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
        if let Err(e) = self.registry.register(source, token, interest) {
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
        let res = self.registry.deregister(source);
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
        self.poll_until.load(SeqCst) != NOT_BLOCKED
    }

    /// Go's `netpollBreak`: make a blocked poll return. Coalesced.
    pub(crate) fn netpoll_break(&self) {
        if self.break_pending.swap(true, AcqRel) {
            return;
        }
        if let Err(e) = self.waker.wake() {
            self.break_pending.store(false, Release);
            eprintln!("gmp: netpoll_break failed: {e}");
        }
    }

    /// Wake the poll even if a break is already pending (shutdown's retry, which must not
    /// depend on who consumed the last one).
    pub(crate) fn netpoll_break_force(&self) {
        self.break_pending.store(true, Release);
        let _ = self.waker.wake();
    }

    /// A timer at `when` was added: if the blocked poll would sleep past it, break it.
    /// Returns false when no M is blocked in the poll (the caller must make sure one looks).
    pub(crate) fn wake_for_timer(&self, when: u64) -> bool {
        let until = self.poll_until.load(SeqCst);
        if until == NOT_BLOCKED {
            return false;
        }
        if when < until {
            self.netpoll_break();
        }
        true
    }

    /// Poll without blocking, if no other M is polling. Returns the number of events.
    pub(crate) fn poll_nonblocking(&self) -> usize {
        let Ok(mut st) = self.state.try_lock() else {
            return 0;
        };
        self.poll_locked(&mut st, Some(Duration::ZERO))
    }

    /// Block in the poll until an event, a `netpoll_break`, or the deadline that `deadline`
    /// computes (ns since epoch, `u64::MAX` for none). Only one M blocks at a time: returns
    /// `None` if another M holds the poll — unless `patient` and that M is only polling
    /// without blocking: then this one waits for it (see [`Self::lock_to_block`]).
    ///
    /// The M is published as blocked (with a deadline of "unknown": any new timer breaks it)
    /// *before* the deadline is computed, so a timer added concurrently is either seen by the
    /// computation or breaks the poll.
    pub(crate) fn poll_blocking(
        &self,
        deadline: impl FnOnce() -> u64,
        patient: bool,
    ) -> Option<usize> {
        let mut st = if patient {
            self.lock_to_block()?
        } else {
            self.state.try_lock().ok()?
        };
        self.poll_until.store(DEADLINE_UNKNOWN, SeqCst);
        // This M is idle from here until the poll returns (for auto-advance, which
        // `deadline` may perform: see `clock`).
        self.clock.active_dec();
        let deadline = deadline();
        self.poll_until.store(deadline, SeqCst);
        let timeout = if deadline == u64::MAX {
            None
        } else {
            Some(Duration::from_nanos(
                deadline.saturating_sub(self.timer_now()),
            ))
        };
        let woke = || self.clock.active_inc();
        let n = match timeout {
            Some(d) if d.is_zero() => self.poll_locked_then(&mut st, Some(Duration::ZERO), woke),
            Some(d) => {
                // Precise deadline through the timerfd; mio's own timeout is only a backstop.
                let backstop = if st.timerfd.set(d).is_ok() {
                    None
                } else {
                    Some(d)
                };
                let n = self.poll_locked_then(&mut st, backstop, woke);
                let _ = st.timerfd.disarm();
                n
            }
            None => self.poll_locked_then(&mut st, None, woke),
        };
        self.poll_until.store(NOT_BLOCKED, SeqCst);
        Some(n)
    }

    /// The poll's lock, for an M that means to block in the poll and must not be turned
    /// away; `None` if another M is blocked there (or holds the lock to block).
    ///
    /// A non-blocking poll (a busy M's `netpoll(0)`, sysmon's fallback) holds the same lock
    /// for one `epoll_wait(0)` and its dispatch. Turned away by it, an M parks; while every
    /// P is held by a poll that does not return, nobody is then left in the poll, and timers
    /// and I/O wait for sysmon. So this waits that poll out, yielding its CPU between tries
    /// (on a full machine the holder may be waiting for one), for at most
    /// [`POLL_LOCK_WAIT_NS`]; past that it parks as before. Go's `netpoll(0)` does not take
    /// the blocked poller's place at all (`sched.lastpoll`).
    ///
    /// Only for that case (the caller's `patient`): a runtime whose Ms all make progress
    /// does better with the turned-away M parked and the busy Ms polling. Waiting always
    /// left one M blocked in the poll and busy Ms skipping their own polls: `tcp_echo`'s work
    /// took 1.17x as long on 2 Ps, with 1.18 CPUs busy instead of 1.97 (BENCHMARKS.md).
    fn lock_to_block(&self) -> Option<std::sync::MutexGuard<'_, PollState>> {
        self.lock_to_block_within(POLL_LOCK_WAIT_NS)
    }

    /// [`Self::lock_to_block`], waiting at most `wait_ns` for a non-blocking poll.
    fn lock_to_block_within(&self, wait_ns: u64) -> Option<std::sync::MutexGuard<'_, PollState>> {
        let mut since = 0;
        loop {
            match self.state.try_lock() {
                Ok(st) => return Some(st),
                Err(std::sync::TryLockError::WouldBlock) if !self.is_blocked() => {}
                Err(_) => return None,
            }
            let now = self.now_ns();
            if since == 0 {
                since = now;
            } else if now - since > wait_ns {
                return None;
            }
            std::thread::yield_now();
        }
    }

    fn poll_locked(&self, st: &mut PollState, timeout: Option<Duration>) -> usize {
        self.poll_locked_then(st, timeout, || {})
    }

    /// Poll, then run `woke` before dispatching anything (the blocking poll counts its M
    /// active again there, before any task it readies is out of its waiter slot).
    fn poll_locked_then(
        &self,
        st: &mut PollState,
        timeout: Option<Duration>,
        woke: impl FnOnce(),
    ) -> usize {
        let PollState {
            poll,
            events,
            timerfd,
        } = st;
        let res = poll.poll(events, timeout);
        woke();
        if let Err(e) = res {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("gmp: netpoll failed: {e}");
            }
            return 0;
        }
        self.last_poll.store(self.now_ns(), Relaxed);
        self.polls_total.fetch_add(1, Relaxed);
        let mut n = 0;
        for ev in events.iter() {
            match ev.token() {
                WAKER_TOKEN => self.break_pending.store(false, Release),
                TIMER_TOKEN => timerfd.drain(),
                Token(t) => {
                    let key = t & INDEX_MASK;
                    let generation = t >> INDEX_BITS;
                    let io = {
                        let sources = lock(&self.sources);
                        match sources.get(key) {
                            Some(s) if s.generation == generation => s.io.clone(),
                            _ => continue, // stale event for a deregistered source
                        }
                    };
                    io.dispatch(scheduled_io::ready_bits(ev));
                    n += 1;
                }
            }
        }
        if n > 0 {
            self.events_total.fetch_add(n as u64, Relaxed);
        }
        n
    }

    /// When the poll last ran (ns since epoch).
    pub(crate) fn last_poll(&self) -> u64 {
        self.last_poll.load(Relaxed)
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    /// Runs `f` on another thread once the caller holds the poll's lock, and returns its
    /// result; the lock is let go `hold` after the thread says it is about to call `f`.
    fn while_held<T: Send + 'static>(
        r: &Arc<Reactor>,
        blocked: bool,
        hold: Duration,
        f: impl FnOnce(&Reactor) -> T + Send + 'static,
    ) -> T {
        let guard = r.state.lock().unwrap();
        if blocked {
            r.poll_until.store(DEADLINE_UNKNOWN, SeqCst);
        }
        let calling = Arc::new(AtomicBool::new(false));
        let (r2, c2) = (r.clone(), calling.clone());
        let t = std::thread::spawn(move || {
            c2.store(true, SeqCst);
            f(&r2)
        });
        let start = Instant::now();
        while !calling.load(SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the thread never started"
            );
            std::thread::yield_now();
        }
        std::thread::sleep(hold);
        if blocked {
            r.poll_until.store(NOT_BLOCKED, SeqCst);
        }
        drop(guard);
        t.join().unwrap()
    }

    /// An M about to block finds a non-blocking poll in progress: it waits for it and takes
    /// the poll, instead of parking with nobody left in the poll. (With a 30 s bound here:
    /// `poll_blocking`'s own 1 ms could run out on a loaded machine before this thread's
    /// 5 ms hold ends.)
    #[test]
    fn a_would_be_poller_waits_out_a_non_blocking_poll() {
        let r = Arc::new(Reactor::new().unwrap());
        let got = while_held(&r, false, Duration::from_millis(5), |r| {
            r.lock_to_block_within(30_000_000_000).is_some()
        });
        assert!(got, "turned away by a non-blocking poll");
    }

    /// Another M blocked in the poll: no wait, `None` at once (only one M blocks there).
    #[test]
    fn a_would_be_poller_leaves_a_blocked_poll_alone() {
        let r = Arc::new(Reactor::new().unwrap());
        // Were it to wait, it would get the lock once the "poller" lets go.
        let took = while_held(&r, true, Duration::from_millis(50), |r| {
            r.lock_to_block_within(30_000_000_000).is_some()
        });
        assert!(!took, "waited for a blocked poller and took the poll");
    }

    /// A non-blocking poll that does not let go: the wait is bounded, then the M parks as
    /// before (the poll's holder goes on to find work; sysmon covers the rest).
    #[test]
    fn the_wait_for_a_non_blocking_poll_is_bounded() {
        let r = Arc::new(Reactor::new().unwrap());
        let took = while_held(&r, false, Duration::from_millis(300), |r| {
            let start = Instant::now();
            let got = r.lock_to_block_within(2_000_000).is_some();
            (got, start.elapsed())
        });
        assert!(!took.0, "took a poll that was still held");
        assert!(
            took.1 >= Duration::from_millis(2),
            "gave up after {:?}",
            took.1
        );
    }
}
