//! Synchronisation primitives, swapped for loom's under `--cfg loom`.
//!
//! Every lock-free protocol in gmp imports its atomics, locks and cells from here, so the same code
//! runs on real threads and under loom's exhaustive model checker (`RUSTFLAGS="--cfg loom" cargo
//! test --release --lib loom_`).

#[cfg(loom)]
pub(crate) use loom::sync;

#[cfg(loom)]
pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::*;
    }
}

#[cfg(not(loom))]
pub(crate) mod cell {
    /// `std::cell::UnsafeCell` with loom's closure-based API, so that loom can track each access.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Lock a mutex, ignoring poisoning: gmp never leaves shared state half-updated across a panic
/// (user code runs outside every lock), so a poisoned lock still guards consistent data.
pub(crate) fn lock<T>(m: &sync::Mutex<T>) -> sync::MutexGuard<'_, T> {
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
}

/// A wake counter for the loom models' wakers. It lives outside the model (std types):
/// `futures_task::waker` needs a std `Arc`.
#[cfg(all(test, loom))]
pub(crate) struct WakeCount(pub(crate) std::sync::atomic::AtomicUsize);

#[cfg(all(test, loom))]
impl futures_task::ArcWake for WakeCount {
    fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
        arc_self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A waker that counts its wakes, and its counter.
#[cfg(all(test, loom))]
pub(crate) fn counting_waker() -> (std::sync::Arc<WakeCount>, std::task::Waker) {
    let count = std::sync::Arc::new(WakeCount(std::sync::atomic::AtomicUsize::new(0)));
    let waker = futures_task::waker(count.clone());
    (count, waker)
}
