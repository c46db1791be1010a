//! Side-by-side scheduler benchmarks: `gmp` vs. tokio's multi-thread runtime,
//! with smol as a third reference point.
//!
//! The shapes are modelled on tokio's own `benches/rt_multi_threaded.rs`. Every
//! shape is one criterion `BenchmarkGroup` with three functions, `gmp`,
//! `tokio` and `smol`, so criterion reports them next to each other
//! (`target/criterion/<shape>/{gmp,tokio,smol}/`; `scripts/bench_ratios.py`
//! turns those into gmp/tokio and smol/tokio ratio tables).
//!
//! All runtimes get the same number of workers: env `BENCH_PROCS`, else 2
//! (`gmp::Runtime::builder().procs(n)` vs.
//! `tokio::runtime::Builder::new_multi_thread().worker_threads(n)` vs. an
//! `smol::Executor` run by n std threads, each in
//! `smol::block_on(ex.run(shutdown))`). Each runtime is built once per group,
//! outside the timed loop, and shut down before the next runtime of the group
//! is built, so they never compete for CPUs. All use the same synchronisation
//! primitives (`tokio::sync::oneshot`, `std::sync::mpsc`, std atomics), which
//! work on any executor; only `spawn`, `yield_now` and `block_on` differ.
//!
//! smol runs every shape; none needed leaving out. Two things to keep in mind
//! when reading its figures: smol has no local spawn path (async-executor
//! pushes every spawned or woken task onto its global queue; worker-local
//! queues are only filled by stealing from it), so `spawn_many_local` and
//! `spawn_many_remote_*` exercise the same path on smol; and smol's spawn from
//! inside a task reads the executor from a thread-local set on its worker
//! threads (`benches/support/mod.rs`), as `tokio::spawn`/`gmp::spawn` read
//! theirs. smol's `block_on` thread (the bench thread) is not a worker either.
//!
//! What each shape measures (one iteration):
//!
//! - `spawn_many_local`: one task (spawned from the bench thread) spawns
//!   10,000 tasks from *inside* the runtime; each decrements an `AtomicUsize`
//!   and the last one signals a std `sync_channel` that the bench thread waits
//!   on. Measures the local spawn path (per-P run queue / `runnext`, overflow
//!   to the global queue, stealing by the other workers). Note: tokio's
//!   upstream bench spawns from inside `block_on`, which on tokio is *not* a
//!   worker thread (so those spawns are remote); here the spawning happens in
//!   a real task, so it is local on both runtimes.
//! - `spawn_many_remote_idle`: the bench thread spawns 10,000 empty tasks via
//!   `handle.spawn`, then awaits all their `JoinHandle`s inside `block_on`.
//!   Measures the remote (global injector) spawn path plus wake-up of idle
//!   workers and the `JoinHandle` completion path.
//! - `spawn_many_remote_busy`: same as `spawn_many_remote_idle`, while `procs`
//!   background tasks keep the workers busy: each loops on `yield_now().await`
//!   followed by a ~10µs CPU stall (as in tokio's `spawn_many_remote_busy1`)
//!   until a stop flag is set after the group. Measures how fast remotely
//!   injected work gets picked up while the local queues are never empty
//!   (global-queue fairness, `schedtick % 61` style checks).
//! - `yield_many`: the bench thread spawns 200 tasks that each do 1,000
//!   `yield_now().await`; waits for all 200 via a std channel. Measures the
//!   yield / re-schedule fast path.
//! - `ping_pong`: one task spawns 1,000 tasks; each creates two oneshot pairs,
//!   spawns a peer that receives the ping and sends the pong back, does the
//!   exchange, then decrements a counter; the last one signals the bench
//!   thread. Measures wake-ups across tasks (waker -> run queue, `runnext`).
//! - `chained_spawn`: a chain of depth 1,000: each task spawns the next, the
//!   last one signals done. Measures spawn-then-exit latency of a single
//!   dependent chain (`runnext` hand-off).
//!
//! Honesty note: tokio's `block_on` thread is not a worker, and gmp's
//! `block_on` thread is not a worker either. So on *both* runtimes the two
//! `spawn_many_remote_*` shapes go through the global injector, and the
//! `block_on` that awaits the `JoinHandle`s is woken from a worker thread
//! (cross-thread unpark) on both. Likewise, every shape that starts from the
//! bench thread pays one remote spawn on both runtimes.
//!
//! Defaults: 20 samples, 3 s measurement, 1 s warm-up per function (a full run
//! is a few minutes on 2 cores). Criterion's CLI flags (`--sample-size`,
//! `--measurement-time`, `--warm-up-time`) override them.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tokio::sync::oneshot;

#[path = "support/mod.rs"]
mod support;

use support::{config, run_group, Exec, Gmp, Group, Smol, Tokio};

const NUM_SPAWN: usize = 10_000;
const STALL_DUR: Duration = Duration::from_micros(10);

fn spawn_many_local<E: Exec>(group: &mut Group<'_>, procs: usize) {
    let rt = E::build(procs);
    let (tx, rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            rem.store(NUM_SPAWN, Relaxed);
            let tx = tx.clone();
            let rem = rem.clone();

            drop(rt.spawn_remote(async move {
                for _ in 0..NUM_SPAWN {
                    let tx = tx.clone();
                    let rem = rem.clone();

                    drop(E::spawn(async move {
                        if 1 == rem.fetch_sub(1, Relaxed) {
                            tx.send(()).unwrap();
                        }
                    }));
                }
            }));

            rx.recv().unwrap();
        })
    });

    rt.shutdown();
}

