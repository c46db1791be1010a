//! What gmp's always-on metrics cost: one fixed workload (ping_pong and spawn_many on one P),
//! run once, to be measured by instruction count — stable on a noisy machine — with and
//! without the metric-only bookkeeping:
//!
//! ```text
//! cargo bench --bench metrics_overhead --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/with.cg target/release/deps/metrics_overhead-*
//! RUSTFLAGS="--cfg gmp_no_metrics" cargo bench --bench metrics_overhead --no-run --target-dir target/nometrics
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/without.cg target/nometrics/release/deps/metrics_overhead-*
//! ```
//! Compare the two `summary:` totals (or run it plainly for wall times).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::Instant;

fn ping_pong(rt: &gmp::Runtime) {
    let (tx, rx) = mpsc::sync_channel(1);
    let rem = Arc::new(AtomicUsize::new(1_000));
    rt.spawn(async move {
        for _ in 0..1_000 {
            let (tx, rem) = (tx.clone(), rem.clone());
            drop(gmp::spawn(async move {
                let (tx1, rx1) = futures::channel::oneshot::channel::<()>();
                let (tx2, rx2) = futures::channel::oneshot::channel::<()>();
                drop(gmp::spawn(async move {
                    rx1.await.unwrap();
                    tx2.send(()).unwrap();
                }));
                tx1.send(()).unwrap();
                rx2.await.unwrap();
                if rem.fetch_sub(1, Relaxed) == 1 {
                    tx.send(()).unwrap();
                }
            }));
        }
    });
    rx.recv().unwrap();
}

fn spawn_many(rt: &gmp::Runtime) {
    let (tx, rx) = mpsc::sync_channel(1);
    let rem = Arc::new(AtomicUsize::new(10_000));
    rt.spawn(async move {
        for _ in 0..10_000 {
            let (tx, rem) = (tx.clone(), rem.clone());
            drop(gmp::spawn(async move {
                if rem.fetch_sub(1, Relaxed) == 1 {
                    tx.send(()).unwrap();
                }
            }));
        }
    });
    rx.recv().unwrap();
}

fn main() {
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    let start = Instant::now();
    for _ in 0..20 {
        ping_pong(&rt);
    }
    let pp = start.elapsed();
    let start = Instant::now();
    for _ in 0..20 {
        spawn_many(&rt);
    }
    println!(
        "metrics {}: ping_pong x20 {:?}, spawn_many x20 {:?}",
        if cfg!(gmp_no_metrics) { "off" } else { "on" },
        pp,
        start.elapsed()
    );
}
