//! The runtime's timer clock, which can be paused (virtual time, `gmp::time::pause`), and the
//! quiescence counts that decide when paused time may jump to the next timer.
//!
//! Until the runtime is first paused the clock is the real one (`virt` is false and reading it
//! costs one relaxed load more than before). Paused, it reads `frozen`; resumed, it reads the
//! real clock plus the offset gathered while paused (so it never goes backwards).
//!
//! Quiescence ("no task can run"): a *participant* is an M that is not parked on the idle M
//! list and not asleep in the blocking poll, or a thread inside `block_on` on this runtime that
//! is not parked. One word counts them (low half) and a generation (high half) that every
//! change of state bumps in the same atomic add; it is maintained always (one add per
//! park/unpark, next to a futex call). A checker that reads the word, then every queue and
//! count, then the word again, and sees the same word with nothing busy, saw one instant at
//! which nothing ran, nothing was queued and nobody was about to run (whoever wakes a
//! participant counts it active before the wakee takes anything from a queue).
//! Tasks waiting on a reactor source are counted in [`IoWaiters`].

//!
//! Under loom the clock's own words (`virt`, `paused`, `frozen`, `offset`, `participants`) and
//! its lock are loom's, so the models see the quiescence handshake; [`VIRTUAL_CLOCKS`] (a
//! process-wide static, which loom's atomics cannot be) and [`IoWaiters`] (shared with the
//! readiness models of `scheduled_io`) stay std atomics.

use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use crate::loom::sync::Mutex;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;

/// Runtimes whose clock has ever been paused (alive): while 0, `gmp::time::Instant::now` is
/// `std::time::Instant::now` without looking for a runtime.
pub(crate) static VIRTUAL_CLOCKS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Tasks parked on a reactor source's waiter slot (a read, write, accept, connect waiting for
/// readiness), counted once the runtime's clock has been paused.
#[derive(Default)]
pub(crate) struct IoWaiters {
    /// Set at the first pause; from then on registrations count themselves.
    pub(crate) counting: std::sync::atomic::AtomicBool,
    pub(crate) n: std::sync::atomic::AtomicUsize,
}

const GEN_ONE: u64 = 1 << 32;
const ACTIVE_MASK: u64 = GEN_ONE - 1;

#[derive(Default)]
pub(crate) struct Clock {
    /// Ever paused: `now` reads `paused`/`frozen`/`offset` instead of the real clock.
    virt: AtomicBool,
    paused: AtomicBool,
    /// The paused clock (ns since the reactor's epoch).
    frozen: AtomicU64,
    /// Resumed: virtual minus real (ns).
    offset: AtomicI64,
    /// Serialises pause, resume and every move of the paused clock.
    moves: Mutex<()>,
    /// Participants running (low 32 bits, see the module docs) and a generation bumped by
    /// every change of state (high 32 bits): one atomic add per transition.
    participants: AtomicU64,
    pub(crate) io_waiters: Arc<IoWaiters>,
}

impl Clock {
    /// The timer clock, given the real one (`real`: ns since the epoch).
    #[inline]
    pub(crate) fn now(&self, real: u64) -> u64 {
        if !self.virt.load(Relaxed) {
            return real;
        }
        self.now_virtual(real)
    }

    #[cold]
    fn now_virtual(&self, real: u64) -> u64 {
        if self.paused.load(Acquire) {
            self.frozen.load(Acquire)
        } else {
            (real as i64)
                .saturating_add(self.offset.load(Acquire))
                .max(1) as u64
        }
    }

    /// Ever paused.
    pub(crate) fn is_virtual(&self) -> bool {
        self.virt.load(Relaxed)
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(SeqCst)
    }

