//! A single-slot waker cell: one registering side, any number of wakers.
//!
//! Protocol (two lock bits): `REGISTERING` is held by `register` while it writes the slot,
//! `WAKING` by `take` while it empties it. A `take` that finds `REGISTERING` leaves `WAKING`
//! set; the registering thread sees it when it releases and wakes the new waker itself, so a
//! wake that races a registration is never lost.
//!
//! The slot ([`WakerSlot`]) and its two bits ([`SlotLock`]) are separate so that the bits can
//! live in a word that already exists: a task's join waker keeps them in the task state word
//! (saving a word per task), a timer's in a word of its own ([`AtomicWaker`]).

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::task::Waker;

/// The outcome of [`SlotLock::begin_register`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Register {
    /// `REGISTERING` taken: write the slot, then `end_register`.
    Begun,
    /// A wake is emptying the slot right now (the event has happened): wake the new waker
    /// at once instead of storing it.
    Waking,
    /// Another registration is in flight (two pollers of one handle: a contract violation,
    /// tolerated by ignoring this one).
    Busy,
}

/// The two lock bits guarding one [`WakerSlot`].
pub(crate) trait SlotLock {
    /// Take `REGISTERING` (`Begun`), or say who holds the slot.
    fn begin_register(&self) -> Register;
    /// Release `REGISTERING`; false when `WAKING` was set meanwhile (both bits then stay set
    /// for the registering side to empty the slot and call `end_wake`).
    fn end_register(&self) -> bool;
    /// Set `WAKING`; true when nobody was registering or emptying, so the slot is ours.
    fn begin_wake(&self) -> bool;
    /// Clear both bits.
    fn end_wake(&self);
}

/// The waker slot. Its methods take the lock bits that guard it.
pub(crate) struct WakerSlot(UnsafeCell<Option<Waker>>);

// SAFETY: the slot is only read or written by the thread that won REGISTERING or WAKING.
unsafe impl Send for WakerSlot {}
// SAFETY: as above.
unsafe impl Sync for WakerSlot {}

impl WakerSlot {
    pub(crate) fn new() -> WakerSlot {
        WakerSlot(UnsafeCell::new(None))
    }

    /// Store `waker` to be woken by the next `wake`. Must not be called concurrently with
    /// itself.
    ///
    /// # Safety
    /// `lock` is the one lock that guards this slot, in every call on it.
    pub(crate) unsafe fn register(&self, lock: &impl SlotLock, waker: &Waker) {
        match lock.begin_register() {
            Register::Begun => {
                // SAFETY: we hold REGISTERING; `take` does not touch the slot meanwhile.
                let old = self.0.with_mut(|slot| unsafe {
                    match &*slot {
                        Some(w) if w.will_wake(waker) => None,
                        _ => (*slot).replace(waker.clone()),
                    }
                });
                if !lock.end_register() {
                    // A wake arrived while we registered: deliver it ourselves.
                    // SAFETY: WAKING is set alongside REGISTERING, so `take` backed off.
                    let w = self.0.with_mut(|slot| unsafe { (*slot).take() });
                    lock.end_wake();
                    if let Some(w) = w {
                        w.wake();
                    }
                }
                drop(old);
            }
            Register::Waking => waker.wake_by_ref(),
            Register::Busy => {} // concurrent register: a contract violation, ignored
        }
    }

    /// Remove the stored waker, if no registration is in flight.
    ///
    /// # Safety
    /// As for [`WakerSlot::register`].
    pub(crate) unsafe fn take(&self, lock: &impl SlotLock) -> Option<Waker> {
        if !lock.begin_wake() {
            return None;
        }
        // SAFETY: we hold WAKING and no registration is in flight.
        let w = self.0.with_mut(|slot| unsafe { (*slot).take() });
        lock.end_wake();
        w
    }

    /// Wake the stored waker. It may be another executor's: a panic in it is caught and
    /// reported (see [`wake_caught`](crate::executor::wake::wake_caught)), never unwound into
    /// the M or sysmon calling this.
    ///
    /// # Safety
    /// As for [`WakerSlot::register`].
    pub(crate) unsafe fn wake(&self, lock: &impl SlotLock) {
        // SAFETY: per our contract.
        if let Some(w) = unsafe { self.take(lock) } {
            crate::executor::wake::wake_caught(w);
        }
    }
}

