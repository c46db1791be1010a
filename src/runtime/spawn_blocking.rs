//! `spawn_blocking`: the public entry to a blocking section run as a task (the mechanism is
//! `executor::syscall`); here because it falls back to the global runtime.

use crate::executor::syscall::BlockingTask;
use crate::runtime::Handle;
use crate::JoinHandle;
use std::panic::Location;

/// Run a blocking closure as a task in a blocking section, and await its result.
///
/// This is Go's syscall handoff, not a thread-pool hop: the closure runs on an M like any task
/// (so a short call costs about as much as a spawn), and only a call that is still running when
/// sysmon looks loses its P to another M. A panic in `f` comes back as a [`JoinError`] whose
/// `is_panic()` is true.
///
/// [`JoinError`]: crate::JoinError
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// let len = rt.block_on(async {
///     gmp::spawn_blocking(|| std::fs::read_to_string("Cargo.toml").map(|s| s.len()))
///         .await
///         .unwrap()
/// });
/// assert!(len.unwrap() > 0);
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let at = Location::caller();
    let handle = Handle::try_current().unwrap_or_else(|_| crate::runtime::global_handle().clone());
    handle.sched.spawn(BlockingTask::new(f), at)
}
