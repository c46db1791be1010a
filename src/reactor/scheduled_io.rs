//! Per-source readiness and wakers (Go's `pollDesc`).
//!
//! Invariants: readiness bits are set by the poller (`dispatch`) with one `fetch_or`, which also
//! bumps an event tick; a reader clears them only for the tick it observed (`clear`), so an edge
//! that arrives between "read returned WouldBlock" and "clear" is never lost. Wakers are taken by
//! the poller after it sets the bits, and stored by pollers of the future before they re-check
//! the bits, so a readiness edge either is seen by the re-check or finds the waker.

use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use crate::reactor::clock::IoWaiters;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

pub(crate) const READABLE: usize = 1;
pub(crate) const WRITABLE: usize = 1 << 1;
pub(crate) const READ_CLOSED: usize = 1 << 2;
pub(crate) const WRITE_CLOSED: usize = 1 << 3;
pub(crate) const ERROR: usize = 1 << 4;
const READY_MASK: usize = (1 << 5) - 1;
const TICK_SHIFT: usize = 16;
const TICK_ONE: usize = 1 << TICK_SHIFT;

/// A read or write interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// Bits that make this direction ready (closed and error wake both sides).
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// What a poller observed: the ready bits and the tick they belong to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    tick: usize,
    ready: usize,
}

impl ReadyEvent {
    /// The ready bits seen (`READABLE`, …, masked to the direction polled).
    pub(crate) fn bits(self) -> usize {
        self.ready
    }
}

/// A direction's waiter: the waker, and whether it is counted in the runtime's
/// [`IoWaiters`] (virtual time: a task waiting here holds the paused clock still).
#[derive(Default)]
struct Slot {
    waker: Option<Waker>,
    counted: bool,
}

pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    reader: Mutex<Slot>,
    writer: Mutex<Slot>,
    waiters: Arc<IoWaiters>,
}

impl ScheduledIo {
    #[cfg_attr(not(loom), allow(dead_code))]
    pub(crate) fn new() -> ScheduledIo {
        ScheduledIo::with_waiters(Arc::default())
    }

    /// A source of a runtime whose waiting tasks are counted in `waiters`.
    pub(crate) fn with_waiters(waiters: Arc<IoWaiters>) -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            reader: Mutex::new(Slot::default()),
            writer: Mutex::new(Slot::default()),
            waiters,
        }
    }

    /// The runtime's clock was just paused for the first time: count the waiters already here
    /// (registrations from now on count themselves).
    pub(crate) fn count_waiters(&self) {
        for dir in [Direction::Read, Direction::Write] {
            let mut slot = lock(self.slot(dir));
            if slot.waker.is_some() && !slot.counted {
                slot.counted = true;
                self.waiters.n.fetch_add(1, SeqCst);
            }
        }
    }

    /// Take the waiter of `dir` (uncounting it).
    fn take_waiter(&self, dir: Direction) -> Option<Waker> {
        let mut slot = lock(self.slot(dir));
        if slot.counted {
            slot.counted = false;
            self.waiters.n.fetch_sub(1, SeqCst);
        }
        slot.waker.take()
    }

    fn slot(&self, dir: Direction) -> &Mutex<Slot> {
        match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }

    /// Record an event from the poller and wake whoever waits for it.
    pub(crate) fn dispatch(&self, ready: usize) {
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |cur| {
            Some(cur.wrapping_add(TICK_ONE) | ready)
        });
        for dir in [Direction::Read, Direction::Write] {
            if ready & dir.mask() != 0 {
                let w = self.take_waiter(dir);
                if let Some(w) = w {
                    crate::executor::wake::wake_caught(w);
                }
            }
        }
    }

    /// Wake both sides (deregistration, shutdown) without marking anything ready.
    pub(crate) fn wake_all(&self) {
        self.dispatch(ERROR);
    }

    /// The readiness of `dir` now, without registering a waker (`try_read` and the like).
    pub(crate) fn ready_now(&self, dir: Direction) -> Option<ReadyEvent> {
        let cur = self.readiness.load(Acquire);
        let ready = cur & dir.mask();
        (ready != 0).then_some(ReadyEvent {
            tick: cur >> TICK_SHIFT,
            ready,
        })
    }

    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<ReadyEvent> {
        if let Some(ev) = self.ready_now(dir) {
            return Poll::Ready(ev);
        }
        {
            let mut slot = lock(self.slot(dir));
            match &slot.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                Some(_) => slot.waker = Some(cx.waker().clone()),
                None => {
                    if self.waiters.counting.load(Relaxed) {
                        slot.counted = true;
                        self.waiters.n.fetch_add(1, SeqCst);
                    }
                    slot.waker = Some(cx.waker().clone());
                }
            }
        }
        match self.ready_now(dir) {
            Some(ev) => Poll::Ready(ev),
            None => Poll::Pending,
        }
    }

    /// The operation returned WouldBlock: forget the readiness seen in `ev`, unless a newer
    /// event arrived meanwhile. The closed bits stay (a hang-up is final); an error is
    /// reported once by the operation that saw it, then cleared (a transient ICMP error on a
    /// UDP socket must not make every later read spin).
    pub(crate) fn clear(&self, ev: ReadyEvent) {
        let clear = ev.ready & (READABLE | WRITABLE | ERROR);
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |cur| {
            (cur >> TICK_SHIFT == ev.tick).then_some(cur & !clear)
        });
    }

    /// A stream read came back short: the receive queue is drained. Forget the `READABLE`
    /// seen in `ev` (only that bit: a hang-up or error stays to be reported), unless a newer
    /// event arrived meanwhile.
    pub(crate) fn clear_readable(&self, ev: ReadyEvent) {
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |cur| {
            (cur >> TICK_SHIFT == ev.tick).then_some(cur & !READABLE)
        });
    }

    /// True once an error or hang-up was reported for this direction.
    pub(crate) fn is_closed(ev: ReadyEvent) -> bool {
        ev.ready & (READ_CLOSED | WRITE_CLOSED | ERROR) != 0
    }
}

