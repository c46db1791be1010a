//! Shutdown under load: dropping a runtime while 100,000 tasks, 1,000 blocking calls and 1,000
//! sockets are live returns within `shutdown_timeout`, drops every future exactly once and
//! closes every descriptor.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn shutdown_under_load_drops_everything_once() {
    let fds_before = open_fds();
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = gmp::Runtime::builder()
        .procs(2)
        .max_threads(1_100)
        .build()
        .unwrap();
    // 100,000 tasks waiting forever.
    for _ in 0..100_000 {
        let d = DropCount(drops.clone());
        drop(rt.spawn(async move {
            let _d = d;
            std::future::pending::<()>().await;
        }));
    }
    // 1,000 blocking calls in flight (each ends within 200ms of the shutdown).
    let started = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        let (d, s) = (DropCount(drops.clone()), started.clone());
        drop(rt.spawn(async move {
            let _d = d;
            gmp::spawn_blocking(move || {
                s.fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(200));
            })
            .await
            .ok();
        }));
    }
    // 1,000 sockets: 500 connected pairs, each side read by a task that waits forever.
    let listener_addr = rt.block_on(rt.spawn({
        let drops = drops.clone();
        async move {
            let listener = gmp::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for _ in 0..500 {
                let client = gmp::net::TcpStream::connect(addr).await.unwrap();
                let (server, _) = listener.accept().await.unwrap();
                for mut s in [client, server] {
                    let d = DropCount(drops.clone());
                    drop(gmp::spawn(async move {
                        let _d = d;
                        let mut buf = [0u8; 16];
                        let _ = s.read(&mut buf).await;
                    }));
                }
            }
            addr
        }
    }));
    assert!(listener_addr.is_ok());
    let deadline = Instant::now() + Duration::from_secs(60);
    while started.load(SeqCst) < 50 {
        assert!(Instant::now() < deadline, "blocking calls never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    let live = rt.handle().metrics().live_tasks;
    assert!(live >= 101_000, "{live} live tasks");
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_secs(5));
    let took = start.elapsed();
    eprintln!("shutdown with 102,000 live tasks took {took:?}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    // Blocking closures still running finish on their own; their tasks were cancelled.
    let deadline = Instant::now() + Duration::from_secs(30);
    while drops.load(SeqCst) < 102_000 {
        assert!(
            Instant::now() < deadline,
            "only {} of 102,000 futures dropped",
            drops.load(SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(drops.load(SeqCst), 102_000, "a future was dropped twice");
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_fds() > fds_before + 2 {
        assert!(
            Instant::now() < deadline,
            "descriptors leaked: {} before, {} after",
            fds_before,
            open_fds()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Tasks that were never polled are in no list, only in run queues: shutdown must still cancel
/// every one (drop its future, resolve its handle). The only P is held by a task that does not
/// return until shutdown is over, so none of the 10,000 can be polled first.
#[test]
fn shutdown_cancels_tasks_never_polled() {
    let drops = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicUsize::new(0));
    let rt = gmp::Runtime::builder()
        .procs(1)
        .stuck_rescue(false)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let (r, d) = (release.clone(), DropCount(drops.clone()));
    let blocker = rt.spawn(async move {
        let _d = d;
        r.store(1, SeqCst);
        while r.load(SeqCst) == 1 {
            std::hint::spin_loop();
        }
    });
    wait_for("blocker running", || release.load(SeqCst) == 1);
    let queued: Vec<_> = (0..10_000)
        .map(|_| {
            let d = DropCount(drops.clone());
            rt.spawn(async move {
                let _d = d;
            })
        })
        .collect();
    assert_eq!(handle.dump().unpolled, 10_000);
    // The M stays inside the blocker's poll: shutdown gives up waiting for it after 50ms.
    rt.shutdown_timeout(Duration::from_millis(50));
    assert_eq!(drops.load(SeqCst), 10_000, "queued futures not all dropped");
    assert!(queued.iter().all(|h| h.is_finished()));
    for h in queued {
        let err = futures::executor::block_on(h).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    }
    release.store(2, SeqCst);
    // The poll that outlived the timeout runs to its end (here: to completion).
    wait_for("blocker finished", || blocker.is_finished());
    assert!(futures::executor::block_on(blocker).is_ok());
    assert_eq!(drops.load(SeqCst), 10_001);
}

/// Threads outside the runtime spawning while it shuts down: every handle resolves, every
/// future is dropped exactly once — whether the spawn landed before shutdown, during its queue
/// drain, or after.
#[test]
fn spawns_racing_shutdown_lose_no_task() {
    let drops = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let after = Arc::new(AtomicUsize::new(0));
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let spawners: Vec<_> = (0..3)
        .map(|i| {
            let (handle, drops, created, after) = (
                rt.handle().clone(),
                drops.clone(),
                created.clone(),
                after.clone(),
            );
            std::thread::spawn(move || {
                let mut hs = Vec::new();
                // Keep spawning until 2,000 spawns have happened after shutdown returned.
                while after.load(SeqCst) < 2_000 {
                    if after.load(SeqCst) > 0 {
                        after.fetch_add(1, SeqCst);
                    }
                    let d = DropCount(drops.clone());
                    created.fetch_add(1, SeqCst);
                    hs.push(handle.spawn(async move {
                        let _d = d;
                        if i == 0 {
                            // Some wait forever (listed), the rest finish in their first poll.
                            std::future::pending::<()>().await;
                        }
                        gmp::yield_now().await;
                    }));
                }
                hs
            })
        })
        .collect();
    wait_for("spawns under way", || created.load(SeqCst) > 30_000);
    drop(rt);
    after.store(1, SeqCst);
    let handles: Vec<_> = spawners
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    wait_for("every handle resolved", || {
        handles.iter().all(|h| h.is_finished())
    });
    assert_eq!(drops.load(SeqCst), created.load(SeqCst));
    assert_eq!(handles.len(), created.load(SeqCst));
}
