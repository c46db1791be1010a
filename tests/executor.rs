//! Integration tests of the executor core: spawning, joining, aborting, stealing, fairness,
//! shutdown. Waits are on conditions with generous deadlines, never bare sleeps.

use futures::channel::oneshot;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn rt(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder().procs(procs).build().unwrap()
}

/// Poll `cond` until it holds, failing after `DEADLINE`.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        std::thread::yield_now();
    }
}

fn spawn_many(procs: usize, n: usize) {
    let rt = rt(procs);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let total = rt.block_on(async move {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let c = c.clone();
                gmp::spawn(async move {
                    c.fetch_add(1, SeqCst);
                    i
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        total
    });
    assert_eq!(count.load(SeqCst), n);
    assert_eq!(total, n * (n - 1) / 2);
    let m = rt.handle().metrics();
    assert_eq!(m.tasks_spawned, n as u64);
    wait_until("all tasks freed", || rt.handle().metrics().live_tasks == 0);
}

#[test]
fn spawn_100k_procs_1() {
    spawn_many(1, 100_000);
}

#[test]
fn spawn_100k_procs_2() {
    spawn_many(2, 100_000);
}

#[test]
fn spawn_100k_procs_4() {
    spawn_many(4, 100_000);
}

/// Each task spawns the next: 10,000 deep, from inside tasks (runnext chain), no stack growth.
#[test]
fn spawn_chain_10k_deep() {
    fn link(depth: usize, done: mpsc::Sender<usize>) {
        if depth == 0 {
            done.send(0).unwrap();
        } else {
            drop(gmp::spawn(async move { link(depth - 1, done) }));
        }
    }
    for procs in [1, 2] {
        let rt = rt(procs);
        let (tx, rx) = mpsc::channel();
        rt.spawn(async move { link(10_000, tx) });
        assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), 0);
    }
}

/// Nested awaits 10,000 deep: each task awaits the JoinHandle of the next.
#[test]
fn join_chain_10k_deep() {
    fn link(depth: usize) -> Pin<Box<dyn Future<Output = usize> + Send>> {
        Box::pin(async move {
            if depth == 0 {
                0
            } else {
                gmp::spawn(link(depth - 1)).await.unwrap() + 1
            }
        })
    }
    let rt = rt(2);
    assert_eq!(rt.block_on(rt.spawn(link(10_000))).unwrap(), 10_000);
}