const REGISTERING: usize = 1;
const WAKING: usize = 2;

/// The lock bits in a word of their own.
struct LockWord(AtomicUsize);

impl SlotLock for LockWord {
    fn begin_register(&self) -> Register {
        match self.0.compare_exchange(0, REGISTERING, Acquire, Acquire) {
            Ok(_) => Register::Begun,
            Err(cur) if cur & WAKING != 0 => Register::Waking,
            Err(_) => Register::Busy,
        }
    }

    fn end_register(&self) -> bool {
        self.0
            .compare_exchange(REGISTERING, 0, AcqRel, Acquire)
            .is_ok()
    }

    fn begin_wake(&self) -> bool {
        self.0.fetch_or(WAKING, AcqRel) == 0
    }

    fn end_wake(&self) {
        self.0.fetch_and(!(REGISTERING | WAKING), Release);
    }
}

/// A waker slot with its own lock word (a timer's).
pub(crate) struct AtomicWaker {
    lock: LockWord,
    slot: WakerSlot,
}

impl AtomicWaker {
    /// An empty cell (timers are born with their waker: [`AtomicWaker::with_waker`]).
    #[cfg(test)]
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            lock: LockWord(AtomicUsize::new(0)),
            slot: WakerSlot::new(),
        }
    }

    /// A cell born holding `waker`: what a registration would store, without the lock
    /// protocol, for a cell nobody else can see yet.
    pub(crate) fn with_waker(waker: Waker) -> AtomicWaker {
        AtomicWaker {
            lock: LockWord(AtomicUsize::new(0)),
            slot: WakerSlot(UnsafeCell::new(Some(waker))),
        }
    }

    /// See [`WakerSlot::register`].
    pub(crate) fn register(&self, waker: &Waker) {
        // SAFETY: this slot's lock is always `self.lock`.
        unsafe { self.slot.register(&self.lock, waker) }
    }

    /// Remove the stored waker without the lock protocol: for an owner that knows nobody
    /// else can touch the cell any more (a timer entry whose cancel won, see
    /// `reactor::timers`).
    ///
    /// # Safety
    /// No other thread accesses this cell concurrently, and every earlier access
    /// happens-before this call.
    pub(crate) unsafe fn take_unsynced(&self) -> Option<Waker> {
        // SAFETY: exclusive by the caller's contract.
        self.slot.0.with_mut(|slot| unsafe { (*slot).take() })
    }

    /// See [`WakerSlot::wake`].
    pub(crate) fn wake(&self) {
        // SAFETY: as above.
        unsafe { self.slot.wake(&self.lock) }
    }
}

#[cfg(all(test, loom))]
pub(crate) mod tests {
    use super::*;
    use crate::loom::sync::atomic::AtomicBool;
    use crate::loom::sync::Arc;
    use futures_task::ArcWake;

    /// A waker that raises a flag. The flag lives outside the model (std types):
    /// `futures_task::waker` needs a std `Arc`.
    pub(crate) struct Flag(pub(crate) std::sync::atomic::AtomicBool);
    impl ArcWake for Flag {
        fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
            arc_self.0.store(true, SeqCst);
        }
    }

    /// A flag and the waker that raises it.
    pub(crate) fn flag_waker() -> (std::sync::Arc<Flag>, Waker) {
        let flag = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
        let waker = futures_task::waker(flag.clone());
        (flag, waker)
    }

    /// A wake racing a registration is never lost: either the waker is stored before `wake`
    /// takes it, or the registering side sees WAKING and wakes it.
    /// WAKEUPS.md, "The premise" (a wake reaches its waker).
    #[test]
    fn loom_register_vs_wake() {
        loom::model(|| {
            let aw = Arc::new(AtomicWaker::new());
            let done = Arc::new(AtomicBool::new(false));
            let (flag, waker) = flag_waker();
            let (aw2, done2) = (aw.clone(), done.clone());
            let t = loom::thread::spawn(move || {
                done2.store(true, SeqCst);
                aw2.wake();
            });
            aw.register(&waker);
            let seen = done.load(SeqCst);
            t.join().unwrap();
            // Either we saw completion after registering, or the waker fired.
            assert!(seen || flag.0.load(SeqCst));
        });
    }
}
