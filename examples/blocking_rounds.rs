//! A fixed amount of `spawn_blocking` work, timed, for A B B A comparisons
//! (`scripts/abba.sh`) of two builds: `blocking_rounds ROUNDS` prints the microseconds that
//! ROUNDS trivial calls awaited one by one, plus ROUNDS more in batches of 16 concurrent ones,
//! took on a 2-P runtime (`GMAXPROCS` overrides).

use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("usage: blocking_rounds ROUNDS");
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let micros = rt.block_on(async move {
        // Warm up: start the Ms the work needs.
        for _ in 0..100 {
            gmp::spawn_blocking(|| ()).await.unwrap();
        }
        let start = Instant::now();
        for i in 0..rounds {
            std::hint::black_box(gmp::spawn_blocking(move || i).await.unwrap());
        }
        for _ in 0..rounds / 16 {
            let hs: Vec<_> = (0..16).map(|i| gmp::spawn_blocking(move || i)).collect();
            for h in hs {
                std::hint::black_box(h.await.unwrap());
            }
        }
        start.elapsed().as_micros()
    });
    println!("{micros}");
}