#[test]
fn ping_pong_1000_pairs() {
    let rt = rt(2);
    let done = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..1000 {
            let done = done.clone();
            handles.push(gmp::spawn(async move {
                let (tx1, rx1) = oneshot::channel::<u32>();
                let (tx2, rx2) = oneshot::channel::<u32>();
                let peer = gmp::spawn(async move {
                    let v = rx1.await.unwrap();
                    tx2.send(v + 1).unwrap();
                });
                tx1.send(1).unwrap();
                assert_eq!(rx2.await.unwrap(), 2);
                peer.await.unwrap();
                done.fetch_add(1, SeqCst);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(done.load(SeqCst), 1000);
}

#[test]
fn panicking_task_leaves_runtime_healthy() {
    let rt = rt(2);
    rt.block_on(async {
        for i in 0..100 {
            let err = gmp::spawn(async move { panic!("boom {i}") })
                .await
                .unwrap_err();
            assert!(err.is_panic());
            assert!(!err.is_cancelled());
            assert_eq!(
                err.to_string(),
                format!("task {} panicked with message \"boom {i}\"", err.id())
            );
            let payload = err.into_panic();
            assert_eq!(
                payload.downcast_ref::<String>().unwrap(),
                &format!("boom {i}")
            );
        }
        // Still schedules work on every P.
        let hs: Vec<_> = (0..1000).map(|i| gmp::spawn(async move { i })).collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i);
        }
    });
    // The Ms survived the panics: no thread per panic was needed (procs, plus the M blocked
    // in netpoll, plus at most one started while the poller was handing over).
    let threads = rt.handle().metrics().threads;
    assert!(threads <= 4, "{threads} Ms for 2 Ps");
}

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn abort_waiting_task() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCounter(drops.clone());
    rt.block_on(async move {
        let (_tx, rx) = oneshot::channel::<()>();
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let h = gmp::spawn(async move {
            let _d = d;
            s.store(true, SeqCst);
            let _ = rx.await;
        });
        while !started.load(SeqCst) {
            gmp::yield_now().await;
        }
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(err.to_string(), format!("task {} was cancelled", err.id()));
    });
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abort_queued_task() {
    // procs = 1 and the blocker holds the only P, so the victim stays queued until aborted.
    let rt = rt(1);
    let ran = Arc::new(AtomicBool::new(false));
    let drops = Arc::new(AtomicUsize::new(0));
    let (r, d) = (ran.clone(), DropCounter(drops.clone()));
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (inside_tx, inside_rx) = mpsc::channel::<()>();
    let blocker = rt.spawn(async move {
        inside_tx.send(()).unwrap();
        go_rx.recv().unwrap(); // holds the P
    });
    inside_rx.recv_timeout(DEADLINE).unwrap();
    let victim = rt.spawn(async move {
        let _d = d;
        r.store(true, SeqCst);
    });
    victim.abort();
    go_tx.send(()).unwrap();
    rt.block_on(blocker).unwrap();
    assert!(rt.block_on(victim).unwrap_err().is_cancelled());
    assert!(!ran.load(SeqCst));
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abort_running_task() {
    let rt = rt(2);
    let (inside_tx, inside_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let after_abort = Arc::new(AtomicBool::new(false));
    let a = after_abort.clone();
    let h = rt.spawn(async move {
        inside_tx.send(()).unwrap();
        go_rx.recv().unwrap(); // aborted while in here
        gmp::yield_now().await;
        a.store(true, SeqCst); // never reached: the abort lands when the poll returns
    });
    inside_rx.recv_timeout(DEADLINE).unwrap();
    h.abort();
    assert!(!h.is_finished());
    go_tx.send(()).unwrap();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert!(!after_abort.load(SeqCst));
}

#[test]
fn abort_finished_task_keeps_output() {
    let rt = rt(1);
    let h = rt.spawn(async { 5 });
    wait_until("task finished", || h.is_finished());
    h.abort();
    assert_eq!(rt.block_on(h).unwrap(), 5);
}

/// Dropping a runtime with 100,000 pending tasks (never started, waiting, queued) drops each
/// future exactly once and frees every task.
#[test]
fn drop_runtime_with_100k_pending_tasks() {
    let drops = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    {
        let rt = rt(2);
        for i in 0..100_000 {
            let d = DropCounter(drops.clone());
            let p = polled.clone();
            if i % 2 == 0 {
                // waits forever on a channel whose sender outlives the runtime
                let (tx, rx) = oneshot::channel::<()>();
                senders.push(tx);
                drop(rt.spawn(async move {
                    let _d = d;
                    p.fetch_add(1, SeqCst);
                    let _ = rx.await;
                }));
            } else {
                drop(rt.spawn(async move {
                    let _d = d;
                    p.fetch_add(1, SeqCst);
                    std::future::pending::<()>().await;
                }));
            }
        }
    }
    assert_eq!(drops.load(SeqCst), 100_000);
    // Wakers outliving the runtime are harmless.
    for tx in senders {
        let _ = tx.send(());
    }
    assert_eq!(drops.load(SeqCst), 100_000);
}

#[test]
fn join_handle_of_dead_runtime_is_cancelled() {
    let rt = rt(1);
    let h = rt.spawn(std::future::pending::<()>());
    drop(rt);
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn spawn_after_shutdown_is_cancelled() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    drop(rt);
    let h = handle.spawn(async { 1 });
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    let obj = futures::task::FutureObj::new(Box::new(async {}));
    assert!(futures::task::Spawn::spawn_obj(&handle, obj).is_err());
    assert!(futures::task::Spawn::status(&handle).is_err());
}

#[test]
fn spawns_from_foreign_threads() {
    let rt = rt(2);
    let count = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let handle = rt.handle().clone();
            let count = count.clone();
            s.spawn(move || {
                let hs: Vec<_> = (0..5_000)
                    .map(|_| {
                        let c = count.clone();
                        handle.spawn(async move {
                            c.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                for h in hs {
                    futures::executor::block_on(h).unwrap();
                }
            });
        }
    });
    assert_eq!(count.load(SeqCst), 20_000);
}

/// One task spawns everything on its own P (fewer tasks than a ring holds, so nothing
/// overflows to the global queue); the other Ps can only get work by stealing — counted.
#[test]
fn stealing_really_happens() {
    let rt = rt(4);
    let ran_on = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let r = ran_on.clone();
    rt.block_on(rt.spawn(async move {
        let hs: Vec<_> = (0..200)
            .map(|_| {
                let r = r.clone();
                gmp::spawn(async move {
                    // ~0.5ms of work each, so the spawner's P has a backlog to steal from.
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_micros(500) {
                        std::hint::spin_loop();
                    }
                    r.lock().unwrap().insert(std::thread::current().id());
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    }))
    .unwrap();
    let m = rt.handle().metrics();
    assert_eq!(m.runq_overflows, 0);
    assert!(m.steals > 0, "no steals: {m:?}");
    assert!(m.stolen_tasks >= m.steals);
    assert!(ran_on.lock().unwrap().len() > 1, "all tasks ran on one M");
}

/// A ring that fills up sends half of itself to the global queue (runqputslow).
#[test]
fn full_ring_overflows_to_global_queue() {
    let rt = rt(1);
    let n = rt.block_on(rt.spawn(async {
        let hs: Vec<_> = (0..1_000).map(|i| gmp::spawn(async move { i })).collect();
        let mut n = 0;
        for h in hs {
            n += h.await.unwrap();
        }
        n
    }));
    assert_eq!(n.unwrap(), 999 * 1000 / 2);
    assert!(rt.handle().metrics().runq_overflows >= 3);
}

/// procs = 1, a task that yields forever keeps its P busy with local work; a task injected from
/// outside still runs (the 1-in-61 global check).
#[test]
fn global_queue_is_not_starved_by_local_work() {
    let rt = rt(1);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = rt.spawn(async move {
        while !s.load(SeqCst) {
            gmp::yield_now().await;
        }
    });
    let (inside_tx, inside_rx) = mpsc::channel();
    let spinner2 = {
        let s = stop.clone();
        rt.spawn(async move {
            inside_tx.send(()).unwrap();
            while !s.load(SeqCst) {
                gmp::yield_now().await;
            }
        })
    };
    inside_rx.recv_timeout(DEADLINE).unwrap();
    let (tx, rx) = mpsc::channel();
    drop(rt.spawn(async move { tx.send(()).unwrap() }));
    rx.recv_timeout(DEADLINE).expect("injected task starved");
    stop.store(true, SeqCst);
    rt.block_on(spinner).unwrap();
    rt.block_on(spinner2).unwrap();
    assert!(rt.handle().metrics().fairness_picks > 0 || rt.handle().metrics().polls > 0);
}

/// A wake during a poll re-queues the task after it returns Pending (not lost, not doubled).
#[test]
fn wake_during_poll_requeues() {
    struct WakeSelfOnce {
        polls: usize,
    }
    impl Future for WakeSelfOnce {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls += 1;
            if self.polls == 3 {
                return Poll::Ready(self.polls);
            }
            // Wake from another thread while we are still inside poll.
            let w = cx.waker().clone();
            std::thread::spawn(move || w.wake()).join().unwrap();
            Poll::Pending
        }
    }
    let rt = rt(2);
    assert_eq!(rt.block_on(rt.spawn(WakeSelfOnce { polls: 0 })).unwrap(), 3);
}

/// A task re-queued by its own wake (or woken by value from another thread) can be stolen,
/// finished and freed by another M while the waking side is still inside `schedule`. Nothing
/// may read the task's memory after it is queued; in debug builds freed tasks are poisoned,
/// so a read there faults. (Before the fix this shape crashed within about a second.)
#[test]
fn tasks_freed_while_their_wake_is_still_scheduling_them() {
    let rt = rt(2);
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < Duration::from_millis(1500) || rounds < 20 {
        rounds += 1;
        let total: usize = rt.block_on(async {
            let (tx, rx) = mpsc::channel::<Waker>();
            // A foreign thread wakes parked tasks by value as they hand it their wakers.
            let waker_thread = std::thread::spawn(move || {
                for w in rx {
                    w.wake();
                }
            });
            let hs: Vec<_> = (0..500)
                .map(|i| {
                    let tx = tx.clone();
                    gmp::spawn(async move {
                        gmp::yield_now().await;
                        gmp::yield_now().await;
                        let mut sent = false;
                        std::future::poll_fn(|cx| {
                            if sent {
                                return Poll::Ready(());
                            }
                            sent = true;
                            tx.send(cx.waker().clone()).unwrap();
                            Poll::Pending
                        })
                        .await;
                        i
                    })
                })
                .collect();
            drop(tx);
            let mut total = 0;
            for h in hs {
                total += h.await.unwrap();
            }
            waker_thread.join().unwrap();
            total
        });
        assert_eq!(total, 499 * 500 / 2);
    }
}

#[test]
fn waker_outliving_runtime_is_harmless() {
    let slot: Arc<std::sync::Mutex<Option<Waker>>> = Default::default();
    {
        let rt = rt(1);
        let s = slot.clone();
        let (tx, rx) = mpsc::channel();
        drop(rt.spawn(futures::future::poll_fn(move |cx| {
            *s.lock().unwrap() = Some(cx.waker().clone());
            let _ = tx.send(());
            Poll::<()>::Pending
        })));
        rx.recv_timeout(DEADLINE).unwrap();
    }
    let w = slot.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    w.wake();
}

#[test]
fn block_on_inside_task_panics_clearly() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let err = rt
        .block_on(gmp::spawn(async move { handle.block_on(async {}) }))
        .unwrap_err();
    let payload = err.into_panic();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        msg.contains("cannot call block_on from inside a gmp task"),
        "{msg}"
    );
}

#[test]
#[should_panic(expected = "already inside block_on")]
fn nested_block_on_panics() {
    let rt = rt(1);
    rt.block_on(async { gmp::block_on(async {}) });
}

#[test]
#[should_panic(expected = "JoinHandle polled after it already returned Poll::Ready")]
fn join_handle_polled_after_ready_panics() {
    let rt = rt(1);
    let mut h = rt.spawn(async { 1 });
    rt.block_on(&mut h).unwrap();
    rt.block_on(&mut h).unwrap();
}

#[test]
fn handle_current() {
    assert!(gmp::Handle::try_current().is_err());
    let rt = rt(2);
    rt.block_on(async {
        assert_eq!(gmp::Handle::current().metrics().procs, 2);
        let inner = gmp::spawn(async { gmp::Handle::current().metrics().procs });
        assert_eq!(inner.await.unwrap(), 2);
    });
    let _g = rt.enter();
    assert_eq!(gmp::Handle::current().metrics().procs, 2);
}

/// `gmp::spawn` on an M goes to the M's own runtime (a borrowed handle, no clone), unless
/// the task has entered another runtime: then there, and back home once the guard drops.
#[test]
fn spawn_inside_a_task_follows_an_entered_runtime() {
    let home = rt(1);
    let other = Arc::new(rt(3));
    let o = other.clone();
    let (before, inside, after) = home
        .block_on(home.spawn(async move {
            let before = gmp::spawn(async { gmp::Handle::current().metrics().procs });
            let inside = {
                let _g = o.enter();
                gmp::spawn(async { gmp::Handle::current().metrics().procs })
            };
            let after = gmp::spawn(async { gmp::Handle::current().metrics().procs });
            (
                before.await.unwrap(),
                inside.await.unwrap(),
                after.await.unwrap(),
            )
        }))
        .unwrap();
    assert_eq!((before, inside, after), (1, 3, 1));
}

#[test]
fn global_runtime_runs_spawns_outside_any_runtime() {
    let h = gmp::spawn(async { gmp::Handle::current().metrics().procs });
    assert!(gmp::block_on(h).unwrap() >= 1);
}

#[test]
fn futures_spawn_trait() {
    use futures::task::SpawnExt;
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    SpawnExt::spawn(rt.handle(), async move { tx.send(7).unwrap() }).unwrap();
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), 7);
}

#[test]
fn join_error_is_std_error() {
    let rt = rt(1);
    let err = rt.block_on(rt.spawn(async { panic!("x") })).unwrap_err();
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(boxed.to_string().contains("panicked"));
}

#[test]
fn threads_are_bounded_by_demand() {
    let rt = gmp::Runtime::builder()
        .procs(2)
        .max_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let hs: Vec<_> = (0..10_000).map(|i| gmp::spawn(async move { i })).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert!(rt.handle().metrics().threads <= 2);
}

#[test]
fn shutdown_timeout_returns_with_a_stuck_task() {
    let rt = rt(1);
    let (inside_tx, inside_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    drop(rt.spawn(async move {
        inside_tx.send(()).unwrap();
        let _ = release_rx.recv(); // stuck in a blocking call
    }));
    inside_rx.recv_timeout(DEADLINE).unwrap();
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(100));
    assert!(start.elapsed() < Duration::from_secs(10));
    release_tx.send(()).unwrap();
}