fn spawn_many_remote_idle<E: Exec>(group: &mut Group<'_>, procs: usize) {
    let rt = E::build(procs);
    let mut handles = Vec::with_capacity(NUM_SPAWN);

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            for _ in 0..NUM_SPAWN {
                handles.push(rt.spawn_remote(async {}));
            }

            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await.unwrap();
                }
            });
        })
    });

    rt.shutdown();
}

fn spawn_many_remote_busy<E: Exec>(group: &mut Group<'_>, procs: usize) {
    let rt = E::build(procs);
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    let flag = Arc::new(AtomicBool::new(true));

    // Keep every worker busy with tasks that yield and burn a little CPU.
    let busy: Vec<_> = (0..procs)
        .map(|_| {
            let flag = flag.clone();
            rt.spawn_remote(async move {
                while flag.load(Relaxed) {
                    E::yield_now().await;
                    stall();
                }
            })
        })
        .collect();

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            for _ in 0..NUM_SPAWN {
                handles.push(rt.spawn_remote(async {}));
            }

            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await.unwrap();
                }
            });
        })
    });

    flag.store(false, Relaxed);
    rt.block_on(async {
        for handle in busy {
            handle.await.unwrap();
        }
    });
    rt.shutdown();
}

fn yield_many<E: Exec>(group: &mut Group<'_>, procs: usize) {
    const NUM_YIELD: usize = 1_000;
    const TASKS: usize = 200;

    let rt = E::build(procs);
    let (tx, rx) = mpsc::sync_channel(TASKS);

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            for _ in 0..TASKS {
                let tx = tx.clone();

                drop(rt.spawn_remote(async move {
                    for _ in 0..NUM_YIELD {
                        E::yield_now().await;
                    }

                    tx.send(()).unwrap();
                }));
            }

            for _ in 0..TASKS {
                rx.recv().unwrap();
            }
        })
    });

    rt.shutdown();
}

fn ping_pong<E: Exec>(group: &mut Group<'_>, procs: usize) {
    const NUM_PINGS: usize = 1_000;

    let rt = E::build(procs);
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let rem = Arc::new(AtomicUsize::new(0));

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let done_tx = done_tx.clone();
            let rem = rem.clone();
            rem.store(NUM_PINGS, Relaxed);

            drop(rt.spawn_remote(async move {
                for _ in 0..NUM_PINGS {
                    let rem = rem.clone();
                    let done_tx = done_tx.clone();

                    drop(E::spawn(async move {
                        let (tx1, rx1) = oneshot::channel();
                        let (tx2, rx2) = oneshot::channel();

                        drop(E::spawn(async move {
                            rx1.await.unwrap();
                            tx2.send(()).unwrap();
                        }));

                        tx1.send(()).unwrap();
                        rx2.await.unwrap();

                        if 1 == rem.fetch_sub(1, Relaxed) {
                            done_tx.send(()).unwrap();
                        }
                    }));
                }
            }));

            done_rx.recv().unwrap();
        })
    });

    rt.shutdown();
}

fn chained_spawn<E: Exec>(group: &mut Group<'_>, procs: usize) {
    const ITER: usize = 1_000;

    fn iter<E: Exec>(done_tx: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            drop(E::spawn(async move {
                iter::<E>(done_tx, n - 1);
            }));
        }
    }

    let rt = E::build(procs);
    let (done_tx, done_rx) = mpsc::sync_channel(1000);

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let done_tx = done_tx.clone();

            drop(rt.spawn_remote(async move {
                iter::<E>(done_tx, ITER);
            }));

            done_rx.recv().unwrap();
        })
    });

    rt.shutdown();
}

/// Burn ~10µs of CPU (same as tokio's bench).
fn stall() {
    let now = Instant::now();
    while now.elapsed() < STALL_DUR {
        std::thread::yield_now();
    }
}

fn bench_spawn_many_local(c: &mut Criterion) {
    run_group(
        c,
        "spawn_many_local",
        None,
        &[
            spawn_many_local::<Gmp>,
            spawn_many_local::<Tokio>,
            spawn_many_local::<Smol>,
        ],
    );
}

fn bench_spawn_many_remote_idle(c: &mut Criterion) {
    run_group(
        c,
        "spawn_many_remote_idle",
        None,
        &[
            spawn_many_remote_idle::<Gmp>,
            spawn_many_remote_idle::<Tokio>,
            spawn_many_remote_idle::<Smol>,
        ],
    );
}

fn bench_spawn_many_remote_busy(c: &mut Criterion) {
    run_group(
        c,
        "spawn_many_remote_busy",
        None,
        &[
            spawn_many_remote_busy::<Gmp>,
            spawn_many_remote_busy::<Tokio>,
            spawn_many_remote_busy::<Smol>,
        ],
    );
}

fn bench_yield_many(c: &mut Criterion) {
    run_group(
        c,
        "yield_many",
        None,
        &[yield_many::<Gmp>, yield_many::<Tokio>, yield_many::<Smol>],
    );
}

fn bench_ping_pong(c: &mut Criterion) {
    run_group(
        c,
        "ping_pong",
        None,
        &[ping_pong::<Gmp>, ping_pong::<Tokio>, ping_pong::<Smol>],
    );
}

fn bench_chained_spawn(c: &mut Criterion) {
    run_group(
        c,
        "chained_spawn",
        None,
        &[
            chained_spawn::<Gmp>,
            chained_spawn::<Tokio>,
            chained_spawn::<Smol>,
        ],
    );
}

criterion_group! {
    name = rt_multi_scheduler;
    config = config(20);
    targets =
        bench_spawn_many_local,
        bench_spawn_many_remote_idle,
        bench_spawn_many_remote_busy,
        bench_yield_many,
        bench_ping_pong,
        bench_chained_spawn,
}

criterion_main!(rt_multi_scheduler);
