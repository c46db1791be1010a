//! Which task this thread is running right now (`gmp::task::id()`).
//!
//! A thread-local slot holds the id of the task being polled (or cancelled) on this thread.
//! Invariants:
//! - The runner sets it around each poll and each drop of a task's future, and restores the
//!   previous value afterwards (a guard, so a panic restores it too): the slot never names a
//!   task this thread is not inside.
//! - `block_on` (legal inside a blocking section) clears it for the future it polls: that
//!   future is not the task, so `try_id()` there is `None`, as in tokio.
//! - A const-initialised `Cell` of a `Copy` value: no destructor, no lazy registration, so a
//!   poll pays one thread-local load and two stores.

use super::TaskId;
use std::cell::Cell;

crate::loom::thread_local! {
    static CURRENT: Cell<Option<TaskId>> = const { Cell::new(None) };
}

/// Restores the previous current task when dropped.
pub(crate) struct CurrentGuard(Option<TaskId>);

/// Make `id` this thread's current task until the guard drops.
#[inline]
pub(crate) fn enter(id: Option<TaskId>) -> CurrentGuard {
    CurrentGuard(CURRENT.try_with(|c| c.replace(id)).ok().flatten())
}

impl Drop for CurrentGuard {
    #[inline]
    fn drop(&mut self) {
        let prev = self.0;
        let _ = CURRENT.try_with(|c| c.set(prev));
    }
}

/// The id of the task running on this thread, if any.
#[inline]
pub(crate) fn try_id() -> Option<TaskId> {
    CURRENT.try_with(Cell::get).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_nests_and_restores() {
        assert_eq!(try_id(), None);
        let a = TaskId::new(7);
        let b = TaskId::new(9);
        {
            let _g = enter(Some(a));
            assert_eq!(try_id(), Some(a));
            {
                let _h = enter(None);
                assert_eq!(try_id(), None);
                let _i = enter(Some(b));
                assert_eq!(try_id(), Some(b));
            }
            assert_eq!(try_id(), Some(a));
        }
        assert_eq!(try_id(), None);
    }
}
