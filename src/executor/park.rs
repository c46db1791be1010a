//! Parking an M (Go's `notesleep`/`notewakeup` on `m.park`), also used by `block_on` threads.
//!
//! Invariant: an `unpark` that happens before or during `park` is never lost — it leaves the
//! state `NOTIFIED`, which the next `park` consumes and returns from at once. Spurious returns
//! are allowed; callers re-check their condition in a loop.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
        }
    }

    /// Block until `unpark` (possibly one that already happened).
    pub(crate) fn park(&self) {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        let mut guard = crate::loom::lock(&self.lock);
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(s) => unreachable!("gmp: parker in state {s} while parking"),
        }
        loop {
            guard = self.cvar.wait(guard).unwrap_or_else(|e| e.into_inner());
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Like `park`, but gives up after `timeout`. Returns true if woken by `unpark`.
    // (Under loom only the models use the parker, and none of them times out.)
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn park_timeout(&self, timeout: std::time::Duration) -> bool {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return true;
        }
        let guard = crate::loom::lock(&self.lock);
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                self.state.swap(EMPTY, SeqCst);
                return true;
            }
            Err(s) => unreachable!("gmp: parker in state {s} while parking"),
        }
        let (_guard, _) = self
            .cvar
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner());
        // Woken, timed out or spurious: leave PARKED either way, reporting a notification.
        self.state.swap(EMPTY, SeqCst) == NOTIFIED
    }

    /// Wake the parked thread, or make its next `park` return at once.
    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders us after the parker's `wait` started.
                drop(crate::loom::lock(&self.lock));
                self.cvar.notify_one();
            }
            s => unreachable!("gmp: parker in state {s} while unparking"),
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::loom::sync::atomic::AtomicBool;
    use crate::loom::sync::Arc;

    /// A condition set before `unpark` is always seen by the parked side: no lost wakeup,
    /// whichever of park and unpark runs first.
    /// WAKEUPS.md, "Parking an M" (the `Parker`).
    #[test]
    fn loom_park_unpark_no_lost_wakeup() {
        loom::model(|| {
            let parker = Arc::new(Parker::new());
            let ready = Arc::new(AtomicBool::new(false));
            let (p2, r2) = (parker.clone(), ready.clone());
            let t = loom::thread::spawn(move || {
                r2.store(true, SeqCst);
                p2.unpark();
            });
            while !ready.load(SeqCst) {
                parker.park();
            }
            t.join().unwrap();
        });
    }

    /// Two unparks and two parks: the second park still returns (state is not corrupted by a
    /// double notify).
    /// WAKEUPS.md, "Parking an M" (the `Parker`).
    #[test]
    fn loom_double_unpark() {
        loom::model(|| {
            let parker = Arc::new(Parker::new());
            let count = Arc::new(crate::loom::sync::atomic::AtomicUsize::new(0));
            let (p2, c2) = (parker.clone(), count.clone());
            let t = loom::thread::spawn(move || {
                for _ in 0..2 {
                    c2.fetch_add(1, SeqCst);
                    p2.unpark();
                }
            });
            while count.load(SeqCst) < 2 {
                parker.park();
            }
            t.join().unwrap();
        });
    }
}
