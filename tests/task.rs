//! `gmp::task`: `JoinSet` (completion order, abort on drop, `shutdown`, panics, the global
//! runtime fallback), `AbortHandle`, `task::id()`, and `block_on` from a blocking section.
//! Waits are on conditions with generous deadlines, never bare sleeps.

#[path = "support/mod.rs"]
mod support;

use futures::channel::oneshot;
use gmp::task::{self, AbortHandle, JoinSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::{wait_until, with_deadline};

const DEADLINE: Duration = Duration::from_secs(60);

fn rt(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder().procs(procs).build().unwrap()
}

/// A deterministic shuffle of `0..n` (xorshift; no `rand` dependency).
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    v
}

/// Counts its drops: a future holding one is dropped exactly once iff the count is exact.
struct CountDrop(Arc<AtomicUsize>);
impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// 10,000 tasks each wait on their own channel; the driver releases them one at a time in a
/// shuffled order, and `join_next` must return exactly the task just released, while the
/// other (up to 9,999) wait. A set that returned tasks in spawn order, or polled a handle
/// that had not finished, would fail at the first step.
fn completion_order(procs: usize) {
    const N: usize = 10_000;
    let rt = rt(procs);
    rt.block_on(async {
        let mut set = JoinSet::new();
        let mut senders = Vec::with_capacity(N);
        for i in 0..N {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(Some(tx));
            set.spawn(async move {
                rx.await.unwrap();
                i
            });
        }
        assert_eq!(set.len(), N);
        for (k, &i) in permutation(N, 0x9E37_79B9 + procs as u64)
            .iter()
            .enumerate()
        {
            senders[i].take().unwrap().send(()).unwrap();
            let got = set.join_next().await.unwrap().unwrap();
            assert_eq!(got, i, "step {k}: released {i}, joined {got}");
            assert_eq!(set.len(), N - k - 1);
        }
        assert!(set.join_next().await.is_none());
    });
}

#[test]
fn join_set_10k_in_completion_order_1p() {
    with_deadline(DEADLINE, "completion order 1P", || completion_order(1));
}

#[test]
fn join_set_10k_in_completion_order_2p() {
    with_deadline(DEADLINE, "completion order 2P", || completion_order(2));
}

/// Many tasks finishing at once on 4 Ps: every one comes back once, with its id.
#[test]
fn join_set_10k_all_joined_once_with_ids() {
    with_deadline(DEADLINE, "10k join_next_with_id", || {
        let rt = rt(4);
        rt.block_on(async {
            let mut set = JoinSet::new();
            let mut ids = std::collections::HashMap::new();
            for i in 0..10_000usize {
                let id = set.spawn(async move { i }).id();
                ids.insert(id, i);
            }
            let mut seen = vec![false; 10_000];
            while let Some(res) = set.join_next_with_id().await {
                let (id, i) = res.unwrap();
                assert_eq!(ids[&id], i);
                assert!(!std::mem::replace(&mut seen[i], true), "{i} joined twice");
            }
            assert!(seen.iter().all(|&s| s));
        });
    });
}

/// Dropping the set aborts every task in it: each future is dropped exactly once.
#[test]
fn join_set_drop_aborts_all_once() {
    with_deadline(DEADLINE, "drop aborts", || {
        const N: usize = 2_000;
        let rt = rt(2);
        let dropped = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let aborts: Vec<AbortHandle> = rt.block_on(async {
            let mut set = JoinSet::new();
            let aborts: Vec<_> = (0..N)
                .map(|_| {
                    let (guard, started) = (CountDrop(dropped.clone()), started.clone());
                    set.spawn(async move {
                        let _guard = guard;
                        started.fetch_add(1, SeqCst);
                        std::future::pending::<()>().await
                    })
                })
                .collect();
            // Half of them running (waiting), the rest perhaps still queued: both are aborted.
            while started.load(SeqCst) < N / 2 {
                gmp::yield_now().await;
            }
            drop(set);
            aborts
        });
        // A cancelled task drops its future first and is marked finished after: wait for both.
        wait_until(DEADLINE, "every aborted future dropped", || {
            dropped.load(SeqCst) == N
        });
        wait_until(DEADLINE, "every aborted task finished", || {
            aborts.iter().all(AbortHandle::is_finished)
        });
        drop(rt);
        assert_eq!(dropped.load(SeqCst), N, "a future dropped twice");
    });
}

/// `shutdown` aborts every task and returns only when all of them have ended.
#[test]
fn join_set_shutdown_waits_for_the_aborts() {
    with_deadline(DEADLINE, "shutdown", || {
        let rt = rt(2);
        for round in 0..50 {
            let dropped = Arc::new(AtomicUsize::new(0));
            rt.block_on(async {
                let mut set = JoinSet::new();
                for _ in 0..200 {
                    let guard = CountDrop(dropped.clone());
                    set.spawn(async move {
                        let _guard = guard;
                        loop {
                            gmp::yield_now().await;
                        }
                    });
                }
                set.shutdown().await;
                assert!(set.is_empty());
                assert_eq!(dropped.load(SeqCst), 200, "round {round}");
                assert!(set.join_next().await.is_none());
            });
        }
    });
}

