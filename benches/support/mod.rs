//! Shared support for the side-by-side `gmp` vs. tokio (and smol) benches: the runtime
//! abstraction ([`Exec`], implemented by [`Gmp`], [`Tokio`] and [`Smol`]), the worker count
//! ([`procs`]) and the criterion plumbing ([`run_shape`], [`run_group`], [`config`]).
//!
//! Included by each bench with `#[path = "support/mod.rs"] mod support;` (cargo does not
//! treat files in a subdirectory of `benches/` as bench targets). Each bench uses only part
//! of it, hence the `dead_code` allowance.

#![allow(dead_code)]

use std::cell::RefCell;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};

/// How long [`Exec::shutdown`] waits for the runtime's threads.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

pub type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// The runtime operations the shapes need, implemented for each runtime.
/// Everything is monomorphised, so neither runtime pays for the abstraction.
pub trait Exec: Sized + 'static {
    /// Criterion function id.
    const NAME: &'static str;
    type JoinError: Debug;
    type JoinHandle<T: Send + 'static>: Future<Output = Result<T, Self::JoinError>> + Send + 'static;
    type Elapsed: Debug;
    type Timeout<F: Future + Send>: Future<Output = Result<F::Output, Self::Elapsed>> + Send;

    /// A multi-thread runtime with `procs` workers.
    fn build(procs: usize) -> Self;

    /// Spawn from outside the runtime, through the runtime's handle.
    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawn onto the current runtime (called from inside a task or `block_on`).
    fn spawn<F>(fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Run a blocking closure on the current runtime (called from inside a task).
    fn spawn_blocking<F, R>(f: F) -> Self::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static;

    fn block_on<F: Future>(&self, fut: F) -> F::Output;

    fn yield_now() -> impl Future<Output = ()> + Send;

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;

    fn timeout<F: Future + Send>(d: Duration, fut: F) -> Self::Timeout<F>;

    /// Shut down, waiting up to `timeout` for the runtime's threads.
    fn shutdown_timeout(self, timeout: Duration);

    /// Shut down, waiting up to [`SHUTDOWN_TIMEOUT`].
    fn shutdown(self) {
        self.shutdown_timeout(SHUTDOWN_TIMEOUT);
    }
}

pub struct Gmp(pub gmp::Runtime);

impl Exec for Gmp {
    const NAME: &'static str = "gmp";
    type JoinError = gmp::JoinError;
    type JoinHandle<T: Send + 'static> = gmp::JoinHandle<T>;
    type Elapsed = gmp::time::Elapsed;
    type Timeout<F: Future + Send> = gmp::time::Timeout<F>;

    fn build(procs: usize) -> Self {
        Gmp(gmp::Runtime::builder()
            .procs(procs)
            .build()
            .expect("build gmp runtime"))
    }

    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.handle().spawn(fut)
    }

    fn spawn<F>(fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        gmp::spawn(fut)
    }

    fn spawn_blocking<F, R>(f: F) -> Self::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        gmp::spawn_blocking(f)
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.0.block_on(fut)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        gmp::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        gmp::time::sleep(d)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        gmp::time::sleep_until(deadline)
    }

    fn timeout<F: Future + Send>(d: Duration, fut: F) -> Self::Timeout<F> {
        gmp::time::timeout(d, fut)
    }

    fn shutdown_timeout(self, timeout: Duration) {
        self.0.shutdown_timeout(timeout);
    }
}

pub struct Tokio(pub tokio::runtime::Runtime);

impl Exec for Tokio {
    const NAME: &'static str = "tokio";
    type JoinError = tokio::task::JoinError;
    type JoinHandle<T: Send + 'static> = tokio::task::JoinHandle<T>;
    type Elapsed = tokio::time::error::Elapsed;
    type Timeout<F: Future + Send> = tokio::time::Timeout<F>;

    fn build(procs: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(procs)
                .enable_all()
                .build()
                .expect("build tokio runtime"),
        )
    }

    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.handle().spawn(fut)
    }

    fn spawn<F>(fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(fut)
    }

    fn spawn_blocking<F, R>(f: F) -> Self::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        tokio::task::spawn_blocking(f)
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.0.block_on(fut)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    fn timeout<F: Future + Send>(d: Duration, fut: F) -> Self::Timeout<F> {
        tokio::time::timeout(d, fut)
    }

    fn shutdown_timeout(self, timeout: Duration) {
        self.0.shutdown_timeout(timeout);
    }
}

