//! `Handle`: a cloneable reference to a runtime, usable from any thread.

use super::RuntimeMetrics;
use crate::executor::context;
use crate::executor::park::Parker;
use crate::executor::sched::Sched;
use crate::executor::task::JoinHandle;
use crate::loom::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

/// A handle to a runtime: spawn onto it, block on it, read its metrics. Cheap to clone.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// std::thread::spawn(move || {
///     let h = handle.spawn(async { "from another thread" });
///     handle.block_on(h).unwrap()
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) sched: Arc<Sched>,
}

/// [`Handle::try_current`] found no runtime on this thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "gmp: no runtime on this thread (call from inside a task, Runtime::block_on, or \
             after Runtime::enter)",
        )
    }
}

impl std::error::Error for TryCurrentError {}

/// The waker of a `block_on` thread. While the thread is parked (`IDLE`), it is not counted
/// as running on its runtime (virtual time may jump); whoever wakes it counts it again first
/// (see `reactor::clock`). A wake while it runs (`NOTIFIED`) keeps it from going idle.
struct ThreadWaker {
    parker: Parker,
    state: AtomicU8,
    sched: Weak<Sched>,
}

const RUNNING: u8 = 0;
const IDLE: u8 = 1;
const NOTIFIED: u8 = 2;

impl futures_task::ArcWake for ThreadWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        let prev = arc_self.state.fetch_update(SeqCst, SeqCst, |s| match s {
            RUNNING => Some(NOTIFIED),
            IDLE => Some(RUNNING),
            _ => None,
        });
        if prev == Ok(IDLE) {
            if let Some(s) = arc_self.sched.upgrade() {
                s.reactor.clock.active_inc();
            }
        }
        arc_self.parker.unpark();
    }
}

/// Counts a `block_on` thread as a running participant of its runtime until dropped.
struct Participant<'a> {
    sched: &'a Arc<Sched>,
    waker: &'a ThreadWaker,
}

impl Participant<'_> {
    /// Park until woken, counted idle meanwhile (unless already woken).
    fn park(&self) {
        let state = &self.waker.state;
        if state
            .compare_exchange(RUNNING, IDLE, SeqCst, SeqCst)
            .is_err()
        {
            // Woken while running: poll again at once, still counted.
            state.store(RUNNING, SeqCst);
            return;
        }
        if self.sched.reactor.clock.active_dec() {
            self.sched.kick_auto_advance();
        }
        self.waker.parker.park();
        if state
            .compare_exchange(IDLE, RUNNING, SeqCst, SeqCst)
            .is_ok()
        {
            // Not woken through the waker (a spurious return): count ourselves.
            self.sched.reactor.clock.active_inc();
        } else {
            // The waker counted us; a wake since then is seen by the next poll anyway.
            state.store(RUNNING, SeqCst);
        }
    }
}

impl Drop for Participant<'_> {
    fn drop(&mut self) {
        if self.sched.reactor.clock.active_dec() {
            self.sched.kick_auto_advance();
        }
    }
}

