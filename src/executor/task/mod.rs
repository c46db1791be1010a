//! G: a spawned future in one heap allocation.
//!
//! A task is a `Header` (state word, vtable, id, scheduler, join waker, spawn location, dump
//! times, poll count; 80 bytes on 64-bit targets) followed by the future's stage: the future,
//! then its output, in an untagged union (the tag is two bits of the poll count). Everything
//! that refers to a task holds a counted `NonNull<Header>`:
//! - [`Notified`]: a queue entry (ring slot, runnext, global injector); running it consumes it.
//! - [`JoinHandle`]: the spawner's handle on the output.
//! - [`AbortHandle`]: the right to cancel, without the output (any number of them).
//! - a `Waker`: the header pointer itself, so waking allocates nothing and takes no lock.
//! - the owned-task list ([`owned::OwnedTasks`], Go's `allgs`), entered when the first poll
//!   returns `Pending`, so shutdown reaches every task (those never polled through the run
//!   queues); a task in its first poll is shown to dumps by [`first_poll`]'s record.
//!
//! The lifecycle lives in [`state`]; its invariants are listed there.
//!
//! The task code is generic over its scheduler ([`schedule::Schedule`]): the runtime's `Sched`
//! implements it (`executor::schedule_impl`), and so does the loom models' tiny queue, so the
//! real task code (not a copy) runs under loom (`loom_task`).

// `allow(dead_code)` under loom: there only the models use these, and only in part.
#[cfg_attr(loom, allow(dead_code))]
mod abort;
pub(crate) mod atomic_waker;
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod core;
pub(crate) mod current;
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod first_poll;
/// Per-P free lists of task memory: the runtime's `Schedule::alloc_task`.
pub(crate) mod gfree;
#[cfg_attr(loom, allow(dead_code))]
mod join;
#[cfg(all(test, loom))]
mod loom_task;
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod owned;
#[cfg_attr(loom, allow(dead_code))]
mod raw;
pub(crate) mod schedule;
pub(crate) mod state;

pub use abort::AbortHandle;
pub use join::{JoinError, JoinHandle};
pub use raw::TaskId;
pub(crate) use raw::{new_task, shutdown, shutdown_queued, Notified};