    /// Freeze the clock at its current reading. True the first time this clock is paused (the
    /// caller then counts the I/O waiters registered before).
    pub(crate) fn pause(&self, real: u64) -> bool {
        let _g = lock(&self.moves);
        if self.paused.load(SeqCst) {
            return false;
        }
        let first = !self.virt.load(SeqCst);
        self.frozen.store(self.now(real), SeqCst);
        self.paused.store(true, SeqCst);
        if first {
            self.io_waiters.counting.store(true, SeqCst);
            self.virt.store(true, SeqCst);
            VIRTUAL_CLOCKS.fetch_add(1, SeqCst);
        }
        first
    }

    /// Let the clock run again from where it stands. False if it was not paused.
    pub(crate) fn resume(&self, real: u64) -> bool {
        let _g = lock(&self.moves);
        if !self.paused.load(SeqCst) {
            return false;
        }
        let frozen = self.frozen.load(SeqCst);
        self.offset
            .store((frozen as i64).saturating_sub(real as i64), SeqCst);
        self.paused.store(false, SeqCst);
        true
    }

    /// Move the paused clock forward to `to` (never backwards). False if not paused.
    pub(crate) fn advance_to(&self, to: u64) -> bool {
        let _g = lock(&self.moves);
        if !self.paused.load(SeqCst) {
            return false;
        }
        self.frozen.fetch_max(to, SeqCst);
        true
    }

    /// A participant starts running (counted before it takes any work).
    #[inline]
    pub(crate) fn active_inc(&self) {
        self.participants.fetch_add(GEN_ONE + 1, SeqCst);
    }

    /// A participant goes idle. True if it was the last one while the clock is paused: the
    /// caller makes sure the poller looks at the timers (`Sched::kick_auto_advance`).
    #[inline]
    pub(crate) fn active_dec(&self) -> bool {
        // + GEN_ONE - 1: the count's borrow is the generation's carry, so one add does both.
        let prev = self.participants.fetch_add(GEN_ONE - 1, SeqCst);
        prev & ACTIVE_MASK == 1 && self.paused.load(SeqCst)
    }

    /// The participants word: compare two readings to see whether anything changed between.
    pub(crate) fn participants(&self) -> u64 {
        self.participants.load(SeqCst)
    }

    /// Participants running in a reading of [`Clock::participants`].
    pub(crate) fn active(word: u64) -> u64 {
        word & ACTIVE_MASK
    }

    pub(crate) fn io_waiters(&self) -> usize {
        self.io_waiters.n.load(SeqCst)
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        if self.virt.load(Relaxed) {
            VIRTUAL_CLOCKS.fetch_sub(1, SeqCst);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// One add moves both halves: the count, and the generation (also on a decrement, whose
    /// borrow becomes the generation's carry); the last participant going idle is reported
    /// only while paused.
    #[test]
    fn participants_word_counts_and_bumps_the_generation() {
        let c = Clock::default();
        c.active_inc();
        c.active_inc();
        let w = c.participants();
        assert_eq!(Clock::active(w), 2);
        assert_eq!(w >> 32, 2);
        assert!(!c.active_dec(), "not the last one");
        assert!(!c.active_dec(), "the last one, but not paused");
        let w = c.participants();
        assert_eq!((Clock::active(w), w >> 32), (0, 4));
        c.pause(1_000);
        c.active_inc();
        assert!(c.active_dec(), "the last one while paused");
    }

    /// Paused, the clock stands still and moves only forward; resumed, it runs on from where
    /// it stood.
    #[test]
    fn pause_advance_resume() {
        let c = Clock::default();
        assert_eq!(c.now(500), 500);
        assert!(c.pause(1_000));
        assert!(!c.pause(2_000), "already paused");
        assert_eq!(c.now(9_999), 1_000);
        assert!(c.advance_to(5_000));
        assert!(c.advance_to(3_000), "never backwards");
        assert_eq!(c.now(9_999), 5_000);
        assert!(c.resume(6_000));
        assert!(!c.resume(6_000), "not paused");
        assert_eq!(c.now(6_010), 5_010);
        assert!(!c.advance_to(9_000), "advance needs a paused clock");
    }
}