impl Handle {
    /// The runtime of the current task or `block_on` call.
    ///
    /// # Panics
    /// Outside any runtime; see [`try_current`](Self::try_current).
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The runtime of the current task or `block_on` call, if any.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current_sched()
            .map(|sched| Handle { sched })
            .ok_or(TryCurrentError(()))
    }

    /// Spawn a task onto this runtime. From one of its Ms the task goes to that M's P;
    /// from anywhere else to the global queue.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.sched.spawn(future, Location::caller())
    }

    /// Run `future` to completion on this thread, which parks while the future waits. The
    /// future need not be `Send`. Tasks it spawns run on the runtime's Ms.
    ///
    /// Inside a blocking section ([`spawn_blocking`](crate::spawn_blocking),
    /// [`block_in_place`](crate::block_in_place)) it works, as in tokio: that thread holds no P,
    /// and the tasks it wakes or spawns go to the global queue for the Ms that hold one.
    ///
    /// # Panics
    /// When called from inside a task (an M) outside a blocking section, or nested inside
    /// another `block_on` outside a blocking section: either would block a thread the runtime
    /// needs. Use `.await` there.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let handle = rt.handle().clone();
    /// let out = rt.block_on(async move {
    ///     gmp::spawn_blocking(move || handle.block_on(async { gmp::spawn(async { 9 }).await }))
    ///         .await
    ///         .unwrap()
    /// });
    /// assert_eq!(out.unwrap(), 9);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(&self.sched, true);
        let _tokio = self.sched.config.tokio.enter();
        // The future is not a task (this may be a blocking section inside one).
        let _no_task = crate::executor::task::current::enter(None);
        let thread_waker = Arc::new(ThreadWaker {
            parker: Parker::new(),
            state: AtomicU8::new(RUNNING),
            sched: Arc::downgrade(&self.sched),
        });
        let waker = futures_task::waker(thread_waker.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        self.sched.reactor.clock.active_inc();
        let me = Participant {
            sched: &self.sched,
            waker: &thread_waker,
        };
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            me.park();
        }
    }

    /// Use `n` Ps from now on: Go's `runtime.GOMAXPROCS(n)` (its `procresize`), live. Growing
    /// brings Ps up at once and wakes threads for them; shrinking stops each P above `n` at its
    /// thread's next scheduling point (after the poll it is in, or when a blocking section it
    /// is in is retaken), moving its queued tasks to the global queue — no task is lost or
    /// polled twice, no timer is lost. It returns without waiting for that;
    /// [`metrics`](Self::metrics)`().procs` says `n` from the return on.
    ///
    /// As in Go, an explicit call switches off following the cgroup CPU limit (see
    /// [`Builder::new`](crate::runtime::Builder::new)). After shutdown it does nothing.
    ///
    /// # Errors
    /// `InvalidInput`, naming the value: `n == 0`, or `n` above
    /// [`Builder::max_procs`](crate::runtime::Builder::max_procs) (the P array is allocated
    /// once, at `build`).
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().procs(4).build().unwrap();
    /// rt.handle().set_procs(2).unwrap();
    /// assert_eq!(rt.handle().metrics().procs, 2);
    /// rt.handle().set_procs(4).unwrap();
    /// let err = rt.handle().set_procs(0).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// assert!(err.to_string().contains("set_procs(0)"));
    /// ```
    pub fn set_procs(&self, n: usize) -> std::io::Result<()> {
        self.sched.set_procs(n)
    }

    /// A snapshot of the scheduler's counters.
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    /// rt.block_on(async { gmp::spawn(async {}).await.unwrap() });
    /// let m = rt.handle().metrics();
    /// assert_eq!(m.procs, 2);
    /// assert!(m.tasks_spawned >= 1);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.sched.metrics()
    }

    /// Every live task: id, state, spawn location, age, time in state, polls — Go's goroutine
    /// profile. Print it to see leaks grouped by where they were spawned.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let (_tx, rx) = std::sync::mpsc::channel::<()>();
    /// let _stuck = rt.spawn(std::future::pending::<()>());
    /// # drop(rx);
    /// let dump = rt.handle().dump();
    /// // Counted in `unpolled` until its first poll starts, listed from then on.
    /// assert!(dump.len() + dump.unpolled >= 1);
    /// println!("{dump}");
    /// ```
    pub fn dump(&self) -> super::TaskDump {
        super::dump(&self.sched)
    }

    /// Tasks that can never run again: Go's leaked goroutines, grouped by spawn location when
    /// printed. Each comes with its id, spawn location, age and time waiting.
    ///
    /// **The rule.** A task is leaked when, on two reads of its state word that agree, it
    /// (1) has been polled (it is in the owned-task list), (2) is waiting: its last poll
    /// returned `Pending`, and it is not running, not queued (notified), not cancelled and
    /// not complete, and (3) holds no reference beyond the ones accounted for — the owned
    /// list's one, and the `JoinHandle`'s while that handle is alive. Everything else that
    /// points at a task holds a counted reference: a queue entry (only while notified), the
    /// M running it (only while running), every `Waker` clone and every [`AbortHandle`]. So
    /// no excess means no `Waker` exists anywhere, and none can be made (a waker is only ever
    /// cloned from another, or lent by the M for a poll): nothing can wake the task.
    /// Only its `JoinHandle` (`abort`) or the runtime's shutdown can still end it; a live
    /// `JoinHandle` does not keep a task off this list, since it cannot resume it.
    ///
    /// The check reads each task's state racily (one pass over the owned list, each shard
    /// under its lock for a moment, as [`dump`](Self::dump)): it costs the hot path nothing,
    /// and a task whose state or count changes during its check is not reported.
    ///
    /// **What it cannot see** (each errs towards *not* reporting):
    /// - a `Waker` kept where nobody will ever call it — a global, a leaked struct, a channel
    ///   whose other end is forgotten but not dropped — keeps the task "alive": not reported;
    /// - a task with a live [`AbortHandle`] is not reported: an abort handle's reference is
    ///   indistinguishable from a waker's;
    /// - tasks never polled are not listed: they are queued (runnable), not leaked;
    /// - a `JoinHandle` being dropped on another thread may hide a leak for that moment.
    ///
    /// `GMPDEBUG=leakcheck=N` has sysmon run this every N ms and print the new leaks on stderr.
    ///
    /// [`AbortHandle`]: crate::task::AbortHandle
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::Pin;
    /// use std::task::{Context, Poll};
    ///
    /// /// Waits for nothing: it drops its waker.
    /// struct Forgetful;
    /// impl Future for Forgetful {
    ///     type Output = ();
    ///     fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
    ///         Poll::Pending
    ///     }
    /// }
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// let h = rt.spawn(Forgetful);
    /// while !rt.handle().leaked_tasks().contains(h.id()) {
    ///     std::thread::yield_now(); // until its first poll
    /// }
    /// println!("{}", rt.handle().leaked_tasks());
    /// ```
    pub fn leaked_tasks(&self) -> super::LeakReport {
        super::leaked(&self.sched)
    }

    /// The flight recorder's last events (Go 1.25's flight recorder, for the scheduler): up to
    /// 4096 per P plus 4096 from threads without a P — polls, spawns, wakes, steals,
    /// handoffs, retakes, preempt flags, rescues, parks, netpolls, blocking sections — oldest
    /// first. Taken while the runtime runs; an event being written meanwhile is left out
    /// (counted in [`TraceSnapshot::missed`](super::TraceSnapshot::missed)), never torn.
    /// Empty, with `enabled` false, unless the recorder is on
    /// ([`Builder::flight_recorder`](super::Builder::flight_recorder), `GMPDEBUG=trace=1`).
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().flight_recorder(true).build().unwrap();
    /// rt.block_on(rt.spawn(async { gmp::yield_now().await })).unwrap();
    /// let snap = rt.handle().trace_snapshot();
    /// for e in &snap.events {
    ///     println!("{:?} {:?} task {:?} on P{:?}", e.time, e.kind, e.task, e.p);
    /// }
    /// ```
    pub fn trace_snapshot(&self) -> super::TraceSnapshot {
        crate::executor::trace::snapshot::snapshot(&self.sched)
    }

    /// Write the flight recorder's last events to `path` as Chrome trace-event JSON: open it
    /// in <https://ui.perfetto.dev> or `chrome://tracing` (one track per P and per M, each poll
    /// a slice named by its task's spawn site, instants for steals, handoffs, retakes,
    /// preempt flags and rescues), or render it with `scripts/trace_png.py`.
    /// `GMPDEBUG=tracefile=PATH` does this at shutdown and on the `dumpsignal` SIGUSR1.
    ///
    /// # Errors
    /// The file system's error (kind unchanged, path in the message) when `path` cannot be
    /// written; `Unsupported` when the recorder is off (see
    /// [`Builder::flight_recorder`](super::Builder::flight_recorder)).
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().flight_recorder(true).build().unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// let path = std::env::temp_dir().join(format!("gmp-doc-{}.json", std::process::id()));
    /// rt.handle().write_trace(&path).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// let off = gmp::Runtime::new().unwrap();
    /// assert_eq!(
    ///     off.handle().write_trace(&path).unwrap_err().kind(),
    ///     std::io::ErrorKind::Unsupported
    /// );
    /// ```
    pub fn write_trace(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        let snap = self.trace_snapshot();
        if !snap.enabled {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "gmp: write_trace: the flight recorder is off; turn it on with \
                 Builder::flight_recorder(true) or GMPDEBUG=trace=1",
            ));
        }
        snap.write_file(path)
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.sched
            .shutdown
            .load(std::sync::atomic::Ordering::Acquire)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("procs", &self.sched.procs())
            .finish()
    }
}

/// Lets libraries written against `futures::task::Spawn` run their tasks on gmp.
///
/// ```
/// use futures_task::{FutureObj, Spawn};
/// let rt = gmp::Runtime::new().unwrap();
/// let spawner: &dyn Spawn = rt.handle();
/// spawner.spawn_obj(FutureObj::new(Box::new(async { /* detached */ }))).unwrap();
/// ```
impl futures_task::Spawn for Handle {
    fn spawn_obj(
        &self,
        future: futures_task::FutureObj<'static, ()>,
    ) -> Result<(), futures_task::SpawnError> {
        if self.is_shutdown() {
            return Err(futures_task::SpawnError::shutdown());
        }
        drop(self.spawn(future));
        Ok(())
    }

    fn status(&self) -> Result<(), futures_task::SpawnError> {
        if self.is_shutdown() {
            Err(futures_task::SpawnError::shutdown())
        } else {
            Ok(())
        }
    }
}
