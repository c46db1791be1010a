//! Graceful shutdown for [`serve`](super::serve): the shutdown signal handlers can watch, and
//! the registry of live connections.
//!
//! Invariants:
//! - Every connection `serve` accepts in graceful mode is registered (by its socket's
//!   descriptor) before its task is spawned, and deregistered when its I/O object drops —
//!   which, for a connection upgraded to a WebSocket, is when the upgraded stream drops, not
//!   when hyper hands it over. So "every connection is done" includes upgraded ones.
//! - A registration is removed before its descriptor is closed (the guard is the first field
//!   of the I/O wrapper), so [`Shared::force_close`] never shuts down a descriptor number that
//!   has been reused.
//! - `trigger` happens once; every waiter registered before it is woken, and a waiter that
//!   registers after it sees the flag under the lock and completes at once (no lost wakeup).

use std::fmt;
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use slab::Slab;

/// The state one graceful `serve` shares with its connections and handlers.
pub(crate) struct Shared {
    /// Set once by `trigger`; read without the lock on the fast path.
    triggered: AtomicBool,
    state: Mutex<State>,
}

struct State {
    /// Futures waiting for `trigger` (connection tasks, handlers' `ShutdownSignal`s).
    waiters: Slab<Waker>,
    /// Live connections, by socket descriptor.
    conns: Slab<RawFd>,
    /// `serve`, waiting for `conns` to empty.
    drained: Option<Waker>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            triggered: AtomicBool::new(false),
            state: Mutex::new(State {
                waiters: Slab::new(),
                conns: Slab::new(),
                drained: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing here panics while holding the lock; recover anyway rather than cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start the graceful shutdown: wake every waiter.
    pub(crate) fn trigger(&self) {
        let wakers: Vec<Waker> = {
            let mut st = self.lock();
            self.triggered.store(true, Ordering::Release);
            st.waiters.drain().collect()
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Register a connection by its socket; the guard deregisters it on drop.
    pub(crate) fn register(self: &Arc<Self>, fd: RawFd) -> ConnGuard {
        let key = self.lock().conns.insert(fd);
        ConnGuard {
            shared: self.clone(),
            key,
        }
    }

    /// How many connections are still open.
    pub(crate) fn live(&self) -> usize {
        self.lock().conns.len()
    }

    /// Resolves when no connection is registered.
    pub(crate) fn poll_drained(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.lock();
        if st.conns.is_empty() {
            return Poll::Ready(());
        }
        st.drained = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The grace period is over: shut every remaining socket down in both directions. Their
    /// readers and writers wake with end-of-file or an error and end; what still holds an
    /// upgraded stream sees it on its next read or write.
    pub(crate) fn force_close(&self) -> usize {
        let st = self.lock();
        for (_, &fd) in st.conns.iter() {
            // SAFETY: `fd` is open: its guard removes it from `conns` (under this lock)
            // before the socket is closed. `shutdown` only changes the socket's state.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
        st.conns.len()
    }
}

/// Keeps one connection registered; dropping it deregisters it.
pub(crate) struct ConnGuard {
    shared: Arc<Shared>,
    key: usize,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.shared.lock();
            st.conns.remove(self.key);
            if st.conns.is_empty() {
                st.drained.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Tells a handler that the server is shutting down gracefully: [`serve`](super::serve)
/// puts one in every request's extensions when it runs
/// [`with_graceful_shutdown`](super::Serve::with_graceful_shutdown).
///
/// In-flight requests finish on their own; a long-lived connection — a WebSocket, a
/// server-sent event stream — is the handler's to end: wait for
/// [`triggered`](Self::triggered) beside the traffic and close it (a WebSocket with a Close
/// frame). Go's `http.Server` leaves hijacked connections alone on `Shutdown` and offers
/// `RegisterOnShutdown` for this; gmp's `serve` also waits for upgraded connections (within
/// the grace period), so telling them matters.
///
/// In an axum handler: `Extension(signal): Extension<gmp::hyper::ShutdownSignal>`. Only a
/// graceful `serve` inserts it (a plain one has no shutdown to announce, and its requests
/// carry no extra extension); a handler used under both takes
/// `Option<Extension<ShutdownSignal>>`.
///
/// ```
/// use gmp::hyper::ShutdownSignal;
///
/// async fn stream_until_shutdown(signal: ShutdownSignal) {
///     let mut ticks = gmp::time::interval(std::time::Duration::from_millis(100));
///     loop {
///         if signal.is_triggered() {
///             break; // say goodbye to the client here
///         }
///         ticks.tick().await; // or: race `signal.triggered()` against the next message
///     }
/// }
/// # let _ = stream_until_shutdown;
/// ```
#[derive(Clone)]
pub struct ShutdownSignal {
    shared: Arc<Shared>,
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

impl ShutdownSignal {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        ShutdownSignal {
            shared: shared.clone(),
        }
    }

    /// Whether the graceful shutdown has started.
    ///
    /// ```
    /// # fn f(signal: gmp::hyper::ShutdownSignal) {
    /// if signal.is_triggered() {
    ///     // finish up, don't start anything long
    /// }
    /// # }
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.shared.triggered.load(Ordering::Acquire)
    }

    /// A future that resolves once the graceful shutdown has started (at once if it has).
    /// It owns what it needs, so it can move into a spawned task or a `select!`.
    ///
    /// ```
    /// # async fn f(signal: gmp::hyper::ShutdownSignal) {
    /// signal.triggered().await; // the server is shutting down: close the WebSocket
    /// # }
    /// ```
    pub fn triggered(&self) -> Triggered {
        Triggered {
            shared: self.shared.clone(),
            registered: None,
        }
    }
}

/// The future of [`ShutdownSignal::triggered`]: resolves once the graceful shutdown has
/// started. Cheap to poll again with the same waker (no lock).
///
/// ```
/// # async fn handler(signal: gmp::hyper::ShutdownSignal) {
/// let triggered: gmp::hyper::Triggered = signal.triggered();
/// gmp::spawn(async move {
///     triggered.await;
///     println!("shutting down");
/// });
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Triggered {
    shared: Arc<Shared>,
    /// The slot and the waker registered in it.
    registered: Option<(usize, Waker)>,
}

impl fmt::Debug for Triggered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triggered").finish_non_exhaustive()
    }
}

impl Triggered {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        ShutdownSignal::new(shared).triggered()
    }
}

impl Future for Triggered {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.shared.triggered.load(Ordering::Acquire) {
            this.registered = None; // `trigger` drained the slab
            return Poll::Ready(());
        }
        // Fast path: a connection task is polled for every request, always with the same
        // waker; only a new waker takes the lock.
        if let Some((_, w)) = &this.registered {
            if w.will_wake(cx.waker()) {
                return Poll::Pending;
            }
        }
        let mut st = this.shared.lock();
        if this.shared.triggered.load(Ordering::Acquire) {
            this.registered = None;
            return Poll::Ready(());
        }
        let waker = cx.waker().clone();
        match &mut this.registered {
            Some((key, w)) => {
                st.waiters[*key] = waker.clone();
                *w = waker;
            }
            None => {
                let key = st.waiters.insert(waker.clone());
                this.registered = Some((key, waker));
            }
        }
        Poll::Pending
    }
}

impl Drop for Triggered {
    fn drop(&mut self) {
        if let Some((key, _)) = self.registered.take() {
            let mut st = self.shared.lock();
            // After `trigger` the slab was drained (and the key may be reused): only remove
            // before it.
            if !self.shared.triggered.load(Ordering::Acquire) {
                st.waiters.try_remove(key);
            }
        }
    }
}
