//! `Runtime`, `Builder`, `Handle`, metrics, and the lazily started global runtime.

//!
//! This module is built on the executor and sysmon; they never import from it. The types the
//! executor fills or reads — [`RuntimeMetrics`], the `GMPDEBUG` flags, the M hooks, the tokio
//! bridge — live in the executor and are re-exported here.

mod builder;
mod cgroup;
mod dump;
#[cfg(feature = "executor-trait")]
mod executor_trait;
mod global;
mod handle;
mod spawn_blocking;
mod trace;

pub use crate::executor::latency::{LatencyBucket, SchedLatency};
pub use crate::executor::metrics::{ProcMetrics, RuntimeMetrics};
pub use crate::executor::trace::snapshot::{TraceEvent, TraceEventKind, TraceSnapshot};
pub use builder::Builder;
pub use dump::{LeakReport, TaskDump, TaskInfo, TaskState};
pub use handle::{Handle, TryCurrentError};
pub use spawn_blocking::spawn_blocking;

pub(crate) use crate::executor::debug::DebugFlags;
pub(crate) use crate::executor::hooks::Hooks;
pub(crate) use crate::executor::tokio_bridge::Bridge as TokioBridge;
pub(crate) use dump::{dump, leaked};
pub(crate) use global::global_handle;
pub(crate) use trace::schedtrace;

use crate::executor::context;
use crate::executor::sched::Sched;
use crate::executor::task::JoinHandle;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// A gmp runtime: `procs` Ps, the Ms that run them, and the queues between.
///
/// Dropping it stops every M (each finishes the poll it is in), then drops every task exactly
/// once — queued, waiting on a waker or never started — and joins the threads. Wakers that
/// outlive the runtime stay harmless: waking a task of a dead runtime does nothing.
///
/// ```
/// let rt = gmp::Runtime::new()?;
/// let sum = rt.block_on(async {
///     let handles: Vec<_> = (0..10u64).map(|i| gmp::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for h in handles {
///         sum += h.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 285);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    handle: Handle,
}

/// Returned by [`Runtime::enter`]; leaves the runtime's context when dropped.
#[must_use = "the runtime context is left when this guard is dropped"]
pub struct EnterGuard<'a> {
    // Declared first: dropped first (the tokio context was entered last).
    _tokio: crate::executor::tokio_bridge::Entered<'a>,
    _inner: context::EnterGuard,
    _rt: std::marker::PhantomData<&'a Runtime>,
}

impl Runtime {
    /// A runtime with default settings (see [`Builder::new`]).
    ///
    /// # Errors
    /// When `GMAXPROCS` is set to something other than a positive integer.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_sched(sched: Arc<Sched>) -> Runtime {
        Runtime {
            handle: Handle { sched },
        }
    }

    /// Run a future to completion on the current thread (see [`Handle::block_on`]).
    ///
    /// # Panics
    /// When called from inside a task or inside another `block_on`.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawn a task (see [`Handle::spawn`]).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.sched.spawn(future, Location::caller())
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Make this runtime the current one on this thread until the guard drops, so that
    /// `gmp::spawn` and `Handle::current` find it.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let _guard = rt.enter();
    /// let h = gmp::spawn(async { 5 });
    /// assert_eq!(rt.block_on(h).unwrap(), 5);
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        let inner = context::enter(&self.handle.sched, false);
        EnterGuard {
            _tokio: self.handle.sched.config.tokio.enter(),
            _inner: inner,
            _rt: std::marker::PhantomData,
        }
    }

    /// Shut down, waiting at most `timeout` for the Ms to finish the polls they are in. Tasks
    /// are dropped as on `Drop`; an M stuck in a poll past the timeout is left behind, and its
    /// task is cancelled when that poll returns.
    pub fn shutdown_timeout(self, timeout: Duration) {
        crate::executor::tokio_bridge::shutdown_both(&self.handle.sched, Some(timeout));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        crate::executor::tokio_bridge::shutdown_both(&self.handle.sched, None);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("procs", &self.handle.sched.procs())
            .finish()
    }
}
