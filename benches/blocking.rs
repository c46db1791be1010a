//! Blocking-call benchmarks: `gmp::spawn_blocking` (Go's syscall handoff) vs.
//! tokio's `spawn_blocking` (a separate blocking thread pool).
//!
//! Same conventions as `benches/rt_multi_threaded.rs`: every shape is one
//! criterion `BenchmarkGroup` with two functions, `gmp` and `tokio`
//! (`target/criterion/<shape>/{gmp,tokio}/`, so `scripts/bench_ratios.py`
//! picks them up), both runtimes get the same number of workers (env
//! `BENCH_PROCS`, else 2), and each runtime is built once per group, outside
//! the timed loop, and shut down before the other one is built. Thread limits
//! are left at their defaults: gmp's `max_threads` (10,000), tokio's
//! `max_blocking_threads` (512).
//!
//! What each shape measures (one iteration):
//!
//! - `spawn_blocking_trivial`: one task (spawned from the bench thread) makes
//!   20,000 `spawn_blocking(|| 1)` calls in batches of 100: it starts 100,
//!   awaits all 100 `JoinHandle`s, and goes on with the next batch. On gmp a
//!   short blocking call is a task on the caller's P whose closure runs inside
//!   a blocking section (no thread hop unless sysmon retakes the P); on tokio
//!   every call is a hand-off to the blocking pool and back.
//! - `spawn_blocking_200x20ms`: one task starts 200 blocking calls that each
//!   `std::thread::sleep(20ms)`, then awaits all of them. The ideal is ~20ms
//!   (all 200 in parallel). tokio runs them on 200 pool threads; gmp starts
//!   them on its Ps and relies on sysmon handing each blocked P to another M,
//!   so the calls fan out over up to 200 Ms. Both pools keep their threads
//!   between iterations (gmp: `thread_keep_alive` 10s, tokio: 10s).
//!
//! Defaults: 10 samples, 3 s measurement, 1 s warm-up per function (a full run
//! is well under a minute on 2 cores). Criterion's CLI flags (`--sample-size`,
//! `--measurement-time`, `--warm-up-time`) override them.

use std::future::Future;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// The few runtime operations the shapes need, implemented for both runtimes.
trait Exec: Sized + 'static {
    /// Criterion function id.
    const NAME: &'static str;
    type JoinError: std::fmt::Debug;
    type JoinHandle<T: Send + 'static>: Future<Output = Result<T, Self::JoinError>> + Send + 'static;

    fn build(procs: usize) -> Self;

    /// Spawn from outside the runtime, through the runtime's handle.
    fn spawn_remote<F>(&self, fut: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Run a blocking closure on the current runtime (called from inside a task).
    fn spawn_blocking<F, R>(f: F) -> Self::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static;

    fn block_on<F: Future>(&self, fut: F) -> F::Output;

    fn shutdown(self);
}

struct Gmp(gmp::Runtime);

impl Exec for Gmp {
    const NAME: &'static str = "gmp";
    type JoinError = gmp::JoinError;
    type JoinHandle<T: Send + 'static> = gmp::JoinHandle<T>;

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

    fn shutdown(self) {
        self.0.shutdown_timeout(SHUTDOWN_TIMEOUT);
    }
}

struct Tokio(tokio::runtime::Runtime);

impl Exec for Tokio {
    const NAME: &'static str = "tokio";
    type JoinError = tokio::task::JoinError;
    type JoinHandle<T: Send + 'static> = tokio::task::JoinHandle<T>;

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

    fn shutdown(self) {
        self.0.shutdown_timeout(SHUTDOWN_TIMEOUT);
    }
}

fn spawn_blocking_trivial<E: Exec>(group: &mut Group<'_>, procs: usize) {
    const CALLS: usize = 20_000;
    const BATCH: usize = 100;

    let rt = E::build(procs);

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let sum = rt.block_on(rt.spawn_remote(async {
                let mut handles = Vec::with_capacity(BATCH);
                let mut sum = 0usize;
                for _ in 0..CALLS / BATCH {
                    handles.extend((0..BATCH).map(|_| E::spawn_blocking(|| 1usize)));
                    for h in handles.drain(..) {
                        sum += h.await.unwrap();
                    }
                }
                sum
            }));
            assert_eq!(sum.unwrap(), CALLS);
        })
    });

    rt.shutdown();
}

fn spawn_blocking_200x20ms<E: Exec>(group: &mut Group<'_>, procs: usize) {
    const CALLS: usize = 200;
    const SLEEP: Duration = Duration::from_millis(20);

    let rt = E::build(procs);

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let n = rt.block_on(rt.spawn_remote(async {
                let handles: Vec<_> = (0..CALLS)
                    .map(|_| {
                        E::spawn_blocking(|| {
                            std::thread::sleep(SLEEP);
                            1usize
                        })
                    })
                    .collect();
                let mut n = 0;
                for h in handles {
                    n += h.await.unwrap();
                }
                n
            }));
            assert_eq!(n.unwrap(), CALLS);
        })
    });

    rt.shutdown();
}

/// Worker count for both runtimes: env `BENCH_PROCS`, else 2.
fn procs() -> usize {
    std::env::var("BENCH_PROCS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(2)
}

type Shape = fn(&mut Group<'_>, usize);

/// One group per shape: gmp first, then tokio, each on its own runtime.
fn run_shape(c: &mut Criterion, name: &str, gmp: Shape, tokio: Shape) {
    let procs = procs();
    let mut group = c.benchmark_group(name);
    gmp(&mut group, procs);
    tokio(&mut group, procs);
    group.finish();
}

fn bench_spawn_blocking_trivial(c: &mut Criterion) {
    run_shape(
        c,
        "spawn_blocking_trivial",
        spawn_blocking_trivial::<Gmp>,
        spawn_blocking_trivial::<Tokio>,
    );
}

fn bench_spawn_blocking_200x20ms(c: &mut Criterion) {
    run_shape(
        c,
        "spawn_blocking_200x20ms",
        spawn_blocking_200x20ms::<Gmp>,
        spawn_blocking_200x20ms::<Tokio>,
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = blocking;
    config = config();
    targets =
        bench_spawn_blocking_trivial,
        bench_spawn_blocking_200x20ms,
}

criterion_main!(blocking);
