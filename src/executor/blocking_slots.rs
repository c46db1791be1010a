//! The cap on concurrent blocking sections, so that blocking work can never take every M.
//!
//! Every blocking section occupies its M until the call returns, and a long one has its P
//! handed to *another* M. So a runtime needs up to `procs + in_flight` Ms. Go has no cap and
//! crashes at its thread limit; tokio keeps its workers apart from a capped blocking pool. gmp
//! runs blocking calls on its Ms (no hop), so it caps the sections instead: at most
//! `cap = usable Ms - procs` run at once (at least one), where the usable Ms are
//! `max_threads`, or fewer once the OS has refused a thread (a container's pids limit,
//! `RLIMIT_NPROC`). Past the cap, `spawn_blocking` tasks and `gmp::fs` calls *wait* — as
//! ordinary waiting tasks, holding no M — and the Ps keep running async work.
//!
//! Who may call what:
//! - [`BlockingSlots::poll_acquire`] from the task that wants a slot, with its own
//!   [`WaitKey`]; [`BlockingSlots::cancel`] when that task gives up (its future is dropped);
//! - [`BlockingSlots::enter_uncapped`] from `block_in_place`, which cannot wait (it is
//!   synchronous): it takes a slot even past the cap, so the gated callers wait longer;
//! - [`BlockingSlots::release`] once per slot taken, when the section ends.
//!
//! No lost wakeup (checked by `loom_release_vs_queueing_waiter`; without the two fences
//! loom finds a waiter asleep with the slot free): a waiter publishes itself
//! (`nwaiters += 1`), fences (SeqCst), *then* tries for a slot once more; a releaser frees
//! its slot (`in_flight -= 1`), fences, *then* looks for waiters. The two fences are totally
//! ordered: whichever side fenced second sees the other's first step, so either the waiter
//! sees the free slot or the releaser sees the waiter and wakes it. A woken waiter tries
//! again (another task may have taken the slot first: then that task's release wakes
//! the next waiter). A waiter that is woken but gives up passes the wakeup on.

use crate::loom::lock;
use crate::loom::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

/// Which queued waiter a task is, while it waits (`None`: not queued).
pub(crate) type WaitKey = Option<u64>;

pub(crate) struct BlockingSlots {
    /// Blocking sections running now (each holds an M).
    in_flight: AtomicUsize,
    /// Ms the OS allowed at most, learned when it refused a thread (`usize::MAX`: never yet).
    /// A hint outside the wakeup protocol: a std atomic even under loom.
    os_limit: std::sync::atomic::AtomicUsize,
    waiters: Mutex<VecDeque<(u64, Waker)>>,
    /// `waiters.len()`, readable without the lock.
    nwaiters: AtomicUsize,
    next_key: AtomicU64,
}

impl BlockingSlots {
    pub(crate) fn new() -> BlockingSlots {
        BlockingSlots {
            in_flight: AtomicUsize::new(0),
            os_limit: std::sync::atomic::AtomicUsize::new(usize::MAX),
            waiters: Mutex::new(VecDeque::new()),
            nwaiters: AtomicUsize::new(0),
            next_key: AtomicU64::new(0),
        }
    }

