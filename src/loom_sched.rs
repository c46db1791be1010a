//! The real scheduler under loom: `Runtime`, its Ms (loom threads), `Sched`, the M loop,
//! blocking sections and a sysmon cycle, in configurations of 1–2 Ps — the code itself, not a
//! copy. The reactor is `reactor::loom_netpoll` (no I/O sources; a blocked poll waits for a
//! break), time stands still unless a model advances it (`loom::time::advance`), and sysmon
//! runs only when a model calls [`Sysmon::cycle`](crate::sysmon::Sysmon::cycle).
//!
//! Each model names the step of `WAKEUPS.md`'s argument it checks. Every model ends with the
//! runtime dropped and accounts for every future: completed, or dropped exactly once by
//! shutdown.
//!
//! The state space of a whole runtime is large: each model sets its own preemption bound
//! (1 or 2; `LOOM_MAX_PREEMPTIONS` does not apply) and branch limit, sized so that the set
//! runs in well under a minute on CI's two cores.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A loom model with its own bounds.
fn model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(preemptions);
    b.max_branches = 20_000;
    b.check(f);
}

fn runtime(procs: usize, max_threads: usize) -> crate::Runtime {
    crate::Runtime::builder()
        .procs(procs)
        .max_threads(max_threads)
        .stuck_rescue(false)
        .build()
        .expect("a loom runtime builds")
}

/// A one-shot whose sender may run on any thread (a wake from outside the runtime).
#[derive(Default)]
struct Slot {
    value: Option<u32>,
    waker: Option<Waker>,
}

