//! A workload that makes the scheduler trace move: a spawn storm, a burst of blocking calls,
//! a CPU hog that sysmon rescues, then an idle phase.
//!
//! ```text
//! GMPDEBUG=schedtrace=100 cargo run --release --example schedtrace
//! GMPDEBUG=schedtrace=100,scheddetail=1,stuck=1 cargo run --release --example schedtrace
//! ```

use std::time::{Duration, Instant};

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() -> std::io::Result<()> {
    if std::env::var_os("GMPDEBUG").is_none() {
        eprintln!("hint: run with GMPDEBUG=schedtrace=100 to see the scheduler trace");
    }
    let rt = gmp::Runtime::builder().procs(2).build()?;
    rt.block_on(async {
        eprintln!("-- phase 1: spawn storm (500,000 small tasks)");
        for _ in 0..5 {
            let hs: Vec<_> = (0..100_000)
                .map(|_| gmp::spawn(async { spin(Duration::from_micros(1)) }))
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }

        eprintln!("-- phase 2: 64 blocking calls of 200ms (sysmon hands the Ps off)");
        let hs: Vec<_> = (0..64)
            .map(|_| gmp::spawn_blocking(|| std::thread::sleep(Duration::from_millis(200))))
            .collect();
        for h in hs {
            h.await.unwrap();
        }

        eprintln!("-- phase 3: two tasks spin 300ms without yielding; work queued behind them");
        let hogs: Vec<_> = (0..2)
            .map(|_| {
                gmp::spawn(async {
                    let queued: Vec<_> = (0..100).map(|i| gmp::spawn(async move { i })).collect();
                    spin(Duration::from_millis(300));
                    for q in queued {
                        q.await.unwrap();
                    }
                })
            })
            .collect();
        for h in hogs {
            h.await.unwrap();
        }

        eprintln!("-- phase 4: idle");
        gmp::time::sleep(Duration::from_millis(500)).await;
    });
    let m = rt.handle().metrics();
    eprintln!(
        "done: {} tasks, {} steals, {} handoffs, {} preemptions, {} rescues, {} Ms",
        m.tasks_spawned, m.steals, m.handoffs, m.preemptions, m.rescues, m.threads
    );
    Ok(())
}