impl Drop for ScheduledIo {
    fn drop(&mut self) {
        for dir in [Direction::Read, Direction::Write] {
            if lock(self.slot(dir)).counted {
                self.waiters.n.fetch_sub(1, SeqCst);
            }
        }
    }
}

/// Translate a mio event into readiness bits.
#[cfg(not(loom))]
pub(crate) fn ready_bits(ev: &mio::event::Event) -> usize {
    let mut r = 0;
    if ev.is_readable() {
        r |= READABLE;
    }
    if ev.is_writable() {
        r |= WRITABLE;
    }
    if ev.is_read_closed() {
        r |= READ_CLOSED;
    }
    if ev.is_write_closed() {
        r |= WRITE_CLOSED;
    }
    if ev.is_error() {
        r |= ERROR;
    }
    r & READY_MASK
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::loom::counting_waker;
    use crate::loom::sync::Arc;

    /// An event dispatched while a task polls for readiness (between the first readiness check,
    /// the waker registration and the re-check) is never lost: the poll sees it, or the
    /// dispatch finds the waker and wakes it, exactly once.
    /// WAKEUPS.md step 4 (netpoll results reach the task).
    #[test]
    fn loom_dispatch_vs_poll_ready() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::new());
            let (count, waker) = counting_waker();
            let io2 = io.clone();
            let poller = loom::thread::spawn(move || io2.dispatch(READABLE));
            let seen = io
                .poll_ready(&mut Context::from_waker(&waker), Direction::Read)
                .is_ready();
            poller.join().unwrap();
            let woken = count.0.load(SeqCst);
            assert!(seen || woken == 1, "readiness lost: not seen, not woken");
            assert!(woken <= 1);
        });
    }

    /// A reader that saw readiness at tick t, got WouldBlock and clears it, racing a newer
    /// event (tick t+1): the clear never erases the newer event, and the reader's next poll
    /// sees it or is woken for it.
    /// WAKEUPS.md step 4 (netpoll results reach the task).
    #[test]
    fn loom_clear_stale_tick_keeps_new_event() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::new());
            io.dispatch(READABLE);
            let (count, waker) = counting_waker();
            let mut cx = Context::from_waker(&waker);
            let Poll::Ready(ev) = io.poll_ready(&mut cx, Direction::Read) else {
                panic!("dispatched before the poll");
            };
            let io2 = io.clone();
            let poller = loom::thread::spawn(move || io2.dispatch(READABLE));
            // The read returned WouldBlock.
            io.clear(ev);
            let seen = io.poll_ready(&mut cx, Direction::Read).is_ready();
            poller.join().unwrap();
            assert!(seen || count.0.load(SeqCst) == 1, "newer event lost");
            // Whatever the order, the newer event is still recorded.
            assert!(
                io.ready_now(Direction::Read).is_some(),
                "stale clear erased it"
            );
        });
    }

    /// Read and write interest are independent: a writable event wakes the writer only (never
    /// the reader), and a reader's clear of its own readiness never erases the writer's. (The
    /// write event bumps the tick, so the reader's clear may fail and leave a stale READABLE:
    /// conservative — one more read that returns WouldBlock — never a lost event.)
    /// WAKEUPS.md step 4 (netpoll results reach the task).
    #[test]
    fn loom_read_write_wakers_independent() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::new());
            io.dispatch(READABLE);
            let (rcount, rwaker) = counting_waker();
            let (wcount, wwaker) = counting_waker();
            let mut rcx = Context::from_waker(&rwaker);
            let Poll::Ready(ev) = io.poll_ready(&mut rcx, Direction::Read) else {
                panic!("dispatched before the poll");
            };
            let io2 = io.clone();
            let writer = loom::thread::spawn(move || {
                let mut wcx = Context::from_waker(&wwaker);
                io2.poll_ready(&mut wcx, Direction::Write).is_ready()
            });
            let io3 = io.clone();
            let poller = loom::thread::spawn(move || io3.dispatch(WRITABLE));
            // The read returned WouldBlock: the reader clears and registers again.
            io.clear(ev);
            let read_seen = io.poll_ready(&mut rcx, Direction::Read).is_ready();
            let write_seen = writer.join().unwrap();
            poller.join().unwrap();
            assert_eq!(rcount.0.load(SeqCst), 0, "reader woken by a write");
            if !read_seen {
                assert!(io.ready_now(Direction::Read).is_none());
            }
            assert!(
                write_seen || wcount.0.load(SeqCst) == 1,
                "write readiness lost"
            );
            assert!(
                io.ready_now(Direction::Write).is_some(),
                "write readiness erased"
            );
        });
    }
}
