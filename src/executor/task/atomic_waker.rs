//! A single-slot waker cell for the join handle: one registering side, any number of wakers.
//!
//! Protocol (two bits): `REGISTERING` is held by `register` while it writes the slot, `WAKING`
//! by `take` while it empties it. A `take` that finds `REGISTERING` leaves `WAKING` set; the
//! registering thread sees it when it releases and wakes the new waker itself, so a wake that
//! races a registration is never lost.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::task::Waker;

const WAITING: usize = 0;
const REGISTERING: usize = 1;
const WAKING: usize = 2;

pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the slot is only read or written by the thread that won REGISTERING or WAKING.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Store `waker` to be woken by the next `wake`. Must not be called concurrently with itself.
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {
                // SAFETY: we hold REGISTERING; `take` does not touch the slot meanwhile.
                let old = self.waker.with_mut(|slot| unsafe {
                    match &*slot {
                        Some(w) if w.will_wake(waker) => None,
                        _ => (*slot).replace(waker.clone()),
                    }
                });
                if self
                    .state
                    .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
                    .is_err()
                {
                    // A wake arrived while we registered: deliver it ourselves.
                    // SAFETY: WAKING is set alongside REGISTERING, so `take` backed off.
                    let w = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                    self.state.swap(WAITING, AcqRel);
                    if let Some(w) = w {
                        w.wake();
                    }
                }
                drop(old);
            }
            Err(WAKING) => waker.wake_by_ref(),
            Err(_) => {} // concurrent register: a contract violation we tolerate by ignoring it
        }
    }

    /// Remove the stored waker, if no registration is in flight.
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            WAITING => {
                // SAFETY: we hold WAKING and no registration is in flight.
                let w = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                self.state.fetch_and(!WAKING, Release);
                w
            }
            _ => None,
        }
    }

    /// Wake the stored waker. It may be another executor's: a panic in it is caught and
    /// reported (see [`wake_caught`](crate::executor::wake::wake_caught)), never unwound into
    /// the M or sysmon calling this.
    pub(crate) fn wake(&self) {
        if let Some(w) = self.take() {
            crate::executor::wake::wake_caught(w);
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::loom::sync::atomic::AtomicBool;
    use crate::loom::sync::Arc;
    use futures_task::ArcWake;

    // The flag lives outside the model (std types): `futures_task::waker` needs a std `Arc`.
    struct Flag(std::sync::atomic::AtomicBool);
    impl ArcWake for Flag {
        fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
            arc_self.0.store(true, SeqCst);
        }
    }

    /// A wake racing a registration is never lost: either the waker is stored before `wake`
    /// takes it, or the registering side sees WAKING and wakes it.
    #[test]
    fn loom_register_vs_wake() {
        loom::model(|| {
            let aw = Arc::new(AtomicWaker::new());
            let done = Arc::new(AtomicBool::new(false));
            let flag = std::sync::Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
            let waker = futures_task::waker(flag.clone());
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