fn oneshot() -> (impl FnOnce() + Send, impl Future<Output = u32> + Send) {
    let cell = Arc::new(Mutex::new(Slot::default()));
    let tx_cell = cell.clone();
    let tx = move || {
        let w = {
            let mut g = tx_cell.lock().unwrap();
            g.value = Some(3);
            g.waker.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    };
    let rx = std::future::poll_fn(move |cx| {
        let mut g = cell.lock().unwrap();
        match g.value {
            Some(v) => Poll::Ready(v),
            None => {
                g.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    });
    (tx, rx)
}

/// A future that counts its drops, wrapping `f`.
struct Counted<F> {
    f: F,
    drops: Arc<AtomicUsize>,
}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(&mut self.f).poll(cx)
    }
}

impl<F> Drop for Counted<F> {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// WAKEUPS.md step 1 (global push, then `wakep`): a spawn from the `block_on` thread goes
/// to the global queue and an M is started for it; the result comes back through the
/// `JoinHandle`.
#[test]
fn loom_sched_remote_spawn_runs_and_joins() {
    model(2, || {
        let rt = runtime(1, 2);
        let v = rt.block_on(async { crate::spawn(async { 1 }).await.unwrap() });
        assert_eq!(v, 1);
        drop(rt);
    });
}

/// WAKEUPS.md steps 1 and 3 (a wake from outside goes to the global queue; an M that gives up
/// its P re-checks it after publishing the P idle): a task waiting on a one-shot is woken by
/// the `block_on` thread while the runtime's two Ps are going idle.
#[test]
fn loom_sched_wake_from_outside_two_ps() {
    model(1, || {
        let rt = runtime(2, 2);
        let (tx, rx) = oneshot();
        let h = rt.spawn(rx);
        tx();
        assert_eq!(rt.block_on(h).unwrap(), 3);
        drop(rt);
    });
}

/// Set when some explored execution of the steal model had the second M steal.
static STOLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// WAKEUPS.md step 2 (a push to a P's own ring is run by that P or stolen; `wakep` after a
/// ring push): a task spawns two children on its P (one to runnext, one kicked to the ring,
/// which wakes a second M) on a 2-P runtime, then lets its thread be switched out (a loom
/// yield, where its M would be descheduled by the kernel); both children finish whether the
/// owner runs them or the second M steals. The model also checks that it explored a steal.
#[test]
fn loom_sched_local_spawns_run_or_are_stolen() {
    model(0, || {
        let rt = runtime(2, 2);
        let sum = rt.block_on(async {
            crate::spawn(async {
                let a = crate::spawn(async { 1 });
                let b = crate::spawn(async { 2 });
                loom::thread::yield_now();
                a.await.unwrap() + b.await.unwrap()
            })
            .await
            .unwrap()
        });
        assert_eq!(sum, 3);
        if rt.handle().metrics().steals > 0 {
            STOLE.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        drop(rt);
    });
    assert!(
        STOLE.load(std::sync::atomic::Ordering::Relaxed),
        "no explored execution had the second M steal"
    );
}

/// WAKEUPS.md step 6 (retake and handoff): a task in `block_in_place` races sysmon's retake
/// of its P; whichever CAS wins, the P is held by exactly one M (its owned half in one
/// place — `acquirep` panics otherwise), and the task's result comes back. Replaces the old
/// hand copy of `handoffp` in `pstatus.rs`'s model.
#[test]
fn loom_sched_block_in_place_vs_sysmon_retake() {
    model(1, || {
        let rt = runtime(1, 3);
        let sched = rt.handle().sched.clone();
        let sysmon = loom::thread::spawn(move || {
            let mut sm = crate::sysmon::Sysmon::new(sched);
            crate::loom::time::advance(std::time::Duration::from_millis(50));
            sm.cycle();
            crate::loom::time::advance(std::time::Duration::from_millis(50));
            sm.cycle();
        });
        let v = rt.block_on(async {
            crate::spawn(async { crate::block_in_place(|| 2) })
                .await
                .unwrap()
        });
        assert_eq!(v, 2);
        sysmon.join().unwrap();
        if rt.handle().metrics().handoffs > 0 {
            RETOOK.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        drop(rt);
    });
    assert!(
        RETOOK.load(std::sync::atomic::Ordering::Relaxed),
        "no explored execution had sysmon retake the P"
    );
}

/// Set when some explored execution of the retake model had sysmon hand the P off.
static RETOOK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// WAKEUPS.md step 8 (shutdown): the runtime is dropped while another thread spawns onto it
/// and a third wakes one of its waiting tasks. Every future is dropped exactly once — run
/// to completion, cancelled from the owned list, or cancelled from a queue by shutdown's
/// drain or by the spawner that saw the flag. Replaces the hand copy in
/// `task/spawn_vs_shutdown.rs`.
#[test]
fn loom_sched_shutdown_races_a_remote_spawn_and_a_wake() {
    model(1, || {
        let rt = runtime(1, 2);
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot();
        let waiting = rt.spawn(Counted {
            f: Box::pin(rx),
            drops: drops.clone(),
        });
        drop(waiting);
        let handle = rt.handle().clone();
        let d2 = drops.clone();
        let spawner = loom::thread::spawn(move || {
            drop(handle.spawn(Counted {
                f: Box::pin(async { 7 }),
                drops: d2,
            }));
        });
        let waker = loom::thread::spawn(tx);
        drop(rt);
        spawner.join().unwrap();
        waker.join().unwrap();
        assert_eq!(drops.load(SeqCst), 2, "each future dropped exactly once");
    });
}

/// WAKEUPS.md step 9 (resize): a shrink from 2 Ps to 1 on another thread races a wake from
/// outside (the `block_on` thread) of a task waiting on a one-shot. Whatever the Ms were doing
/// when P1 was marked, taken off the idle list or retired by its M, the task runs once and its
/// result comes back; `procs` ends at 1. (Preemption bound 1: 18 s in release; with a remote
/// spawn added as well it ran for more than 5 minutes.)
#[test]
fn loom_sched_shrink_races_a_remote_wake() {
    model(1, || {
        let rt = runtime(2, 2);
        let (tx, rx) = oneshot();
        let waiting = rt.spawn(rx);
        let handle = rt.handle().clone();
        let resizer = loom::thread::spawn(move || handle.set_procs(1).unwrap());
        tx();
        assert_eq!(rt.block_on(waiting).unwrap(), 3);
        resizer.join().unwrap();
        assert_eq!(rt.handle().metrics().procs, 1);
        drop(rt);
    });
}

/// `sched_ref` (per-P counts of the references task cells hold on the runtime): a task
/// spawned from outside (counted remotely) spawns one on its P (counted there) and joins it;
/// another thread drops the outer task's `JoinHandle` while the runtime is dropped (its Ps
/// folded, one maybe only when its M puts it back). Wherever each reference was counted and
/// released, the runtime is freed once the last one goes: the fold leaves no count behind
/// and releases the guard exactly once.
#[test]
fn loom_sched_refs_free_the_runtime_after_its_last_task() {
    model(1, || {
        let rt = runtime(1, 2);
        let weak = std::sync::Arc::downgrade(&rt.handle().sched);
        let h = rt.spawn(async { crate::spawn(async { 2 }).await.unwrap() });
        let joiner = loom::thread::spawn(move || drop(h));
        drop(rt);
        joiner.join().unwrap();
        assert!(
            weak.upgrade().is_none(),
            "the runtime outlived the last reference on it"
        );
    });
}
