use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
fn main() {
    for procs in [1, 2, 4] {
        let rt = gmp::Runtime::builder().procs(procs).build().unwrap();
        let t = Instant::now();
        let n = rt.block_on(async {
            let c = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..100_000).map(|_| { let c = c.clone(); gmp::spawn(async move { c.fetch_add(1, Ordering::Relaxed); gmp::yield_now().await; }) }).collect();
            for h in hs { h.await.unwrap(); }
            c.load(Ordering::Relaxed)
        });
        println!("procs={procs} n={n} {:?} {:?}", t.elapsed(), rt.handle().metrics());
    }
}
