//! What a task needs from its scheduler: the seam between `task/` and the executor.
//!
//! The task code (`core`, `raw`, `abort`, ...) is generic over a [`Schedule`]; the runtime's
//! scheduler implements it (`executor::schedule_impl`, for `Arc<Sched>`), and the loom models
//! implement it with a tiny queue (`loom_task`), so the real task code runs under loom.
//!
//! Only the typed parts of a task know `S`: the cell (`Cell<F, S>` stores one `S` right after
//! the header), its vtable functions, the waker's vtable, and the queue entry
//! ([`Notified<S>`](super::Notified)). `Header`, `JoinHandle` and `AbortHandle` stay untyped;
//! where they need the scheduler (a remote abort) they go through the header's vtable.
//!
//! Calls from the task into `S` are static (monomorphised): the wake path is
//! `waker_wake::<S>` calling `S::schedule` directly, with no allocation and no lock of its own.

use super::first_poll::FirstPoll;
use super::owned::OwnedTasks;
use super::{Notified, TaskId};
use std::alloc::Layout;
use std::ptr::NonNull;

/// A scheduler of tasks. A task stores one `Self` (a handle, e.g. an `Arc`) for its whole life,
/// so `Self` should be one word: the task's header and its scheduler share 80 bytes. The cell's
/// `Self` comes from [`alloc_task`](Schedule::alloc_task) with its memory and goes back with it
/// ([`free_task`](Schedule::free_task)): the runtime counts these references per P
/// (`executor::sched_ref`), so `Self` need not be `Clone`.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Go's `ready`: make a task runnable (the entry owns one reference). `is_yield`: the task
    /// woke itself during its own poll.
    ///
    /// Called with `&self` borrowed from the task's own cell only while the caller holds a
    /// reference of its own on the task; the runner re-queues through its M's own handle.
    fn schedule(&self, task: Notified<Self>, is_yield: bool);

    /// The scheduler's coarse clock (ns since its epoch), for state-change stamps.
    fn coarse_now(&self) -> u64;

    /// The precise clock, on the same epoch as `coarse_now`: read only to time a sampled
    /// runnable period (`executor::latency`).
    fn now_ns(&self) -> u64;

    /// The owned-task list (Go's `allgs`) tasks enter at their first poll.
    fn owned(&self) -> &OwnedTasks;

    /// The P this thread holds in this scheduler, if any (counts in the owned list).
    fn current_p(&self) -> Option<usize>;

    /// Whether the scheduler is shutting down (a spawn that sees it cancels its task at once).
    fn is_shutdown(&self) -> bool;

    /// Memory for a new task's cell of `layout` (never zero-sized), with the task's id, the
    /// P spawning it and the reference the cell will hold: one visit to the spawning P's owned
    /// half (id cache, free lists, reference count) per spawn, not one for each.
    fn alloc_task(&self, layout: Layout) -> TaskAlloc<Self>;

    /// Give back a task cell's memory, then the cell's own reference (`self`), which may be
    /// the last one on the scheduler.
    ///
    /// # Safety
    /// `ptr` came from `alloc_task` on this scheduler with the same `layout`, and is not used
    /// again; `self` is the reference that `alloc_task` gave with it.
    unsafe fn free_task(self, ptr: NonNull<u8>, layout: Layout);

    /// P `p`'s first-poll record (`first_poll`), which the runner of a task's first poll on
    /// `p` fills before the poll and empties after it.
    fn first_poll_record(&self, p: usize) -> &FirstPoll;

    /// The first poll of task `id` returned, but its record had been moved to the lost list
    /// (its P was handed off during the poll): drop it from there. Rare.
    fn first_poll_lost_returned(&self, id: u64);

    /// Whether `self` and `other` are the same scheduler (a debug check that a task is run by
    /// its own runtime).
    fn same(&self, _other: &Self) -> bool {
        true
    }
}

/// What [`Schedule::alloc_task`] gives a new task.
pub(crate) struct TaskAlloc<S> {
    /// Memory for the cell.
    pub(crate) mem: NonNull<u8>,
    /// The task's id.
    pub(crate) id: TaskId,
    /// The P whose M spawned it (`None`: spawned from outside the runtime's Ms), for the
    /// owned list's per-P spawn counts.
    pub(crate) p: Option<usize>,
    /// The reference on the scheduler the cell stores.
    pub(crate) sched: S,
}
