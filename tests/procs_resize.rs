//! Live resize of `procs` (`Handle::set_procs`, Go's `runtime.GOMAXPROCS(n)` / `procresize`):
//! bad values; up and down 100 times under a seeded mixed load with exact accounting (every
//! task completes exactly once, every future is dropped once, every timer fires and never
//! early); that a shrink really stops the Ps above `procs` (no more polls run at once than
//! `procs`) and a grow brings them back; a shrink while Ps are in `block_in_place`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(60);

/// README "Bad input" rows: `set_procs(0)` and above `max_procs`.
#[test]
fn set_procs_rejects_zero_and_above_max_procs() {
    let rt = gmp::Runtime::builder()
        .procs(2)
        .max_procs(3)
        .build()
        .unwrap();
    let h = rt.handle();
    let err = h.set_procs(0).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("set_procs(0)"), "{err}");
    let err = h.set_procs(4).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("set_procs(4)") && err.to_string().contains("max_procs (3)"),
        "{err}"
    );
    assert_eq!(h.metrics().procs, 2, "a rejected value changes nothing");
    h.set_procs(3).unwrap();
    assert_eq!(h.metrics().procs, 3);
    assert_eq!(h.metrics().per_p.len(), 3);
    // An explicit procs without max_procs: it may shrink and come back, not grow past it.
    let rt2 = gmp::Runtime::builder().procs(2).build().unwrap();
    rt2.handle().set_procs(1).unwrap();
    rt2.handle().set_procs(2).unwrap();
    assert!(rt2.handle().set_procs(3).is_err());
    assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
}

/// README "Bad input" rows: `Builder::max_procs` below `procs`, above 1024, above
/// `max_threads`.
#[test]
fn builder_rejects_bad_max_procs() {
    let err = gmp::Runtime::builder()
        .procs(4)
        .max_procs(2)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_procs(2)"), "{err}");
    let err = gmp::Runtime::builder()
        .procs(4)
        .max_procs(2000)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_procs(2000)"), "{err}");
    let err = gmp::Runtime::builder()
        .procs(2)
        .max_threads(4)
        .max_procs(8)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("max_threads (4)"), "{err}");
}

