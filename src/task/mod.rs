//! Tasks: [`JoinSet`], [`AbortHandle`], the running task's [`id()`], and the spawn functions
//! under tokio's names, so that `tokio::task::X` is `gmp::task::X`.
//!
//! | tokio | gmp |
//! |---|---|
//! | `tokio::task::spawn`, `spawn_blocking`, `block_in_place`, `yield_now` | the same names here (also at the crate root) |
//! | `tokio::task::{JoinHandle, JoinError, AbortHandle, JoinSet, Id}` | the same names here |
//! | `tokio::task::id()`, `try_id()` | [`id()`], [`try_id()`] |
//!
//! Not here: `spawn_local`/`LocalSet` (gmp has no single-threaded flavor; every task may move
//! between Ms) and `tokio::task::coop` (see [`crate::coop`]).
//!
//! ```
//! use gmp::task::{self, JoinSet};
//!
//! let rt = gmp::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let mut set = JoinSet::new();
//!     let expect = set.spawn(async { task::id() }).id();
//!     assert_eq!(set.join_next().await.unwrap().unwrap(), expect);
//! });
//! ```

mod join_set;
mod ready_list;

pub use crate::executor::task::AbortHandle;
pub use crate::executor::task::TaskId as Id;
pub use crate::executor::{yield_now, YieldNow};
pub use crate::{block_in_place, spawn, spawn_blocking, JoinError, JoinHandle};
pub use join_set::JoinSet;

/// The id of the task this code runs in (inside a task's poll, a `spawn_blocking` closure, or
/// a future's `Drop` when its task is aborted).
///
/// # Panics
/// Outside a task: in `block_on`'s own future, on a thread the runtime did not start, in a
/// runtime thread hook. Use [`try_id`] where that can happen.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = gmp::spawn(async { gmp::task::id() });
///     let id = h.id();
///     assert_eq!(h.await.unwrap(), id);
/// });
/// ```
#[track_caller]
pub fn id() -> Id {
    try_id().expect(
        "gmp: task::id() called outside a task (in block_on's own future or a thread that is \
         not running a task); use gmp::task::try_id() to check",
    )
}

/// The id of the task this code runs in, or `None` outside a task (see [`id`]).
///
/// ```
/// assert_eq!(gmp::task::try_id(), None);
/// let id = gmp::block_on(gmp::spawn(async { gmp::task::try_id() })).unwrap();
/// assert!(id.is_some());
/// ```
pub fn try_id() -> Option<Id> {
    crate::executor::task::current::try_id()
}