/// smol: an [`smol::Executor`] run by `procs` std threads, each in
/// `smol::block_on(ex.run(shutdown_signal))` (the usual multi-thread smol pattern; the
/// threads also drive async-io's reactor and timers while idle).
///
/// smol has no ambient "current executor", so the worker threads (and [`Exec::block_on`]'s
/// caller, for its duration) keep the executor in a thread-local that [`Exec::spawn`]
/// reads, as `tokio::spawn` and `gmp::spawn` read theirs. On smol every spawn, local or
/// not, goes through the executor's global queue (async-executor pushes every scheduled
/// task there), so `spawn` and `spawn_remote` are the same path.
pub struct Smol {
    ex: Arc<smol::Executor<'static>>,
    stop: Option<smol::channel::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

thread_local! {
    static SMOL_EX: RefCell<Option<Arc<smol::Executor<'static>>>> = const { RefCell::new(None) };
}

/// Puts `ex` in [`SMOL_EX`] until dropped, then restores what was there.
struct SmolEnter(Option<Arc<smol::Executor<'static>>>);

impl SmolEnter {
    fn new(ex: &Arc<smol::Executor<'static>>) -> SmolEnter {
        SmolEnter(SMOL_EX.with(|cur| cur.borrow_mut().replace(ex.clone())))
    }
}

impl Drop for SmolEnter {
    fn drop(&mut self) {
        let prev = self.0.take();
        SMOL_EX.with(|cur| *cur.borrow_mut() = prev);
    }
}

impl Smol {
    fn stop(&mut self, timeout: Duration) {
        // Closing the channel ends every `ex.run(rx.recv())`.
        if self.stop.take().is_none() {
            return;
        }
        let deadline = Instant::now() + timeout;
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        for t in self.threads.drain(..) {
            if t.is_finished() {
                t.join().expect("smol worker thread panicked");
            }
            // Else leave it (detached), as the other runtimes' shutdown_timeout does.
        }
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        self.stop(SHUTDOWN_TIMEOUT);
    }
}

/// A smol task that detaches when dropped (like tokio's and gmp's `JoinHandle`; dropping a
/// `smol::Task` would cancel it).
pub struct SmolJoinHandle<T>(Option<smol::Task<T>>);

impl<T> Future for SmolJoinHandle<T> {
    type Output = Result<T, std::convert::Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let task = self.0.as_mut().expect("polled after completion");
        Pin::new(task).poll(cx).map(Ok)
    }
}

impl<T> Drop for SmolJoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.detach();
        }
    }
}

pin_project_lite::pin_project! {
    /// `Timeout` for smol: the inner future first, then a [`smol::Timer`] (which, like the
    /// other runtimes' timers, registers on its first poll). No allocation, like theirs.
    pub struct SmolTimeout<F> {
        #[pin]
        fut: F,
        timer: smol::Timer,
    }
}

#[derive(Debug)]
pub struct SmolElapsed;

impl<F: Future> Future for SmolTimeout<F> {
    type Output = Result<F::Output, SmolElapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.fut.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match Pin::new(this.timer).poll(cx) {
            Poll::Ready(_) => Poll::Ready(Err(SmolElapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Exec for Smol {
    const NAME: &'static str = "smol";
    type JoinError = std::convert::Infallible;
    type JoinHandle<T: Send + 'static> = SmolJoinHandle<T>;
    type Elapsed = SmolElapsed;
    type Timeout<F: Future + Send> = SmolTimeout<F>;

    fn build(procs: usize) -> Self {
        let ex = Arc::new(smol::Executor::new());
        let (tx, rx) = smol::channel::bounded::<()>(1);
        let threads = (0..procs)
            .map(|i| {
                let ex = ex.clone();
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("smol-{i}"))
                    .spawn(move || {
                        let _enter = SmolEnter::new(&ex);
                        let _ = smol::block_on(ex.run(rx.recv()));
                    })
                    .expect("spawn smol worker thread")
            })
            .collect();
        Smol {
            ex,
            stop: Some(tx),
            threads,
        }
    }

    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        SmolJoinHandle(Some(self.ex.spawn(fut)))
    }

    fn spawn<F>(fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = SMOL_EX.with(|ex| {
            ex.borrow()
                .as_ref()
                .expect("Smol::spawn outside a smol worker or block_on")
                .spawn(fut)
        });
        SmolJoinHandle(Some(task))
    }

    fn spawn_blocking<F, R>(f: F) -> Self::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        SmolJoinHandle(Some(smol::unblock(f)))
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let _enter = SmolEnter::new(&self.ex);
        smol::block_on(fut)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        smol::future::yield_now()
    }

    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }

    async fn sleep_until(deadline: Instant) {
        smol::Timer::at(deadline).await;
    }

    fn timeout<F: Future + Send>(d: Duration, fut: F) -> Self::Timeout<F> {
        SmolTimeout {
            fut,
            timer: smol::Timer::after(d),
        }
    }

    fn shutdown_timeout(mut self, timeout: Duration) {
        self.stop(timeout);
    }
}

/// Worker count for every runtime: env `BENCH_PROCS`, else 2.
pub fn procs() -> usize {
    std::env::var("BENCH_PROCS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(2)
}

/// One shape on one runtime: adds its function (`gmp`, `tokio` or `smol`) to the group.
pub type Shape = fn(&mut Group<'_>, usize);

/// One group per shape: gmp first, then tokio, each on its own runtime.
pub fn run_shape(c: &mut Criterion, name: &str, gmp: Shape, tokio: Shape) {
    run_shape_with_throughput(c, name, None, gmp, tokio);
}

/// One group per shape with any number of runtimes (gmp, tokio, smol), in the order given,
/// each built, measured and shut down before the next one is built.
pub fn run_group(c: &mut Criterion, name: &str, throughput: Option<u64>, shapes: &[Shape]) {
    let procs = procs();
    let mut group = c.benchmark_group(name);
    if let Some(n) = throughput {
        group.throughput(Throughput::Elements(n));
    }
    for shape in shapes {
        shape(&mut group, procs);
    }
    group.finish();
}

/// [`run_shape`], reporting `throughput` elements per iteration when given.
pub fn run_shape_with_throughput(
    c: &mut Criterion,
    name: &str,
    throughput: Option<u64>,
    gmp: Shape,
    tokio: Shape,
) {
    run_group(c, name, throughput, &[gmp, tokio]);
}

/// The criterion defaults of these benches: `sample_size` samples, 3 s measurement, 1 s
/// warm-up per function (criterion's CLI flags override them).
pub fn config(sample_size: usize) -> Criterion {
    Criterion::default()
        .sample_size(sample_size)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}