/// Panics come back as `JoinError::is_panic` with their payload; `join_all` re-raises one.
#[test]
fn join_set_panics_are_join_errors() {
    let rt = rt(2);
    rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..100u32 {
            set.spawn(async move {
                if i % 2 == 0 {
                    panic!("task {i} failed");
                }
                i
            });
        }
        let (mut ok, mut panics) = (0, 0);
        while let Some(res) = set.join_next().await {
            match res {
                Ok(i) => {
                    assert_eq!(i % 2, 1);
                    ok += 1;
                }
                Err(e) => {
                    assert!(e.is_panic(), "{e}");
                    let msg = panic_message(&*e.into_panic());
                    assert!(
                        msg.starts_with("task ") && msg.ends_with(" failed"),
                        "{msg}"
                    );
                    panics += 1;
                }
            }
        }
        assert_eq!((ok, panics), (50, 50));
    });
    // join_all resumes the panic of a failed task.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { panic!("inside join_all") });
            set.spawn(async { 1 });
            set.join_all().await
        })
    }))
    .unwrap_err();
    assert_eq!(panic_message(&*caught), "inside join_all");
}

/// `join_next` on an empty set is ready at once with `None`, without a runtime.
#[test]
fn join_set_empty_is_none_at_once() {
    let mut set: JoinSet<u8> = JoinSet::new();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(set.poll_join_next(&mut cx), Poll::Ready(None)));
    {
        let mut fut = std::pin::pin!(set.join_next());
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(None)));
    }
    assert!(set.try_join_next().is_none());
}

/// A set used on a thread with no runtime spawns on the global runtime, like `gmp::spawn`.
#[test]
fn join_set_without_runtime_uses_the_global_one() {
    let out = std::thread::spawn(|| {
        let mut set = JoinSet::new();
        for i in 0..10u32 {
            set.spawn(async move { i });
        }
        let mut v = gmp::block_on(set.join_all());
        v.sort();
        v
    })
    .join()
    .unwrap();
    assert_eq!(out, (0..10).collect::<Vec<_>>());
}

/// `try_join_next` takes only finished tasks; `detach_all` leaves the tasks running.
#[test]
fn join_set_try_join_next_and_detach_all() {
    let rt = rt(2);
    rt.block_on(async {
        let mut set = JoinSet::new();
        let (tx, rx) = oneshot::channel::<u32>();
        set.spawn(async move { rx.await.unwrap() });
        let fast = set.spawn(async { 1 });
        while !fast.is_finished() {
            gmp::yield_now().await;
        }
        // `is_finished` is set just before the set is told: wait for the set too.
        let first = loop {
            if let Some(r) = set.try_join_next() {
                break r.unwrap();
            }
            gmp::yield_now().await;
        };
        assert_eq!(first, 1);
        assert!(
            set.try_join_next().is_none(),
            "the other task has not finished"
        );
        tx.send(2).unwrap();
        assert_eq!(set.join_next().await.unwrap().unwrap(), 2);

        let (done_tx, done_rx) = oneshot::channel::<()>();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        set.spawn(async move {
            go_rx.await.unwrap();
            done_tx.send(()).unwrap();
            3
        });
        set.detach_all();
        assert!(set.is_empty());
        drop(set);
        go_tx.send(()).unwrap();
        done_rx.await.expect("a detached task keeps running");
    });
}

/// `spawn_on`, `spawn_blocking`, `spawn_blocking_on`, `FromIterator`.
#[test]
fn join_set_spawn_variants() {
    let other = rt(1);
    let rt = rt(2);
    let h = other.handle().clone();
    let mut v = rt.block_on(async move {
        let mut set: JoinSet<u32> = (0..3).map(|i| async move { i }).collect();
        set.spawn_on(async { 10 }, &h);
        set.spawn_blocking(|| 20);
        set.spawn_blocking_on(|| 30, &h);
        set.join_all().await
    });
    v.sort();
    assert_eq!(v, vec![0, 1, 2, 10, 20, 30]);
}

/// An `AbortHandle` cancels a task from another task while a third awaits its `JoinHandle`.
#[test]
fn abort_handle_from_another_task() {
    with_deadline(DEADLINE, "abort handle", || {
        let rt = rt(2);
        rt.block_on(async {
            for _ in 0..1_000 {
                let dropped = Arc::new(AtomicUsize::new(0));
                let guard = CountDrop(dropped.clone());
                let h = gmp::spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                });
                let abort = h.abort_handle();
                assert_eq!(abort.id(), h.id());
                // A third task awaits the JoinHandle (a JoinHandle is itself a future).
                let waiter = gmp::spawn(h);
                let aborter = gmp::spawn({
                    let abort = abort.clone();
                    async move { abort.abort() }
                });
                aborter.await.unwrap();
                let err = waiter.await.unwrap().unwrap_err();
                assert!(err.is_cancelled());
                assert!(abort.is_finished());
                assert_eq!(dropped.load(SeqCst), 1);
                abort.abort(); // finished: nothing happens
            }
        });
    });
}

