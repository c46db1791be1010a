//! Scheduling latency (`RuntimeMetrics::sched_latency`) and task states
//! (`RuntimeMetrics::tasks_{runnable,running,blocking,waiting}`): the histogram counts exactly
//! the sampled polls and puts a known delay in its bucket; the states add up to the live tasks
//! under a mixed load and agree with `Handle::dump`.

use gmp::{SchedLatency, TaskId, TaskState};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `wait_until`, and on a timeout the runtime's view too: its metrics (per-P queues, idle Ps
/// and Ms) and task dump say which hand-off left the work waiting.
fn wait_until_or_dump(rt: &gmp::Runtime, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() >= DEADLINE {
            let h = rt.handle();
            panic!(
                "timed out waiting for: {what}\n{:#?}\n{}",
                h.metrics(),
                h.dump()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn id_u64(id: TaskId) -> u64 {
    id.to_string().parse().unwrap()
}

/// The sampling rule, from outside: the runnable period before a task's poll number `k + 1`
/// (after `k` polls) is timed when `(id + k) % SAMPLE_PERIOD == 0`.
fn sampled(id: TaskId, k: u64) -> bool {
    (id_u64(id) + k) % u64::from(SchedLatency::SAMPLE_PERIOD) == 0
}

/// 300 tasks that yield 0..=29 times each (so each is polled 1..=30 times), on 1 P: the
/// histogram holds exactly one sample per sampled runnable period, and about 1 in
/// `SAMPLE_PERIOD` of all.
#[test]
fn histogram_counts_exactly_the_sampled_polls() {
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    let before = rt.handle().metrics();
    assert_eq!(before.sched_latency.count(), 0);
    assert_eq!(before.sched_latency.p50(), None);
    let hs: Vec<_> = (0..300u64)
        .map(|i| {
            let yields = i % 30;
            (
                yields,
                rt.spawn(async move {
                    for _ in 0..yields {
                        gmp::yield_now().await;
                    }
                }),
            )
        })
        .collect();
    let mut want = 0;
    let mut polls = 0;
    for (yields, h) in hs {
        let id = h.id();
        rt.block_on(h).unwrap();
        polls += yields + 1;
        want += (0..=yields).filter(|&k| sampled(id, k)).count() as u64;
    }
    let m = rt.handle().metrics();
    assert_eq!(m.polls, polls);
    let lat = &m.sched_latency;
    assert_eq!(lat.count(), want, "{lat:?}");
    assert_eq!(lat.buckets().map(|b| b.count).sum::<u64>(), want);
    // One in SAMPLE_PERIOD, give or take one per task (the ids' offsets).
    let period = u64::from(SchedLatency::SAMPLE_PERIOD);
    assert!(want.abs_diff(polls / period) <= 300, "{want} of {polls}");
    assert!(want > 0, "nothing sampled in {polls} polls");
    let (p50, p99, max) = (lat.p50().unwrap(), lat.p99().unwrap(), lat.max().unwrap());
    assert!(p50 <= p99 && p99 <= max, "{lat:?}");
    assert!(max < DEADLINE, "{lat:?}");
}

/// A task made runnable while the only P is busy for 20 ms waits at least that long: its
/// sample lands in a bucket that reaches past 20 ms and starts no later than the wait measured
/// from outside.
#[test]
fn a_known_delay_lands_in_its_bucket() {
    let rt = gmp::Runtime::builder()
        .procs(1)
        .stuck_rescue(false) // a rescue would run the waiting tasks on a reserve P before 20 ms
        .build()
        .unwrap();
    let busy = Duration::from_millis(20);
    let measured = rt
        .block_on(rt.spawn(async move {
            // Spawn until a task whose first run is sampled; the others run after us too.
            let mut hs = Vec::new();
            loop {
                let made = Instant::now();
                let h = gmp::spawn(async move { made.elapsed() });
                let first_sampled = sampled(h.id(), 0);
                hs.push(h);
                if first_sampled {
                    break;
                }
            }
            // Keep the P for 20 ms: everything spawned above waits behind us.
            let start = Instant::now();
            while start.elapsed() < busy {
                std::hint::spin_loop();
            }
            let last = hs.pop().unwrap();
            for h in hs {
                h.await.unwrap();
            }
            last.await.unwrap()
        }))
        .unwrap();
    assert!(measured >= busy);
    let lat = rt.handle().metrics().sched_latency;
    // Its bucket: reaching past the busy time, starting no later than the wait measured. (Other
    // samples are short, unless the OS stalls the M: not asserted, to stay robust on a loaded
    // machine.)
    assert!(
        lat.buckets()
            .any(|b| b.count > 0 && b.end > busy && b.start <= measured),
        "no sample between {busy:?} and {measured:?}: {lat:?}"
    );
    let max = lat.max().unwrap();
    assert!(max >= busy, "max {max:?}");
    assert_eq!(lat.quantile(1.0), Some(max));
}

/// Stops the spinners and ends the blocking call when dropped, also when an assertion fails:
/// otherwise the runtime's drop would wait for them forever.
struct Release {
    spin: Arc<AtomicBool>,
    unblock: Option<mpsc::Sender<()>>,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.spin.store(false, SeqCst);
        if let Some(tx) = self.unblock.take() {
            let _ = tx.send(());
        }
    }
}

/// A mixed load on 2 Ps: waiting tasks, one `spawn_blocking` call in its blocking section,
/// two tasks spinning on both Ps, and tasks queued behind them. The states add up to the
/// live tasks, match the dump, and drop to zero once everything is released.
#[test]
fn task_states_add_up_and_match_the_dump() {
    let rt = gmp::Runtime::builder()
        .procs(2)
        .stuck_rescue(false) // a rescue would run the queued tasks
        .build()
        .unwrap();
    let states = |m: &gmp::RuntimeMetrics| {
        (
            m.tasks_runnable,
            m.tasks_running,
            m.tasks_blocking,
            m.tasks_waiting,
        )
    };
    // 10 waiting.
    let mut senders = Vec::new();
    let mut hs = Vec::new();
    for _ in 0..10 {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        senders.push(tx);
        hs.push(rt.spawn(async move {
            let _ = rx.await;
        }));
    }
    wait_until("10 waiting", || {
        states(&rt.handle().metrics()) == (0, 0, 0, 10)
    });
    // 1 in a blocking section.
    let (unblock, blocked) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let blocking = rt.spawn(async move {
        gmp::spawn_blocking(move || {
            entered_tx.send(()).unwrap();
            blocked.recv().unwrap();
        })
        .await
        .unwrap();
    });
    entered.recv_timeout(DEADLINE).unwrap();
    // 2 running: they take both Ps (sysmon hands the blocking section's P on, work is queued).
    let spin = Arc::new(AtomicBool::new(true));
    let release = Release {
        spin: spin.clone(),
        unblock: Some(unblock),
    };
    let spinning = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..2 {
        let (spin, spinning) = (spin.clone(), spinning.clone());
        hs.push(rt.spawn(async move {
            spinning.fetch_add(1, SeqCst);
            while spin.load(SeqCst) {
                std::hint::spin_loop();
            }
        }));
    }
    wait_until_or_dump(&rt, "both spinners on a P", || spinning.load(SeqCst) == 2);
    // 5 runnable, queued behind the spinners.
    for _ in 0..5 {
        hs.push(rt.spawn(async {}));
    }
    // (The spawn_blocking task itself waits on its inner task: one more waiting.)
    let want = (5, 2, 1, 11);
    wait_until_or_dump(&rt, "the mixed load's states", || {
        states(&rt.handle().metrics()) == want
    });
    let m = rt.handle().metrics();
    assert_eq!(states(&m), want);
    assert_eq!(m.live_tasks, 5 + 2 + 1 + 11);
    assert_eq!(m.tasks_spawned, m.tasks_completed + m.live_tasks as u64);
    let dump = rt.handle().dump();
    let count = |s: TaskState| dump.tasks.iter().filter(|t| t.state == s).count();
    assert_eq!(count(TaskState::Runnable) + dump.unpolled, m.tasks_runnable);
    assert_eq!(count(TaskState::Running), m.tasks_running, "{dump}");
    assert_eq!(count(TaskState::Syscall), m.tasks_blocking, "{dump}");
    assert_eq!(count(TaskState::Waiting), m.tasks_waiting, "{dump}");
    // A second read with nothing moving says the same.
    assert_eq!(states(&rt.handle().metrics()), want);

    // Release everything: all states drain to zero.
    drop(release);
    drop(senders);
    rt.block_on(async {
        for h in hs {
            h.await.unwrap();
        }
        blocking.await.unwrap();
    });
    wait_until("every task done", || {
        let m = rt.handle().metrics();
        m.live_tasks == 0 && states(&m) == (0, 0, 0, 0)
    });
}

/// Bad input: a quantile outside `0.0..=1.0` (or NaN) panics with a message naming it.
#[test]
fn quantile_outside_the_unit_interval_panics_naming_it() {
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    let lat = rt.handle().metrics().sched_latency;
    for q in [1.5, -0.1, f64::NAN] {
        let err = std::panic::catch_unwind(|| lat.quantile(q)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains(&format!("SchedLatency::quantile({q})"))
                && msg.contains("must be within 0.0..=1.0"),
            "{msg}"
        );
    }
    assert_eq!(lat.quantile(0.0), None); // in range, no samples yet
}
