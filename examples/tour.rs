//! A short tour of gmp's scheduler: a spawn storm on one P that overflows to the global queue,
//! waves of work stolen by the other Ps, a
//! ping-pong of runnext hand-offs, and remote spawns through the global queue — with what the
//! scheduler did printed after each act.
//!
//! ```text
//! cargo run --release --example tour            # procs = GMAXPROCS or the CPU count
//! GMAXPROCS=4 cargo run --release --example tour
//! ```

use gmp::RuntimeMetrics;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn busy(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Counters that moved between two snapshots.
fn report(title: &str, before: &RuntimeMetrics, after: &RuntimeMetrics, took: Duration) {
    println!("\n== {title} ({took:.2?})");
    println!(
        "   polls {:>8}   steals {:>6} ({} tasks moved)   ring overflows {:>4}   global-first picks {:>4}   Ms {}",
        after.polls - before.polls,
        after.steals - before.steals,
        after.stolen_tasks - before.stolen_tasks,
        after.runq_overflows - before.runq_overflows,
        after.fairness_picks - before.fairness_picks,
        after.threads,
    );
    println!("   P   polls     steals  stolen  spawned-here");
    for (b, a) in before.per_p.iter().zip(&after.per_p) {
        println!(
            "   {:<3} {:>8}  {:>6}  {:>6}  {:>8}",
            a.id,
            a.polls - b.polls,
            a.steals - b.steals,
            a.stolen_tasks - b.stolen_tasks,
            a.tasks_spawned - b.tasks_spawned,
        );
    }
}

fn main() -> std::io::Result<()> {
    let rt = gmp::Runtime::new()?;
    let handle = rt.handle().clone();
    let procs = handle.metrics().procs;
    println!("gmp tour: {procs} Ps (set GMAXPROCS to change), Ms start on demand");

    // Act 1: one task spawns 100,000 tasks at once. They land on its own P (runnext, then the
    // ring); the full ring spills half of itself to the global queue in one batch each time,
    // and the other Ms take their share from there (and steal when they find none).
    let before = handle.metrics();
    let start = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..100_000)
            .map(|_| {
                let d = d.clone();
                gmp::spawn(async move {
                    busy(Duration::from_micros(2));
                    d.fetch_add(1, Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    }))
    .unwrap();
    report(
        &format!(
            "act 1: spawn storm, {} tasks from one P",
            done.load(Relaxed)
        ),
        &before,
        &handle.metrics(),
        start.elapsed(),
    );

    // Act 2: waves of 200 tasks (less than a ring holds), each 20µs of work. Nothing spills to
    // the global queue now: the other Ms get work only by stealing half of the spawner's ring.
    let before = handle.metrics();
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        for _ in 0..100 {
            let wave: Vec<_> = (0..200)
                .map(|_| gmp::spawn(async { busy(Duration::from_micros(20)) }))
                .collect();
            for h in wave {
                h.await.unwrap();
            }
        }
    }))
    .unwrap();
    report(
        "act 2: 100 waves of 200 tasks (stealing)",
        &before,
        &handle.metrics(),
        start.elapsed(),
    );

    // Act 3: 1,000 pairs ping-pong through oneshot channels. Each wake puts the peer in the
    // waker's runnext slot: it runs next on the same M, inheriting the time slice.
    let before = handle.metrics();
    let start = Instant::now();
    rt.block_on(async {
        let pairs: Vec<_> = (0..1_000)
            .map(|_| {
                gmp::spawn(async {
                    for _ in 0..10 {
                        let (tx, rx) = futures_oneshot();
                        let peer = gmp::spawn(async move { tx.send(()) });
                        rx.await;
                        peer.await.unwrap();
                    }
                })
            })
            .collect();
        for p in pairs {
            p.await.unwrap();
        }
    });
    report(
        "act 3: 1,000 x 10 ping-pongs (runnext hand-offs)",
        &before,
        &handle.metrics(),
        start.elapsed(),
    );

    // Act 4: 4 foreign threads spawn 10,000 tasks each: every spawn goes through the global
    // queue, and `wakep` starts spinning Ms to pick them up.
    let before = handle.metrics();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let handle = handle.clone();
            s.spawn(move || {
                let hs: Vec<_> = (0..10_000)
                    .map(|i| handle.spawn(async move { i }))
                    .collect();
                handle.block_on(async {
                    for h in hs {
                        h.await.unwrap();
                    }
                });
            });
        }
    });
    report(
        "act 4: 40,000 remote spawns from 4 foreign threads",
        &before,
        &handle.metrics(),
        start.elapsed(),
    );

    let m = handle.metrics();
    println!(
        "\nin all: {} tasks spawned, {} live, {} polls, {} steals moving {} tasks, {} Ms for {} Ps",
        m.tasks_spawned, m.live_tasks, m.polls, m.steals, m.stolen_tasks, m.threads, m.procs
    );
    Ok(())
}

/// A minimal one-shot channel built on gmp's own primitives would be overkill here; use a
/// mutex-and-waker pair so the tour has no dependencies beyond gmp.
fn futures_oneshot() -> (Sender, Receiver) {
    let shared = Arc::new(std::sync::Mutex::new((false, None::<std::task::Waker>)));
    (Sender(shared.clone()), Receiver(shared))
}

struct Sender(Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>);
struct Receiver(Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>);

impl Sender {
    fn send(self, _: ()) {
        let waker = {
            let mut g = self.0.lock().unwrap();
            g.0 = true;
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl std::future::Future for Receiver {
    type Output = ();
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut g = self.0.lock().unwrap();
        if g.0 {
            std::task::Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            std::task::Poll::Pending
        }
    }
}
