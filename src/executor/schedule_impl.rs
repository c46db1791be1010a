//! The runtime's scheduler as a task's [`Schedule`]: what `task/` calls, mapped onto `Sched`.
//!
//! A task stores a [`SchedRef`] (one word, so the header plus it stay 80 bytes): a reference on
//! the runtime counted on the P that spawned or freed it, not on the `Arc`'s shared count
//! (`super::sched_ref`). Every method is a thin forward, inlined into the monomorphised task
//! code: a wake calls `Sched::ready` (Go's `ready`) directly.

use super::context;
use super::sched::Sched;
use super::sched_ref::SchedRef;
use super::task::first_poll::FirstPoll;
use super::task::gfree;
use super::task::owned::OwnedTasks;
use super::task::schedule::{Schedule, TaskAlloc};
use crate::loom::sync::atomic::Ordering::Acquire;
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::Arc;

/// The scheduler handle a runtime task stores.
pub(crate) type TaskSched = SchedRef;

/// A queue entry of the runtime's tasks.
pub(crate) type Notified = super::task::Notified<TaskSched>;

impl Schedule for SchedRef {
    #[inline]
    fn schedule(&self, task: Notified, is_yield: bool) {
        Sched::ready(self, task, is_yield)
    }

    #[inline]
    fn coarse_now(&self) -> u64 {
        Sched::coarse_now(self)
    }

    #[inline]
    fn now_ns(&self) -> u64 {
        self.reactor.now_ns()
    }

    #[inline]
    fn owned(&self) -> &OwnedTasks {
        &self.owned
    }

    #[inline]
    fn first_poll_record(&self, p: usize) -> &FirstPoll {
        &self.allp[p].first_poll
    }

    #[cold]
    fn first_poll_lost_returned(&self, id: u64) {
        crate::loom::lock(&self.lost_first_polls).retain(|t| t.id != id);
    }

    #[inline]
    fn current_p(&self) -> Option<usize> {
        context::current_p(self)
    }

    #[inline]
    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Acquire)
    }

    #[inline]
    fn alloc_task(&self, layout: Layout) -> TaskAlloc<SchedRef> {
        gfree::alloc_task(self, layout)
    }

    #[inline]
    unsafe fn free_task(self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: per the trait's contract, which is `gfree::free_task`'s.
        unsafe { gfree::free_task(self, ptr, layout) }
    }

    #[inline]
    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(self, other)
    }
}
