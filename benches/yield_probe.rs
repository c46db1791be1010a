//! A fixed amount of yield-heavy or remote-spawn work, run once, to be measured by
//! instruction count (stable on a noisy machine) — the loop where the cost of reaching a P's
//! owned half shows most (one wake and one poll per yield):
//!
//! ```text
//! cargo bench --bench yield_probe --no-run
//! valgrind --tool=callgrind target/release/deps/yield_probe-* yield    # 1 P, 200k yields
//! valgrind --tool=callgrind target/release/deps/yield_probe-* remote   # 1 P, 100k remote spawns
//! valgrind --tool=callgrind target/release/deps/yield_probe-* timers   # 1 P, 100k sleepers
//! valgrind --tool=callgrind target/release/deps/yield_probe-* chain    # 1 P, 100k chained spawns
//! ```
//! Compare the `Collected` totals of two builds (BENCHMARKS.md, issue 19's section). Run
//! plainly it prints its wall time.

fn main() {
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    // `cargo bench` passes `--bench`; the shape is the first other argument.
    let shape = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "yield".to_string());
    let start = std::time::Instant::now();
    for _ in 0..5 {
        if shape == "timers" {
            // 20k sleepers of 1..=10 ms (a fixed spread), spawned from a task: the timer path
            // (`sleep` registration, the P's timer heap, firing, the wake) per sleeper.
            rt.block_on(async {
                let hs: Vec<_> = (0..20_000u64)
                    .map(|i| {
                        let d = std::time::Duration::from_micros(1_000 + (i * 7919) % 9_000);
                        gmp::spawn(async move { gmp::time::sleep(d).await })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            });
        } else if shape == "chain" {
            // 20k chained spawns (`rt_multi_threaded`'s chained_spawn): each task spawns the
            // next, detached, and finishes in its first poll; the last one signals.
            fn link(n: u32, done: futures::channel::oneshot::Sender<()>) {
                if n == 0 {
                    let _ = done.send(());
                } else {
                    drop(gmp::spawn(async move { link(n - 1, done) }));
                }
            }
            rt.block_on(async {
                let (tx, rx) = futures::channel::oneshot::channel();
                link(20_000, tx);
                rx.await.unwrap();
            });
        } else if shape == "remote" {
            let hs: Vec<_> = (0..20_000).map(|_| rt.spawn(async {})).collect();
            rt.block_on(async {
                for h in hs {
                    h.await.unwrap();
                }
            });
        } else {
            rt.block_on(async {
                let hs: Vec<_> = (0..200)
                    .map(|_| {
                        gmp::spawn(async {
                            for _ in 0..200 {
                                gmp::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.await.unwrap();
                }
            });
        }
    }
    println!("{shape}: {:?}", start.elapsed());
}