    /// The cap for a runtime of `procs` Ps and at most `max_threads` Ms: the Ms it can really
    /// have, less one per P, and never below one (with no M to spare, one section may still
    /// run; its P then waits for it).
    pub(crate) fn cap(&self, procs: usize, max_threads: usize) -> usize {
        let usable = max_threads.min(self.os_limit.load(Relaxed));
        usable.saturating_sub(procs).max(1)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Relaxed)
    }

    pub(crate) fn waiting(&self) -> usize {
        self.nwaiters.load(Relaxed)
    }

    /// The OS refused a thread while `alive` Ms existed: no more than that can run.
    pub(crate) fn os_refused(&self, alive: usize) {
        self.os_limit.fetch_min(alive.max(1), Relaxed);
    }

    /// A thread was created with `alive` Ms now running: a limit learned earlier was lifted.
    pub(crate) fn os_allowed(&self, alive: usize) {
        if self.os_limit.load(Relaxed) < alive {
            self.os_limit.fetch_max(alive, Relaxed);
        }
    }

    fn try_acquire(&self, cap: usize) -> bool {
        self.in_flight
            .fetch_update(SeqCst, SeqCst, |n| (n < cap).then_some(n + 1))
            .is_ok()
    }

    /// Take a slot if one is free under `cap`, else queue `cx`'s waker (once per `key`).
    pub(crate) fn poll_acquire(
        &self,
        cap: usize,
        key: &mut WaitKey,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if let Some(k) = key.take() {
            // Polled again while queued (woken, or spuriously): leave the queue first.
            self.unqueue(k);
        }
        if self.try_acquire(cap) {
            return Poll::Ready(());
        }
        let k = self.next_key.fetch_add(1, Relaxed);
        {
            let mut w = lock(&self.waiters);
            w.push_back((k, cx.waker().clone()));
            self.nwaiters.fetch_add(1, SeqCst);
        }
        // Published as a waiter: look once more (see the module doc). The fence orders the
        // publication before the look, pairing with the one in `release`.
        fence(SeqCst);
        if self.try_acquire(cap) {
            if !self.unqueue(k) {
                // A releaser popped us and woke us meanwhile: we took a slot anyway, so the
                // wakeup meant for a waiter goes to the next one.
                self.wake_one();
            }
            return Poll::Ready(());
        }
        *key = Some(k);
        Poll::Pending
    }

    /// A waiting task gives up (its future is dropped).
    pub(crate) fn cancel(&self, key: &mut WaitKey) {
        if let Some(k) = key.take() {
            if !self.unqueue(k) {
                // Popped and woken for a free slot that we will not take: pass it on.
                self.wake_one();
            }
        }
    }

    /// Take a slot whatever the cap (`block_in_place`, which cannot wait).
    pub(crate) fn enter_uncapped(&self) {
        self.in_flight.fetch_add(1, SeqCst);
    }

    /// A section ended: free its slot and wake the first waiter, if any.
    pub(crate) fn release(&self) {
        self.in_flight.fetch_sub(1, SeqCst);
        fence(SeqCst);
        if self.nwaiters.load(SeqCst) > 0 {
            self.wake_one();
        }
    }

    fn wake_one(&self) {
        let first = {
            let mut w = lock(&self.waiters);
            let first = w.pop_front();
            if first.is_some() {
                self.nwaiters.fetch_sub(1, SeqCst);
            }
            first
        };
        if let Some((_, waker)) = first {
            waker.wake();
        }
    }

    /// Remove waiter `k`; false if it was no longer queued (a releaser popped it).
    fn unqueue(&self, k: u64) -> bool {
        let mut w = lock(&self.waiters);
        match w.iter().position(|(key, _)| *key == k) {
            Some(i) => {
                w.remove(i);
                self.nwaiters.fetch_sub(1, SeqCst);
                true
            }
            None => false,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdCount;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(StdCount);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(StdCount::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn cap_counts_the_usable_ms_less_the_ps_never_below_one() {
        let s = BlockingSlots::new();
        assert_eq!(s.cap(2, 10_000), 9_998);
        assert_eq!(s.cap(2, 4), 2);
        assert_eq!(s.cap(2, 2), 1);
        s.os_refused(6);
        assert_eq!(s.cap(2, 10_000), 4);
        s.os_allowed(8);
        assert_eq!(s.cap(2, 10_000), 6);
    }

    #[test]
    fn waiters_are_woken_in_order_as_slots_free() {
        let s = BlockingSlots::new();
        let (c0, w0) = waker();
        let (c1, w1) = waker();
        let (mut k0, mut k1, mut k2): (WaitKey, WaitKey, WaitKey) = (None, None, None);
        assert!(s
            .poll_acquire(1, &mut k0, &mut Context::from_waker(&w0))
            .is_ready());
        assert!(s
            .poll_acquire(1, &mut k1, &mut Context::from_waker(&w1))
            .is_pending());
        assert!(s
            .poll_acquire(1, &mut k2, &mut Context::from_waker(&w0))
            .is_pending());
        assert_eq!(s.waiting(), 2);
        s.release();
        assert_eq!(c1.0.load(SeqCst), 1, "the first waiter is woken");
        assert_eq!(c0.0.load(SeqCst), 0);
        assert!(s
            .poll_acquire(1, &mut k1, &mut Context::from_waker(&w1))
            .is_ready());
        // The second waiter gives up: nothing is left queued, no wakeup is lost.
        s.cancel(&mut k2);
        assert_eq!(s.waiting(), 0);
        s.release();
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn a_woken_waiter_that_gives_up_passes_the_wakeup_on() {
        let s = BlockingSlots::new();
        let (c1, w1) = waker();
        let (c2, w2) = waker();
        let (mut k0, mut k1, mut k2): (WaitKey, WaitKey, WaitKey) = (None, None, None);
        assert!(s
            .poll_acquire(1, &mut k0, &mut Context::from_waker(&w1))
            .is_ready());
        let _ = s.poll_acquire(1, &mut k1, &mut Context::from_waker(&w1));
        let _ = s.poll_acquire(1, &mut k2, &mut Context::from_waker(&w2));
        s.release(); // pops and wakes waiter 1
        assert_eq!(c1.0.load(SeqCst), 1);
        s.cancel(&mut k1); // it was dropped instead of taking the slot
        assert_eq!(c2.0.load(SeqCst), 1, "waiter 2 got the wakeup");
        assert!(s
            .poll_acquire(1, &mut k2, &mut Context::from_waker(&w2))
            .is_ready());
    }

    #[test]
    fn uncapped_entries_hold_slots_the_gated_ones_wait_for() {
        let s = BlockingSlots::new();
        let (c, w) = waker();
        s.enter_uncapped();
        s.enter_uncapped();
        let mut k: WaitKey = None;
        assert!(s
            .poll_acquire(1, &mut k, &mut Context::from_waker(&w))
            .is_pending());
        s.release();
        assert_eq!(c.0.load(SeqCst), 1);
        assert!(
            s.poll_acquire(1, &mut k, &mut Context::from_waker(&w))
                .is_pending(),
            "one uncapped section still holds the only slot"
        );
        s.release();
        assert!(s
            .poll_acquire(1, &mut k, &mut Context::from_waker(&w))
            .is_ready());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// WAKEUP: a release racing a waiter that is queueing itself: the waiter ends up with the
    /// slot or woken, never queued and asleep with the slot free.
    /// WAKEUPS.md step 6 (blocking slots' waiters).
    #[test]
    fn loom_release_vs_queueing_waiter() {
        loom::model(|| {
            let slots = Arc::new(BlockingSlots::new());
            slots.enter_uncapped(); // the slot the releaser holds
            let s2 = slots.clone();
            let releaser = loom::thread::spawn(move || s2.release());
            let (woken, waker) = crate::loom::counting_waker();
            let mut key: WaitKey = None;
            let got = slots
                .poll_acquire(1, &mut key, &mut Context::from_waker(&waker))
                .is_ready();
            releaser.join().unwrap();
            let woken = woken.0.load(std::sync::atomic::Ordering::SeqCst) > 0;
            assert!(got || woken, "a waiter slept through a free slot");
            if !got {
                let got = slots
                    .poll_acquire(1, &mut key, &mut Context::from_waker(&waker))
                    .is_ready();
                assert!(got, "the woken waiter finds the slot free");
            }
        });
    }
}