/// An `AbortHandle` of a finished task does nothing: the output stays for the `JoinHandle`.
/// It outlives the task, the `JoinHandle` and the runtime harmlessly.
#[test]
fn abort_handle_of_finished_task_does_nothing() {
    let rt = rt(1);
    let abort = rt.block_on(async {
        let h = gmp::spawn(async { 42 });
        let abort = h.abort_handle();
        while !abort.is_finished() {
            gmp::yield_now().await;
        }
        abort.abort();
        assert_eq!(h.await.unwrap(), 42);
        abort
    });
    drop(rt);
    abort.abort();
    assert!(abort.is_finished());
}

/// `task::id()` names the running task: in its poll, in a `spawn_blocking` closure, in its
/// future's `Drop` when aborted; `try_id()` is `None` outside a task and in `block_on`.
#[test]
fn task_id_names_the_running_task() {
    let rt = rt(2);
    rt.block_on(async {
        assert_eq!(task::try_id(), None, "block_on's future is not a task");
        for _ in 0..100 {
            let h = gmp::spawn(async {
                let a = task::id();
                gmp::yield_now().await;
                assert_eq!(task::id(), a);
                a
            });
            let id = h.id();
            assert_eq!(h.await.unwrap(), id);
        }
        let h = gmp::spawn_blocking(task::id);
        let id = h.id();
        assert_eq!(h.await.unwrap(), id);

        struct RecordId(Arc<std::sync::Mutex<Option<task::Id>>>);
        impl Drop for RecordId {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = task::try_id();
            }
        }
        let seen = Arc::new(std::sync::Mutex::new(None));
        let rec = RecordId(seen.clone());
        let h = gmp::spawn(async move {
            let _rec = rec;
            std::future::pending::<()>().await
        });
        let id = h.id();
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(*seen.lock().unwrap(), Some(id));
    });
    assert_eq!(task::try_id(), None);
}

#[test]
fn task_id_outside_a_task_panics_clearly() {
    let p = std::panic::catch_unwind(task::id).unwrap_err();
    let msg = panic_message(&*p);
    assert!(msg.contains("task::id() called outside a task"), "{msg}");
}

/// `block_on` inside `spawn_blocking` (with `Handle::block_on`) and inside `block_in_place`
/// (with `gmp::block_on`): the nested future spawns a task and awaits it, and is itself no
/// task. 1,000 rounds each.
fn block_on_in_blocking_section(procs: usize) {
    let rt = rt(procs);
    let handle = rt.handle().clone();
    rt.block_on(async move {
        for i in 0..1_000u64 {
            let h = handle.clone();
            let out = gmp::spawn_blocking(move || {
                h.block_on(async move {
                    assert_eq!(task::try_id(), None);
                    gmp::spawn(async move { i * 2 }).await.unwrap()
                })
            })
            .await
            .unwrap();
            assert_eq!(out, i * 2);

            let out = gmp::spawn(async move {
                let id = task::id();
                let v = gmp::block_in_place(|| {
                    gmp::block_on(async move {
                        let inner = gmp::spawn(async move { i + 1 });
                        gmp::yield_now().await;
                        inner.await.unwrap()
                    })
                });
                // Back in the task: its id again.
                assert_eq!(task::id(), id);
                v
            })
            .await
            .unwrap();
            assert_eq!(out, i + 1);
        }
    });
}

#[test]
fn block_on_in_blocking_section_1p() {
    with_deadline(DEADLINE, "block_on in blocking sections, 1P", || {
        block_on_in_blocking_section(1)
    });
}

#[test]
fn block_on_in_blocking_section_2p() {
    with_deadline(DEADLINE, "block_on in blocking sections, 2P", || {
        block_on_in_blocking_section(2)
    });
}

/// Outside the blocking section the old rules hold: in a task (before and after a
/// `block_in_place`) and nested in a `block_on` that runs inside the section.
#[test]
fn block_on_outside_the_section_still_panics() {
    let rt = rt(1);
    let handle = rt.handle().clone();
    let err = rt
        .block_on(gmp::spawn(async move {
            gmp::block_in_place(|| handle.block_on(async {}));
            handle.block_on(async {})
        }))
        .unwrap_err();
    let msg = panic_message(&*err.into_panic());
    assert!(
        msg.contains("cannot call block_on from inside a gmp task"),
        "{msg}"
    );
    let err = rt
        .block_on(gmp::spawn_blocking(|| {
            gmp::block_on(async { gmp::block_on(async {}) })
        }))
        .unwrap_err();
    let msg = panic_message(&*err.into_panic());
    assert!(msg.contains("already inside block_on"), "{msg}");
}

/// A pinned future type used by `poll_join_next` in the docs compiles with `Pin`.
#[allow(dead_code)]
fn _assert_join_next_is_send(
    set: &mut JoinSet<u8>,
) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        let _ = set.join_next().await;
    })
}
