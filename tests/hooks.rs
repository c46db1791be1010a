//! Runtime thread hooks: `on_thread_start`/`on_thread_stop` run once on every M (blocking
//! ones included, never on sysmon), `on_thread_park`/`on_thread_unpark` in pairs, and a
//! panicking hook is caught, reported once, and does not kill the M. Waits are on conditions
//! with generous deadlines, never bare sleeps.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use support::with_deadline;

const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Seen {
    /// Per thread: (name, starts, stops).
    threads: Mutex<HashMap<ThreadId, (String, usize, usize)>>,
    no_handle_in_start: AtomicUsize,
    parks: AtomicUsize,
    unparks: AtomicUsize,
}

/// Four blocking calls that each wait until all four run at once force Ms beyond the 2 Ps
/// (sysmon hands the Ps of the first ones to new Ms). Every M created runs the start hook
/// once and, by the time the runtime has dropped, the stop hook once; sysmon runs neither.
#[test]
fn start_and_stop_run_once_on_every_m() {
    with_deadline(DEADLINE, "hooks", || {
        let seen = Arc::new(Seen::default());
        let (a, b, c, d) = (seen.clone(), seen.clone(), seen.clone(), seen.clone());
        let rt = gmp::Runtime::builder()
            .procs(2)
            .thread_name("hooked")
            .on_thread_start(move || {
                let t = std::thread::current();
                let name = t.name().unwrap_or("").to_string();
                a.threads
                    .lock()
                    .unwrap()
                    .entry(t.id())
                    .or_insert((name, 0, 0))
                    .1 += 1;
                if gmp::Handle::try_current().is_err() {
                    a.no_handle_in_start.fetch_add(1, SeqCst);
                }
            })
            .on_thread_stop(move || {
                let t = std::thread::current();
                let name = t.name().unwrap_or("").to_string();
                b.threads
                    .lock()
                    .unwrap()
                    .entry(t.id())
                    .or_insert((name, 0, 0))
                    .2 += 1;
            })
            .on_thread_park(move || {
                c.parks.fetch_add(1, SeqCst);
            })
            .on_thread_unpark(move || {
                d.unparks.fetch_add(1, SeqCst);
            })
            .build()
            .unwrap();
        let max_threads = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let handle = rt.handle().clone();
        rt.block_on(async {
            let calls: Vec<_> = (0..4)
                .map(|_| {
                    let (running, max_threads, handle) =
                        (running.clone(), max_threads.clone(), handle.clone());
                    gmp::spawn_blocking(move || {
                        running.fetch_add(1, SeqCst);
                        let start = Instant::now();
                        while running.load(SeqCst) < 4 {
                            assert!(
                                start.elapsed() < DEADLINE,
                                "blocking calls never overlapped"
                            );
                            max_threads.fetch_max(handle.metrics().threads, SeqCst);
                            std::thread::yield_now();
                        }
                    })
                })
                .collect();
            for c in calls {
                c.await.unwrap();
            }
        });
        drop(rt);
        let threads = seen.threads.lock().unwrap();
        assert!(
            threads.len() >= 4,
            "only {} Ms for 4 overlapping blocking calls",
            threads.len()
        );
        assert!(threads.len() >= max_threads.load(SeqCst));
        for (name, starts, stops) in threads.values() {
            assert!(name.starts_with("hooked-m"), "a hook ran on {name:?}");
            assert_eq!((*starts, *stops), (1, 1), "{name}: starts/stops");
        }
        assert_eq!(seen.no_handle_in_start.load(SeqCst), 0);
        let (parks, unparks) = (seen.parks.load(SeqCst), seen.unparks.load(SeqCst));
        assert!(parks >= 1);
        assert_eq!(parks, unparks, "park/unpark out of pairs");
    });
}

/// Spare Ms that leave after `thread_keep_alive` run their stop hook too.
#[test]
fn spare_m_leaving_runs_stop() {
    with_deadline(DEADLINE, "spare M stop hook", || {
        let (starts, stops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (a, b) = (starts.clone(), stops.clone());
        let rt = gmp::Runtime::builder()
            .procs(1)
            .thread_keep_alive(Duration::from_millis(20))
            .on_thread_start(move || {
                a.fetch_add(1, SeqCst);
            })
            .on_thread_stop(move || {
                b.fetch_add(1, SeqCst);
            })
            .build()
            .unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let calls: Vec<_> = (0..4)
                .map(|_| {
                    let running = running.clone();
                    gmp::spawn_blocking(move || {
                        running.fetch_add(1, SeqCst);
                        let start = Instant::now();
                        while running.load(SeqCst) < 4 {
                            assert!(start.elapsed() < DEADLINE);
                            std::thread::yield_now();
                        }
                    })
                })
                .collect();
            for c in calls {
                c.await.unwrap();
            }
        });
        // Ms beyond procs + 1 leave after the keep-alive, each running its stop hook. The hook
        // runs before the M is taken out of the thread count, so wait for both.
        let start = Instant::now();
        while stops.load(SeqCst) == 0 || rt.handle().metrics().threads >= starts.load(SeqCst) {
            assert!(start.elapsed() < DEADLINE, "no spare M left");
            std::thread::yield_now();
        }
        drop(rt);
        assert_eq!(starts.load(SeqCst), stops.load(SeqCst));
    });
}

/// The child of `panicking_hooks_are_caught_and_reported_once`: every hook panics, on every
/// call; the runtime must still run tasks, including blocking ones on extra Ms, and shut down.
#[test]
fn panicking_hooks_child() {
    if std::env::var_os("GMP_HOOKS_CHILD").is_none() {
        return; // only meaningful when run by the parent test
    }
    let rt = gmp::Runtime::builder()
        .procs(2)
        .on_thread_start(|| panic!("start boom"))
        .on_thread_stop(|| panic!("stop boom"))
        .on_thread_park(|| panic!("park boom"))
        .on_thread_unpark(|| panic!("unpark boom"))
        .build()
        .unwrap();
    let sum = rt.block_on(async {
        let mut total = 0;
        for i in 0..200u64 {
            total += gmp::spawn(async move { i }).await.unwrap();
            total += gmp::spawn_blocking(move || i).await.unwrap();
        }
        total
    });
    assert_eq!(sum, 2 * (199 * 200 / 2));
    drop(rt);
    eprintln!("child done");
}

#[test]
fn panicking_hooks_are_caught_and_reported_once() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "panicking_hooks_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GMP_HOOKS_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("child done"), "{stderr}");
    for kind in ["start", "stop", "park", "unpark"] {
        let line = format!("gmp: the on_thread_{kind} hook panicked ({kind} boom)");
        assert_eq!(stderr.matches(&line).count(), 1, "{line}: {stderr}");
    }
}
