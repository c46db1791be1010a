//! # gmp — Go's G/M/P scheduler as a Rust async runtime
//!
//! - **G** — a task: a spawned `Future`, one heap allocation; its `Waker` is a pointer to it.
//! - **M** — a machine: an OS thread. Ms are created on demand (up to `max_threads`).
//! - **P** — a processor: the right to run Gs. There are `procs` Ps (env `GMAXPROCS`, default
//!   the CPU count, lowered to a container's cgroup CPU limit as Go 1.25 does); an M runs Gs only while holding a P, so at most `procs` Gs run at once.
//!
//! Each P owns a 256-slot ring plus a `runnext` slot. A spawned or woken G goes to its P's
//! runnext (it runs next, inheriting the time slice); the G it displaces goes to the ring. A full
//! ring moves half of itself to the global queue in one batch. An M out of work takes a share
//! of the global queue, then steals half of a random victim's ring; every 61st tick it checks
//! the global queue first, so nothing starves. Idle Ms park; `wakep` starts one spinning M when
//! new work appears and none is looking, and a spinning M that finds work wakes the next.
//!
//! ```
//! #[gmp::main(procs = 2)]
//! async fn main() {
//!     let handles: Vec<_> = (0..100).map(|i| gmp::spawn(async move { i * 2 })).collect();
//!     let mut total = 0;
//!     for h in handles {
//!         total += h.await.unwrap();
//!     }
//!     assert_eq!(total, 9900);
//! }
//! ```
//!
//! Module map: `executor` (G, P, M, the scheduler), `runtime` (Runtime, Builder, Handle),
//! `reactor` (netpoll) and `sysmon` (the monitor thread).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
// Under loom only the model tests use the library, and only in part.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod executor;
#[cfg(not(loom))]
pub mod fs;
#[cfg(all(feature = "hyper", not(loom)))]
pub mod hyper;
#[cfg(not(loom))]
pub mod io;
mod loom;
#[cfg(all(test, loom))]
mod loom_sched;
#[cfg(not(loom))]
pub mod net;
/// The OS-specific calls (Linux, with fallbacks elsewhere), behind one module.
mod platform;
#[cfg(not(loom))]
pub mod process;
/// Under loom the reactor is a deterministic stand-in for netpoll (`reactor::loom_netpoll`),
/// and until the executor builds under loom only the models use it.
#[cfg_attr(loom, allow(dead_code, unused_imports))]
mod reactor;
mod runtime;
#[cfg(not(loom))]
pub mod signal;
mod sysmon;
#[cfg(not(loom))]
pub mod task;
#[cfg(not(loom))]
pub mod time;
#[cfg(all(feature = "tokio-compat", not(loom)))]
pub mod tokio_compat;
pub use executor::coop;

pub use executor::syscall::block_in_place;
pub use executor::task::{JoinError, JoinHandle, TaskId};
pub use executor::{yield_now, YieldNow};
#[cfg(not(loom))]
pub use gmp_macros::{main, test};
pub use runtime::{
    spawn_blocking, Builder, EnterGuard, Handle, LatencyBucket, LeakReport, ProcMetrics, Runtime,
    RuntimeMetrics, SchedLatency, TaskDump, TaskInfo, TaskState, TraceEvent, TraceEventKind,
    TraceSnapshot, TryCurrentError,
};

use std::future::Future;

/// Spawn a task on the current runtime — the one whose task or `block_on` is running on this
/// thread — or else on the global runtime, which starts on first use (Go always has one).
///
/// The task starts running at once, in parallel with the caller; await the returned
/// [`JoinHandle`] for its output, or drop it to detach the task.
///
/// ```
/// // Outside any runtime: the global one runs it.
/// let h = gmp::spawn(async { 40 + 2 });
/// assert_eq!(gmp::block_on(h).unwrap(), 42);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let at = std::panic::Location::caller();
    executor::context::with_spawn_sched(|sched| match sched {
        Some(sched) => sched.spawn(future, at),
        None => runtime::global_handle().sched.spawn(future, at),
    })
}

/// Run a future to completion on this thread, on the current runtime or else the global one.
///
/// # Panics
/// Inside a task or inside another `block_on` (it would block a thread the runtime needs),
/// except inside a blocking section (`spawn_blocking`, `block_in_place`), where it runs on
/// the task's runtime as in tokio.
///
/// ```
/// assert_eq!(gmp::block_on(async { 7 }), 7);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    match Handle::try_current().ok() {
        Some(h) => h.block_on(future),
        None => runtime::global_handle().block_on(future),
    }
}

/// Used by `#[gmp::main(tokio_compat = true)]` and `#[gmp::test(tokio_compat = true)]`:
/// nothing with the `tokio-compat` feature, a clear compile error without it.
#[cfg(feature = "tokio-compat")]
#[doc(hidden)]
#[macro_export]
macro_rules! __tokio_compat_check {
    () => {};
}

/// Used by `#[gmp::main(tokio_compat = true)]` and `#[gmp::test(tokio_compat = true)]`:
/// nothing with the `tokio-compat` feature, a clear compile error without it.
#[cfg(not(feature = "tokio-compat"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tokio_compat_check {
    () => {
        ::core::compile_error!(
            "`tokio_compat = true` needs gmp's `tokio-compat` feature: \
             gmp = { version = \"0.1\", features = [\"tokio-compat\"] } (see MIGRATING.md)"
        );
    };
}
