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

/// Threads: `std::thread`, or loom's under `--cfg loom`, with one API for both.
///
/// Loom's `JoinHandle` has no `is_finished`, so under loom [`thread::JoinHandle`] wraps it and
/// answers from a flag its thread sets as its closure returns (before the thread-locals are
/// destroyed, unlike std's; a model only uses it to reap handles). [`thread::Builder`] takes
/// `name` and `stack_size` under both (loom records and ignores them).
// Until the executor builds under loom, only the models use these.
#[allow(unused_imports, dead_code)]
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::{
        current, park, spawn, yield_now, Builder, JoinHandle, Thread, ThreadId,
    };

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, park, yield_now, Thread, ThreadId};

    #[cfg(loom)]
    pub(crate) use self::loom_impl::{spawn, Builder, JoinHandle};

    #[cfg(loom)]
    mod loom_impl {
        use std::io;
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        use std::sync::Arc;

        /// `std::thread::JoinHandle` over loom's, with `is_finished`.
        #[derive(Debug)]
        pub(crate) struct JoinHandle<T> {
            inner: loom::thread::JoinHandle<T>,
            /// Set by the thread as its closure returns. A std atomic, outside the model: loom
            /// runs one thread at a time, so reading it is deterministic for a given schedule.
            finished: Arc<AtomicBool>,
        }

        impl<T> JoinHandle<T> {
            pub(crate) fn join(self) -> std::thread::Result<T> {
                self.inner.join()
            }

            pub(crate) fn thread(&self) -> &loom::thread::Thread {
                self.inner.thread()
            }

            pub(crate) fn is_finished(&self) -> bool {
                self.finished.load(SeqCst)
            }
        }

        /// `std::thread::Builder` over loom's.
        #[derive(Debug)]
        pub(crate) struct Builder(loom::thread::Builder);

        impl Builder {
            #[allow(clippy::new_without_default)]
            pub(crate) fn new() -> Builder {
                Builder(loom::thread::Builder::new())
            }

            pub(crate) fn name(self, name: String) -> Builder {
                Builder(self.0.name(name))
            }

            pub(crate) fn stack_size(self, size: usize) -> Builder {
                Builder(self.0.stack_size(size))
            }

            /// Never fails under loom (loom panics past `loom::MAX_THREADS` threads instead).
            pub(crate) fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
            where
                F: FnOnce() -> T + Send + 'static,
                T: Send + 'static,
            {
                let finished = Arc::new(AtomicBool::new(false));
                let flag = finished.clone();
                let inner = self.0.spawn(move || {
                    let out = f();
                    flag.store(true, SeqCst);
                    out
                })?;
                Ok(JoinHandle { inner, finished })
            }
        }

        /// `std::thread::spawn` over loom's.
        pub(crate) fn spawn<F, T>(f: F) -> JoinHandle<T>
        where
            F: FnOnce() -> T + Send + 'static,
            T: Send + 'static,
        {
            Builder::new()
                .spawn(f)
                .expect("loom never refuses a thread")
        }
    }
}

/// `std::thread_local!`, or `loom::thread_local!` under loom, from one invocation:
/// `crate::loom::thread_local! { static X: T = const { init }; }` (or `= init;`).
///
/// Loom's macro (edition 2018) takes `$init:expr`, which does not match `const { .. }`: under
/// loom the `const` is dropped and the block becomes the lazy initialiser (loom initialises
/// every thread-local lazily, per loom thread, and drops it when that thread ends). The key is
/// a `loom::thread::LocalKey`, which has `with` and `try_with` as std's does (`try_with`'s
/// error is loom's `AccessError`, not std's: code that only calls `.ok()`, `.unwrap_or(..)`
/// or `.unwrap_or_else(|_| ..)` on it builds under both). Std-only `LocalKey` methods (`set`,
/// `get`, `take`, `replace`, `with_borrow*`) do not exist under loom.
#[cfg(not(loom))]
#[allow(unused_macros)]
macro_rules! thread_local_shim {
    ($($tt:tt)*) => {
        std::thread_local!($($tt)*);
    };
}

#[cfg(loom)]
#[allow(unused_macros)]
macro_rules! thread_local_shim {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block; $($rest:tt)*) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::loom::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const $init:block) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::loom::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    };
}

#[allow(unused_imports)]
pub(crate) use thread_local_shim as thread_local;

/// Time: `std::time::Instant`, or under loom a deterministic clock.
///
/// Loom replays each schedule and panics if a replay branches differently, so nothing that
/// runs under it may read the real clock. The loom [`time::Instant`] reads one clock per loom
/// execution (a `loom::lazy_static`, so every execution starts from the same reading), which
/// stands still until a model moves it with [`time::advance`]. Code that spins until time
/// passes (`while start.elapsed() < d {}`) therefore spins for ever under loom: it must not
/// run there. Only what the scheduler uses exists: `now`, `elapsed`, `duration_since`,
/// `saturating_duration_since`, `checked_duration_since`, `checked_add`, `checked_sub`, `+`,
/// `+=`, `-` (a `Duration` or an `Instant`), comparisons.
#[allow(unused_imports)]
pub(crate) mod time {
    #[cfg(not(loom))]
    pub(crate) use std::time::Instant;

    #[cfg(loom)]
    pub(crate) use self::loom_clock::{advance, Instant};

    #[cfg(loom)]
    mod loom_clock {
        use std::ops::{Add, AddAssign, Sub};
        use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
        use std::time::Duration;

        /// Where every execution's clock starts (ns): far enough from 0 that an instant a
        /// little in the past is representable.
        const START_NS: u64 = 1 << 40;

