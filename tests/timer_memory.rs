//! 1,000,000 cancelled timeouts give their memory back. Its own test binary: RSS is
//! process-wide, so nothing else may allocate meanwhile.

use std::future::Future;
use std::time::Duration;

fn rt(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder().procs(procs).build().unwrap()
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// 1,000,000 timeouts that never fire, created and dropped: the heaps are cleaned and memory
/// returns to (near) its baseline.
#[test]
fn million_cancelled_timeouts_leave_memory_at_baseline() {
    let rt = rt(2);
    rt.block_on(async {
        // warm up allocator and heaps
        for _ in 0..10_000 {
            let t = gmp::time::timeout(Duration::from_secs(60), std::future::ready(()));
            t.await.unwrap();
        }
    });
    let before = rss_bytes();
    rt.block_on(rt.spawn(async {
        for _ in 0..1_000_000 {
            // A pending timeout is registered (polled once), then dropped.
            let mut t = Box::pin(gmp::time::timeout(
                Duration::from_secs(60),
                std::future::pending::<()>(),
            ));
            let w = futures::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&w);
            assert!(t.as_mut().poll(&mut cx).is_pending());
        }
    }))
    .unwrap();
    let m = rt.handle().metrics();
    assert!(
        m.timers < 300_000,
        "cancelled timers not cleaned: {}",
        m.timers
    );
    // One more add per P triggers the final cleanup.
    rt.block_on(async {
        for _ in 0..64 {
            gmp::spawn(gmp::time::sleep(Duration::from_micros(10)))
                .await
                .unwrap();
        }
    });
    let after = rss_bytes();
    let grown = after.saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "RSS grew by {} MiB after 1M cancelled timeouts",
        grown >> 20
    );
}
