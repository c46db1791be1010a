//! A fixed amount of yield-heavy or remote-spawn work, run once, to be measured by
//! instruction count (stable on a noisy machine) — the loop where the cost of reaching a P's
//! owned half shows most (one wake and one poll per yield):
//!
//! ```text
//! cargo bench --bench yield_probe --no-run
//! valgrind --tool=callgrind target/release/deps/yield_probe-* yield    # 1 P, 200k yields
//! valgrind --tool=callgrind target/release/deps/yield_probe-* remote   # 1 P, 100k remote spawns
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
        if shape == "remote" {
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
