//! The `tokio-compat` bridge: a small tokio runtime beside a gmp runtime, entered on every gmp
//! thread that runs user code, so that tokio-bound libraries work inside gmp tasks. Also the
//! one-line hint added to a task's panic report when tokio found no runtime (feature or not).
//!
//! Invariants:
//! - One tokio multi-thread runtime per gmp runtime built with `tokio_compat(true)`: one
//!   worker thread named `<thread_name>-tokio`, IO and time drivers on. It is owned by the gmp
//!   runtime (in its `Config`) and shut down after the gmp runtime's Ms have stopped and its
//!   tasks have been dropped, so a task's tokio objects (sockets, timers) drop while the
//!   tokio side still runs.
//! - Every M enters the tokio context once, right after it became an M and before the start
//!   hook, and leaves it after the stop hook, on its own stack frame (`mstart`): tokio's
//!   `EnterGuard`s are dropped on the thread that made them, in LIFO order. Blocking sections
//!   run on Ms, so they are covered. `block_on` and `Runtime::enter` enter it for their own
//!   extent, nested inside whatever the thread had.
//! - The gmp runtime's shutdown (which drops its tasks on the dropping thread) runs inside
//!   the tokio context too, and the tokio runtime is shut down after it.
//! - Entering sets tokio's *handle* only (as `tokio::runtime::Handle::enter` does), not its
//!   "inside a runtime" flag: `tokio::spawn`, timers, sockets and `Handle::current()` work,
//!   and dropping the runtime from a gmp thread is allowed.

#[cfg(feature = "tokio-compat")]
use std::io;
#[cfg(feature = "tokio-compat")]
use std::sync::Mutex;

/// The tokio runtime beside a gmp runtime, if it was built with `tokio_compat(true)`.
#[derive(Default)]
pub(crate) struct Bridge {
    #[cfg(feature = "tokio-compat")]
    inner: Option<Inner>,
}

#[cfg(feature = "tokio-compat")]
struct Inner {
    handle: tokio::runtime::Handle,
    /// Taken by [`Bridge::shutdown`].
    rt: Mutex<Option<tokio::runtime::Runtime>>,
}

/// The tokio context entered by [`Bridge::enter`], left when dropped.
pub(crate) struct Entered<'a> {
    #[cfg(feature = "tokio-compat")]
    _guard: Option<tokio::runtime::EnterGuard<'a>>,
    _bridge: std::marker::PhantomData<&'a Bridge>,
}

impl Entered<'_> {
    /// Leave the tokio context now (what dropping the guard does).
    #[inline]
    pub(crate) fn leave(self) {}
}

impl Bridge {
    /// Start the tokio runtime: one worker thread, `<thread_name>-tokio`, all drivers on.
    #[cfg(feature = "tokio-compat")]
    pub(crate) fn start(thread_name: &str) -> io::Result<Bridge> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("{thread_name}-tokio"))
            .enable_all()
            .build()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("gmp: tokio_compat: could not start the tokio runtime: {e}"),
                )
            })?;
        Ok(Bridge {
            inner: Some(Inner {
                handle: rt.handle().clone(),
                rt: Mutex::new(Some(rt)),
            }),
        })
    }

    /// The tokio runtime's handle, if there is one.
    #[cfg(feature = "tokio-compat")]
    pub(crate) fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.inner.as_ref().map(|i| &i.handle)
    }

    /// Enter the tokio context on this thread (nothing without a bridge) until the guard drops.
    #[inline]
    pub(crate) fn enter(&self) -> Entered<'_> {
        Entered {
            #[cfg(feature = "tokio-compat")]
            _guard: self.inner.as_ref().map(|i| i.handle.enter()),
            _bridge: std::marker::PhantomData,
        }
    }

    /// Shut the tokio runtime down (once; later calls do nothing): like dropping a tokio
    /// `Runtime`, or `Runtime::shutdown_timeout` with a timeout. Called after gmp's own
    /// shutdown, so no gmp task still uses it.
    #[cfg_attr(not(feature = "tokio-compat"), allow(unused_variables))]
    pub(crate) fn shutdown(&self, timeout: Option<std::time::Duration>) {
        #[cfg(feature = "tokio-compat")]
        if let Some(inner) = &self.inner {
            let rt = inner.rt.lock().unwrap_or_else(|e| e.into_inner()).take();
            match (rt, timeout) {
                (Some(rt), Some(t)) => rt.shutdown_timeout(t),
                // tokio panics when a runtime is dropped where blocking is not allowed (inside
                // one of its own tasks); let its threads go in the background there.
                (Some(rt), None) if tokio::task::try_id().is_some() => rt.shutdown_background(),
                (Some(rt), None) => drop(rt),
                (None, _) => {}
            }
        }
    }
}

/// Shut `sched` down, then its tokio runtime. The tasks gmp drops here drop inside the tokio
/// context, so a future whose `Drop` needs it (sqlx's pooled connection spawns its return to
/// the pool) still finds it; the tokio runtime stops only after that.
pub(crate) fn shutdown_both(
    sched: &std::sync::Arc<crate::executor::sched::Sched>,
    timeout: Option<std::time::Duration>,
) {
    {
        let _tokio = sched.config.tokio.enter();
        sched.shutdown(timeout);
    }
    sched.config.tokio.shutdown(timeout);
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "tokio-compat")]
        let on = self.inner.is_some();
        #[cfg(not(feature = "tokio-compat"))]
        let on = false;
        f.debug_struct("Bridge").field("tokio", &on).finish()
    }
}

/// The line gmp adds to a task's panic report when the panic is tokio saying it found no
/// runtime: tokio's own words, "there is no reactor running" (timers, sockets) or "must be
/// called from the context of a Tokio 1.x runtime" (`tokio::spawn`, `Handle::current`).
pub(crate) fn panic_hint(message: &str) -> Option<&'static str> {
    const TOKIO_SAYS: [&str; 2] = [
        "there is no reactor running",
        "must be called from the context of a Tokio 1.x runtime",
    ];
    TOKIO_SAYS.iter().any(|s| message.contains(s)).then_some(
        "gmp: this is tokio code running in a gmp task without a tokio runtime: enable gmp's \
         `tokio-compat` feature and build the runtime with `Builder::tokio_compat(true)` (or \
         `#[gmp::main(tokio_compat = true)]`), or use gmp's counterpart; see MIGRATING.md",
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn hint_matches_tokios_messages_only() {
        let tokio_time = "there is no reactor running, must be called from the context of a \
                          Tokio 1.x runtime";
        assert!(super::panic_hint(tokio_time).is_some());
        assert!(
            super::panic_hint("must be called from the context of a Tokio 1.x runtime").is_some()
        );
        assert!(super::panic_hint("boom").is_none());
    }
}