        loom::lazy_static! {
            /// The execution's clock (ns). A std atomic: loom runs one thread at a time, so
            /// its readings are deterministic for a schedule, and it adds no branch to explore.
            static ref NOW: AtomicU64 = AtomicU64::new(START_NS);
        }

        /// Move this execution's clock forward by `d`.
        #[allow(dead_code)]
        pub(crate) fn advance(d: Duration) {
            let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            let _ = NOW.fetch_update(SeqCst, SeqCst, |n| Some(n.saturating_add(d)));
        }

        /// A reading of the loom execution's clock (ns).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) struct Instant(u64);

        #[allow(dead_code)]
        impl Instant {
            pub(crate) fn now() -> Instant {
                Instant(NOW.load(SeqCst))
            }

            pub(crate) fn elapsed(&self) -> Duration {
                Instant::now().saturating_duration_since(*self)
            }

            pub(crate) fn duration_since(&self, earlier: Instant) -> Duration {
                self.saturating_duration_since(earlier)
            }

            pub(crate) fn saturating_duration_since(&self, earlier: Instant) -> Duration {
                Duration::from_nanos(self.0.saturating_sub(earlier.0))
            }

            pub(crate) fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
                self.0.checked_sub(earlier.0).map(Duration::from_nanos)
            }

            pub(crate) fn checked_add(&self, d: Duration) -> Option<Instant> {
                let d = u64::try_from(d.as_nanos()).ok()?;
                self.0.checked_add(d).map(Instant)
            }

            pub(crate) fn checked_sub(&self, d: Duration) -> Option<Instant> {
                let d = u64::try_from(d.as_nanos()).ok()?;
                self.0.checked_sub(d).map(Instant)
            }
        }

        impl Add<Duration> for Instant {
            type Output = Instant;
            fn add(self, d: Duration) -> Instant {
                self.checked_add(d)
                    .expect("overflow when adding duration to instant")
            }
        }

        impl AddAssign<Duration> for Instant {
            fn add_assign(&mut self, d: Duration) {
                *self = *self + d;
            }
        }

        impl Sub<Duration> for Instant {
            type Output = Instant;
            fn sub(self, d: Duration) -> Instant {
                self.checked_sub(d)
                    .expect("overflow when subtracting duration from instant")
            }
        }

        impl Sub<Instant> for Instant {
            type Output = Duration;
            fn sub(self, earlier: Instant) -> Duration {
                self.saturating_duration_since(earlier)
            }
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

/// A wake counter for the loom models' (and unit tests') wakers. It lives outside the model
/// (std types): `futures_task::waker` needs a std `Arc`.
#[cfg(test)]
pub(crate) struct WakeCount(pub(crate) std::sync::atomic::AtomicUsize);

#[cfg(test)]
impl futures_task::ArcWake for WakeCount {
    fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
        arc_self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A waker that counts its wakes, and its counter (whose strong count says whether the waker
/// still exists).
#[cfg(test)]
pub(crate) fn counting_waker() -> (std::sync::Arc<WakeCount>, std::task::Waker) {
    let count = std::sync::Arc::new(WakeCount(std::sync::atomic::AtomicUsize::new(0)));
    let waker = futures_task::waker(count.clone());
    (count, waker)
}

#[cfg(all(test, loom))]
mod tests {
    use super::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use super::sync::Arc;
    use super::{thread, time};
    use crate::executor::global_queue::GlobalQueue;
    use std::cell::Cell;
    use std::time::Duration;

    super::thread_local! {
        static CONST_INIT: Cell<usize> = const { Cell::new(7) };
        static LAZY_INIT: Cell<usize> = Cell::new(1);
    }

    /// The shims together: a named thread from the `Builder`, `is_finished` after `join`,
    /// per-thread `thread_local!` values (both initialiser forms, `with` and `try_with`), the
    /// loom global queue (a push from another thread is seen by `len`/`pop`), and the
    /// deterministic clock (stands still, moves by `advance` only).
    #[test]
    fn loom_shims() {
        loom::model(|| {
            let q = Arc::new(GlobalQueue::new());
            let seen = Arc::new(AtomicUsize::new(0));
            let (q2, seen2) = (q.clone(), seen.clone());
            let h = thread::Builder::new()
                .name("gmp-m0".to_string())
                .stack_size(1 << 20)
                .spawn(move || {
                    CONST_INIT.with(|c| c.set(c.get() + 1));
                    seen2.store(CONST_INIT.with(Cell::get), SeqCst);
                    q2.push(1u32);
                })
                .unwrap();
            let t0 = time::Instant::now();
            assert_eq!(CONST_INIT.try_with(Cell::get).ok(), Some(7));
            assert_eq!(LAZY_INIT.with(Cell::get), 1);
            let early = q.pop();
            h.join().unwrap();
            assert_eq!(seen.load(SeqCst), 8, "the other thread's own copy");
            assert_eq!(CONST_INIT.with(Cell::get), 7, "ours is untouched");
            assert_eq!(early.is_some() as usize + q.len(), 1);
            assert_eq!(q.is_empty(), early.is_some());
            assert_eq!(t0.elapsed(), Duration::ZERO);
            time::advance(Duration::from_micros(3));
            assert_eq!(t0.elapsed(), Duration::from_micros(3));
        });
    }

    /// `is_finished` turns true once the thread's closure has returned.
    #[test]
    fn loom_shims_is_finished() {
        loom::model(|| {
            let h = thread::spawn(|| ());
            while !h.is_finished() {
                thread::yield_now();
            }
            h.join().unwrap();
        });
    }
}
