//! Per-thread context: which runtime this thread belongs to, and which P it holds.
//!
//! A wake from inside a task polled by an M goes to that M's P (runnext), Go's `ready()`; any
//! other wake goes to the global queue. The P index is set by `acquirep` and cleared by
//! `releasep`, so it is only ever the P this very thread owns.

use super::sched::Sched;
use crate::runtime::Handle;
use std::cell::{Cell, RefCell};
use std::ptr;

pub(crate) const NO_P: usize = usize::MAX;

pub(crate) struct Context {
    /// The scheduler whose M this thread is (null elsewhere).
    sched: Cell<*const Sched>,
    /// The P this M holds, or `NO_P`.
    p: Cell<usize>,
    /// The runtime `Handle::current()` returns here.
    handle: RefCell<Option<Handle>>,
    /// Inside `block_on` (nesting it would deadlock or starve).
    in_block_on: Cell<bool>,
    /// Set by `exit_syscall` when sysmon retook this M's P during a blocking section.
    lost_p: Cell<bool>,
    /// Readying a batch (netpoll events, due timers): wakes queue FIFO, not in runnext.
    batch: Cell<bool>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            sched: Cell::new(ptr::null()),
            p: Cell::new(NO_P),
            handle: RefCell::new(None),
            in_block_on: Cell::new(false),
            lost_p: Cell::new(false),
            batch: Cell::new(false),
        }
    };
}

/// The P this thread holds in `sched`, if it is one of its Ms.
#[inline]
pub(crate) fn current_p(sched: &Sched) -> Option<usize> {
    current_p_for_wake(sched).map(|(p, _)| p)
}

/// The P this thread holds in `sched`, and whether a wake now should go to runnext (false
/// while readying a batch of netpoll events or timers: those queue in order, as Go's
/// `injectglist` does, instead of each displacing the previous from runnext).
#[inline]
pub(crate) fn current_p_for_wake(sched: &Sched) -> Option<(usize, bool)> {
    CONTEXT
        .try_with(|c| {
            if ptr::eq(c.sched.get(), sched) && c.p.get() != NO_P {
                Some((c.p.get(), !c.batch.get()))
            } else {
                None
            }
        })
        .ok()
        .flatten()
}

/// Run `f` as a batch of wakes (see [`current_p_for_wake`]).
pub(crate) fn ready_batch<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let prev = self.0;
            let _ = CONTEXT.try_with(|c| c.batch.set(prev));
        }
    }
    let _reset = Reset(CONTEXT.with(|c| c.batch.replace(true)));
    f()
}

/// Run `f` with the scheduler and P this thread holds, if it is an M holding a P.
pub(crate) fn with_current_p<R>(f: impl FnOnce(&std::sync::Arc<Sched>, usize) -> R) -> Option<R> {
    CONTEXT
        .try_with(|c| {
            let p = c.p.get();
            if p == NO_P {
                return None;
            }
            let handle = c.handle.borrow();
            let h = handle.as_ref()?;
            ptr::eq(&*h.sched, c.sched.get()).then(|| f(&h.sched, p))
        })
        .ok()
        .flatten()
}

/// Run `f` with the scheduler this thread is an M of.
pub(crate) fn with_sched<R>(f: impl FnOnce(&Sched) -> R) -> Option<R> {
    CONTEXT
        .try_with(|c| {
            let handle = c.handle.borrow();
            let h = handle.as_ref()?;
            ptr::eq(&*h.sched, c.sched.get()).then(|| f(&h.sched))
        })
        .ok()
        .flatten()
}

/// The P this M held before a blocking section was retaken by sysmon.
pub(crate) fn set_lost_p() {
    CONTEXT.with(|c| c.lost_p.set(true));
}

/// True (once) if this M lost its P during the poll that just returned.
#[inline]
pub(crate) fn take_lost_p() -> bool {
    CONTEXT.with(|c| c.lost_p.replace(false))
}

/// Mark this thread as an M of `sched` (for its whole life).
pub(crate) fn enter_worker(sched: &Sched, handle: Handle) {
    CONTEXT.with(|c| {
        c.sched.set(sched);
        *c.handle.borrow_mut() = Some(handle);
    });
}

pub(crate) fn set_p(p: usize) {
    CONTEXT.with(|c| c.p.set(p));
}

pub(crate) fn current_handle() -> Option<Handle> {
    CONTEXT
        .try_with(|c| c.handle.borrow().clone())
        .ok()
        .flatten()
}

/// Restores the previous context when a `block_on` or `enter` ends.
pub(crate) struct EnterGuard {
    prev_handle: Option<Handle>,
    was_block_on: bool,
}

/// Enter `handle` on this thread; with `block_on`, panic if that would nest a blocking wait
/// inside a worker or another `block_on`.
pub(crate) fn enter(handle: &Handle, block_on: bool) -> EnterGuard {
    CONTEXT.with(|c| {
        if block_on {
            if !c.sched.get().is_null() {
                panic!(
                    "gmp: cannot call block_on from inside a gmp task: it would block an M that \
                     holds a P. Use `.await` instead (or spawn_blocking for blocking work)."
                );
            }
            if c.in_block_on.get() {
                panic!(
                    "gmp: cannot call block_on while this thread is already inside block_on; \
                     use `.await` instead."
                );
            }
        }
        let was_block_on = c.in_block_on.replace(block_on || c.in_block_on.get());
        let prev_handle = c.handle.replace(Some(handle.clone()));
        EnterGuard {
            prev_handle,
            was_block_on,
        }
    })
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev_handle.take();
        let was = self.was_block_on;
        let _ = CONTEXT.try_with(|c| {
            *c.handle.borrow_mut() = prev;
            c.in_block_on.set(was);
        });
    }
}
