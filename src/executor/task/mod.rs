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
//! - the owned-task list ([`owned::OwnedTasks`], Go's `allgs`), entered at the first poll, so
//!   shutdown reaches every task (those never polled through the run queues).
//!
//! The lifecycle lives in [`state`]; its invariants are listed there.

#[cfg(not(loom))]
mod abort;
pub(crate) mod atomic_waker;
#[cfg(not(loom))]
pub(crate) mod core;
#[cfg(not(loom))]
pub(crate) mod current;
#[cfg(not(loom))]
pub(crate) mod gfree;
#[cfg(not(loom))]
mod join;
#[cfg(not(loom))]
pub(crate) mod owned;
#[cfg(not(loom))]
mod raw;
#[cfg(all(test, loom))]
mod spawn_vs_shutdown;
pub(crate) mod state;

#[cfg(not(loom))]
pub use abort::AbortHandle;
#[cfg(not(loom))]
pub use join::{JoinError, JoinHandle};
#[cfg(not(loom))]
pub use raw::TaskId;
#[cfg(not(loom))]
pub(crate) use raw::{new_task, shutdown, shutdown_queued, Notified};