/// Counts a future's drop; every spawned future owns one.
struct Token(Arc<AtomicUsize>);
impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A seeded mix (nested spawns, yields, foreign-thread wakes, timers, spawn_blocking,
/// block_in_place) while the test thread calls `set_procs` 100 times between 1 and 4, two per
/// batch of 64 tasks while the batch runs (and some tasks call it from inside, on their own
/// P). Every task records its completion in its own slot: each must be 1 at the end.
#[test]
fn set_procs_up_and_down_100_times_under_load() {
    support::with_deadline(DEADLINE, "resize under load", || {
        let seed: u64 = std::env::var("GMP_STRESS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        eprintln!("procs_resize: seed {seed} (replay with GMP_STRESS_SEED={seed})");
        let rt = gmp::Runtime::builder()
            .procs(2)
            .max_procs(4)
            .rng_seed(seed)
            .build()
            .unwrap();
        const TASKS: usize = 4_000;
        let done: Arc<Vec<AtomicU8>> = Arc::new((0..TASKS * 9).map(|_| AtomicU8::new(0)).collect());
        let dropped = Arc::new(AtomicUsize::new(0));
        let timers_started = Arc::new(AtomicU64::new(0));
        let timers_fired = Arc::new(AtomicU64::new(0));

        let mut rng = support::Rng(seed | 1);
        let mut resize_rng = support::Rng(seed ^ 0xabcdef);
        let mut sizes = Vec::new();
        let mut next = 0usize;
        let mut spawned = 0usize;
        // Two resizes per batch of 64 tasks, while the batch runs: 100 in all.
        while sizes.len() < 100 {
            let hs: Vec<_> = (0..64)
                .map(|_| {
                    let (kind, s) = (rng.below(7), rng.next());
                    let slot = next;
                    next += 9;
                    spawned += 1;
                    let token = Token(dropped.clone());
                    let (done, started, fired, dropped) = (
                        done.clone(),
                        timers_started.clone(),
                        timers_fired.clone(),
                        dropped.clone(),
                    );
                    rt.spawn(async move {
                        let _t = token;
                        op(kind, s, slot, &done, &started, &fired, &dropped).await;
                        done[slot].fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for _ in 0..2 {
                let n = 1 + resize_rng.below(4) as usize;
                // (Tasks resize too: what metrics say next is racy here.)
                rt.handle().set_procs(n).unwrap();
                sizes.push(n);
                // Let the Ms reach a scheduling point between resizes, or not.
                if resize_rng.below(2) == 0 {
                    std::thread::sleep(Duration::from_micros(resize_rng.below(2_000)));
                }
            }
            for h in hs {
                rt.block_on(h).unwrap();
            }
            if next + 64 * 9 > done.len() {
                check_done(&done, next);
                next = 0;
            }
        }
        check_done(&done, next);
        assert_eq!(
            timers_fired.load(SeqCst),
            timers_started.load(SeqCst),
            "every timer fires"
        );
        let m = rt.handle().metrics();
        assert_eq!(m.per_p.len(), m.procs);
        eprintln!("procs_resize: {spawned} top-level tasks; {m:?}");
        let h = rt.handle().clone();
        drop(rt);
        // Every future was dropped exactly once (the nested ones counted theirs too).
        support::wait_until(DEADLINE, "every future dropped", || {
            dropped.load(SeqCst) == spawned + nested_total()
        });
        assert_eq!(h.metrics().live_tasks, 0);
    });
}

/// Every task of slots `..next` joined completed exactly once (a top-level slot: exactly once;
/// a nested one: at most once, as the op chose how many to spawn); then clear them.
fn check_done(done: &[AtomicU8], next: usize) {
    for (i, d) in done.iter().enumerate().take(next) {
        let n = d.swap(0, SeqCst);
        if i % 9 == 0 {
            assert_eq!(n, 1, "task slot {i} did not complete exactly once");
        } else {
            assert!(n <= 1, "nested task slot {i} completed {n} times");
        }
    }
}

static NESTED: AtomicUsize = AtomicUsize::new(0);
fn nested_total() -> usize {
    NESTED.load(SeqCst)
}

/// One operation of the mix; `slot + 1 ..= slot + 8` are its nested tasks' completion slots.
async fn op(
    kind: u64,
    seed: u64,
    slot: usize,
    done: &Arc<Vec<AtomicU8>>,
    started: &Arc<AtomicU64>,
    fired: &Arc<AtomicU64>,
    dropped: &Arc<AtomicUsize>,
) {
    let mut rng = support::Rng(seed | 1);
    match kind {
        // nested spawns that yield
        0 => {
            let hs: Vec<_> = (0..1 + rng.below(8) as usize)
                .map(|i| {
                    NESTED.fetch_add(1, SeqCst);
                    let (done, t) = (done.clone(), Token(dropped.clone()));
                    gmp::spawn(async move {
                        let _t = t;
                        for _ in 0..3 {
                            gmp::yield_now().await;
                        }
                        done[slot + 1 + i].fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
        // a wake from a foreign thread
        1 => {
            let (tx, rx) = futures::channel::oneshot::channel();
            std::thread::spawn(move || tx.send(()).unwrap());
            rx.await.unwrap();
        }
        // timers: each must fire, and not early
        2 | 3 => {
            let d = Duration::from_micros(rng.below(3_000));
            started.fetch_add(1, SeqCst);
            let t0 = Instant::now();
            gmp::time::sleep(d).await;
            assert!(t0.elapsed() >= d, "a timer fired early");
            fired.fetch_add(1, SeqCst);
        }
        // a blocking section, short or long enough for a handoff
        4 => {
            let us = rng.below(2_000);
            gmp::spawn_blocking(move || std::thread::sleep(Duration::from_micros(us)))
                .await
                .unwrap();
        }
        5 => {
            let us = rng.below(2_000);
            gmp::block_in_place(|| std::thread::sleep(Duration::from_micros(us)));
            gmp::yield_now().await;
        }
        // a detached child sleeping, then a spawn storm into the local ring
        _ => {
            NESTED.fetch_add(1, SeqCst);
            let (done, t) = (done.clone(), Token(dropped.clone()));
            let (started, fired) = (started.clone(), fired.clone());
            started.fetch_add(1, SeqCst);
            let h = gmp::spawn(async move {
                let _t = t;
                gmp::time::sleep(Duration::from_micros(500)).await;
                fired.fetch_add(1, SeqCst);
                done[slot + 1].fetch_add(1, SeqCst);
            });
            if rng.below(4) == 0 {
                // A resize from inside a task, possibly of its own P.
                let n = 1 + rng.below(4) as usize;
                gmp::Handle::current().set_procs(n).unwrap();
            }
            let storm: Vec<_> = (0..300).map(|_| gmp::spawn(async {})).collect();
            for s in storm {
                s.await.unwrap();
            }
            h.await.unwrap();
        }
    }
}

/// A load that never lets its Ms go idle: 16 tasks, each holding its M in the poll for 2ms (a
/// thread sleep, so how many run at once does not depend on the machine's cores), then
/// yielding, until stopped. `peak` records the most polls seen running at once.
struct Load {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    tasks: Vec<gmp::JoinHandle<()>>,
}

impl Load {
    fn start(rt: &gmp::Runtime) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks = (0..16)
            .map(|_| {
                let (stop, running, peak) = (stop.clone(), running.clone(), peak.clone());
                rt.spawn(async move {
                    while !stop.load(SeqCst) {
                        let n = running.fetch_add(1, SeqCst) + 1;
                        peak.fetch_max(n, SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        running.fetch_sub(1, SeqCst);
                        gmp::yield_now().await;
                    }
                })
            })
            .collect();
        Load { stop, peak, tasks }
    }

    /// The most polls running at once over the next 100ms.
    fn window_peak(&self) -> usize {
        self.peak.store(0, SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        self.peak.load(SeqCst)
    }

    fn stop(self, rt: &gmp::Runtime) {
        self.stop.store(true, SeqCst);
        for t in self.tasks {
            rt.block_on(t).unwrap();
        }
    }
}

/// A shrink stops the Ps above `procs` at their next scheduling point, though their Ms never
/// run out of work (at most `procs` polls at once afterwards); a grow brings them back (as many
/// polls at once as Ps). No stuck-P rescue lends extra Ps. (Without the `retire` mark the
/// shrunk Ps keep running: 4 polls at once until the deadline.) Every P gets its own M
/// whatever the machine's CPU count (`wake_within_cpus(false)`): the load's polls block.
#[test]
fn shrink_stops_busy_ps_and_grow_brings_them_back() {
    support::with_deadline(DEADLINE, "shrink and grow", || {
        let rt = gmp::Runtime::builder()
            .procs(4)
            .stuck_rescue(false)
            .wake_within_cpus(false)
            .build()
            .unwrap();
        let h = rt.handle();
        let load = Load::start(&rt);
        support::wait_until(DEADLINE, "4 polls at once on 4 Ps", || {
            load.window_peak() == 4
        });
        h.set_procs(1).unwrap();
        assert_eq!(h.metrics().procs, 1);
        // The first window may still see Ps finishing the poll they were in.
        support::wait_until(DEADLINE, "1 poll at a time on 1 P", || {
            load.window_peak() == 1
        });
        assert_eq!(load.window_peak(), 1);
        h.set_procs(3).unwrap();
        support::wait_until(DEADLINE, "3 polls at once on 3 Ps", || {
            load.window_peak() == 3
        });
        assert!(load.window_peak() <= 3);
        load.stop(&rt);
        assert_eq!(h.metrics().per_p.len(), 3);
    });
}

/// Shrink while both Ps are in `block_in_place`: the P above `procs` is taken from its blocking
/// section (and dies); the sections return (their `exitsyscall` finds the P gone, or keeps
/// P0), the tasks complete, timers set before the shrink fire, and afterwards at most one poll
/// runs at a time.
#[test]
fn shrink_while_ps_are_in_block_in_place() {
    support::with_deadline(DEADLINE, "shrink in block_in_place", || {
        let rt = gmp::Runtime::builder()
            .procs(2)
            .stuck_rescue(false)
            .build()
            .unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let blockers: Vec<_> = (0..2)
            .map(|_| {
                let (inside, release) = (inside.clone(), release.clone());
                rt.spawn(async move {
                    gmp::block_in_place(|| {
                        inside.fetch_add(1, SeqCst);
                        while !release.load(SeqCst) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    });
                    gmp::yield_now().await;
                    7
                })
            })
            .collect();
        let sleeper = rt.spawn(async {
            gmp::time::sleep(Duration::from_millis(30)).await;
            1
        });
        support::wait_until(DEADLINE, "both tasks in block_in_place", || {
            inside.load(SeqCst) == 2
        });
        rt.handle().set_procs(1).unwrap();
        // Work still runs while both blocking sections last.
        let others: Vec<_> = (0..100).map(|i| rt.spawn(async move { i })).collect();
        for (i, h) in others.into_iter().enumerate() {
            assert_eq!(rt.block_on(h).unwrap(), i);
        }
        assert_eq!(rt.block_on(sleeper).unwrap(), 1);
        release.store(true, SeqCst);
        for b in blockers {
            assert_eq!(rt.block_on(b).unwrap(), 7);
        }
        let load = Load::start(&rt);
        support::wait_until(DEADLINE, "1 poll at a time on 1 P", || {
            load.window_peak() == 1
        });
        load.stop(&rt);
        let m = rt.handle().metrics();
        assert_eq!((m.procs, m.per_p.len()), (1, 1));
    });
}
