//! Runtime thread hooks: user callbacks when an M starts, stops, parks and unparks
//! (`Builder::on_thread_start`, `on_thread_stop`, `on_thread_park`, `on_thread_unpark`).
//!
//! Invariants:
//! - Start and stop run on every M, blocking ones included (a blocking section runs on an
//!   ordinary M), exactly once each per thread: start after the thread became an M of its
//!   runtime (so `Handle::current()` works in it), stop before the M leaves the runtime's
//!   thread count, so that once a `Runtime` has dropped every stop hook has returned (except
//!   on an M left behind by `shutdown_timeout`).
//! - sysmon gets none of them: it is the runtime's own monitor, runs no task and no user code,
//!   and a hook that blocked there would stall preemption, handoff and the netpoll fallback
//!   for every M.
//! - Park runs before an M waits for work (on its idle-list parker, or blocked in netpoll),
//!   unpark after it wakes, in pairs.
//! - A panicking hook is caught: the M carries on as if the hook had returned, and the first
//!   panic of each kind is reported once on stderr.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// A user callback.
pub(crate) type Hook = Arc<dyn Fn() + Send + Sync + 'static>;

/// Which hook.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Start = 0,
    Stop = 1,
    Park = 2,
    Unpark = 3,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Start => "on_thread_start",
            Kind::Stop => "on_thread_stop",
            Kind::Park => "on_thread_park",
            Kind::Unpark => "on_thread_unpark",
        }
    }
}

/// The four hooks of a runtime (each optional).
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    hooks: [Option<Hook>; 4],
    /// A panic of each kind already reported.
    reported: Arc<[AtomicBool; 4]>,
}

impl Hooks {
    pub(crate) fn set_start(&mut self, f: Hook) {
        self.hooks[Kind::Start as usize] = Some(f);
    }
    pub(crate) fn set_stop(&mut self, f: Hook) {
        self.hooks[Kind::Stop as usize] = Some(f);
    }
    pub(crate) fn set_park(&mut self, f: Hook) {
        self.hooks[Kind::Park as usize] = Some(f);
    }
    pub(crate) fn set_unpark(&mut self, f: Hook) {
        self.hooks[Kind::Unpark as usize] = Some(f);
    }

    /// This thread just became an M.
    pub(crate) fn thread_start(&self) {
        self.call(Kind::Start);
    }

    /// This M is about to end.
    pub(crate) fn thread_stop(&self) {
        self.call(Kind::Stop);
    }

    /// This M is about to wait for work; the unpark hook runs when the guard drops.
    #[inline]
    pub(crate) fn park(&self) -> Parked<'_> {
        self.call(Kind::Park);
        Parked(self)
    }

    #[inline]
    fn call(&self, kind: Kind) {
        if let Some(f) = &self.hooks[kind as usize] {
            self.call_caught(kind, f);
        }
    }

    #[cold]
    fn call_caught(&self, kind: Kind, f: &Hook) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f())) {
            if !self.reported[kind as usize].swap(true, Relaxed) {
                let msg = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("a non-string payload");
                crate::executor::wake::report_line(format!(
                    "gmp: the {} hook panicked ({msg}); the panic was caught and the thread \
                     carries on (reported once)",
                    kind.name()
                ));
            }
            // The payload's own Drop could panic too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(panic)));
        }
    }
}

/// Runs the unpark hook when dropped (see [`Hooks::park`]).
pub(crate) struct Parked<'a>(&'a Hooks);

impl Drop for Parked<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.call(Kind::Unpark);
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set: Vec<&str> = [Kind::Start, Kind::Stop, Kind::Park, Kind::Unpark]
            .into_iter()
            .filter(|k| self.hooks[*k as usize].is_some())
            .map(Kind::name)
            .collect();
        f.debug_tuple("Hooks").field(&set).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    #[test]
    fn calls_in_pairs_and_survives_a_panic() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut h = Hooks::default();
        let c = n.clone();
        h.set_park(Arc::new(move || {
            c.fetch_add(1, SeqCst);
        }));
        let c = n.clone();
        h.set_unpark(Arc::new(move || {
            c.fetch_add(10, SeqCst);
        }));
        h.set_start(Arc::new(|| panic!("start hook")));
        drop(h.park());
        assert_eq!(n.load(SeqCst), 11);
        h.thread_start(); // caught
        h.thread_start(); // caught, not reported again
        assert!(h.reported[Kind::Start as usize].load(SeqCst));
        h.thread_stop(); // none set: nothing
        assert_eq!(
            format!("{h:?}"),
            r#"Hooks(["on_thread_start", "on_thread_park", "on_thread_unpark"])"#
        );
    }
}
