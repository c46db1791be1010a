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

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/mod.rs"]
mod support;

use support::{config, run_shape, Exec, Gmp, Group, Tokio};

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

criterion_group! {
    name = blocking;
    config = config(10);
    targets =
        bench_spawn_blocking_trivial,
        bench_spawn_blocking_200x20ms,
}

criterion_main!(blocking);
