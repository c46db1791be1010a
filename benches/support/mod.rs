//! Shared support for the side-by-side `gmp` vs. tokio benches: the runtime abstraction
//! ([`Exec`], implemented by [`Gmp`] and [`Tokio`]), the worker count ([`procs`]) and the
//! criterion plumbing ([`run_shape`], [`config`]).
//!
//! Included by each bench with `#[path = "support/mod.rs"] mod support;` (cargo does not
//! treat files in a subdirectory of `benches/` as bench targets). Each bench uses only part
//! of it, hence the `dead_code` allowance.

#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};

/// How long [`Exec::shutdown`] waits for the runtime's threads.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

pub type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// The runtime operations the shapes need, implemented for both runtimes.
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

/// Worker count for both runtimes: env `BENCH_PROCS`, else 2.
pub fn procs() -> usize {
    std::env::var("BENCH_PROCS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(2)
}

/// One shape on one runtime: adds its function (`gmp` or `tokio`) to the group.
pub type Shape = fn(&mut Group<'_>, usize);

/// One group per shape: gmp first, then tokio, each on its own runtime.
pub fn run_shape(c: &mut Criterion, name: &str, gmp: Shape, tokio: Shape) {
    run_shape_with_throughput(c, name, None, gmp, tokio);
}

/// [`run_shape`], reporting `throughput` elements per iteration when given.
pub fn run_shape_with_throughput(
    c: &mut Criterion,
    name: &str,
    throughput: Option<u64>,
    gmp: Shape,
    tokio: Shape,
) {
    let procs = procs();
    let mut group = c.benchmark_group(name);
    if let Some(n) = throughput {
        group.throughput(Throughput::Elements(n));
    }
    gmp(&mut group, procs);
    tokio(&mut group, procs);
    group.finish();
}

/// The criterion defaults of these benches: `sample_size` samples, 3 s measurement, 1 s
/// warm-up per function (criterion's CLI flags override them).
pub fn config(sample_size: usize) -> Criterion {
    Criterion::default()
        .sample_size(sample_size)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}
