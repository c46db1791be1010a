//! Loom models of the real task code (`core`, `raw`, `join`, `abort`, `owned`), not a copy:
//! `new_task`, `Notified::run`, the waker's vtable, `JoinHandle` poll and drop, `abort` and
//! runtime shutdown, against [`TestSched`], a [`Schedule`] whose run queue is a loom
//! `Mutex<VecDeque>`.
//!
//! Each model checks, at its end, that the task was freed (every reference released: the
//! scheduler counts cells allocated and freed), that its future was dropped exactly once, and
//! that every loom `Arc` is gone (loom reports a leak otherwise). A freed cell is overwritten
//! and kept until the model ends, so a read of it after the free (2fbbd11's shape: a wake still
//! inside `schedule` on a task another thread completed and freed) reads poison and faults
//! instead of finding the old values.

use super::first_poll::FirstPoll;
use super::owned::OwnedTasks;
use super::schedule::{Schedule, TaskAlloc};
use super::{new_task, shutdown, shutdown_queued, JoinError, JoinHandle, Notified, TaskId};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use loom::thread;
use std::alloc::Layout;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// What a freed cell's words read as.
const POISON_WORD: usize = usize::from_ne_bytes([0xa5; size_of::<usize>()]);

/// A scheduler with one FIFO queue and no Ps.
struct TestSched {
    queue: Mutex<VecDeque<Notified<Sched>>>,
    owned: OwnedTasks,
    shutdown: AtomicBool,
    /// Calls to `schedule` (wakes and re-queues; the spawn's entry is pushed by the model).
    scheduled: AtomicUsize,
    /// Task cells allocated and not yet freed.
    live: AtomicUsize,
    /// Freed cells, poisoned, given back to the allocator when the scheduler goes.
    graveyard: std::sync::Mutex<Vec<(usize, Layout)>>,
    /// The one P's first-poll record.
    first_poll: FirstPoll,
}

type Sched = Arc<TestSched>;

impl Schedule for Sched {
    fn schedule(&self, task: Notified<Sched>, _is_yield: bool) {
        crate::loom::lock(&self.queue).push_back(task);
        self.scheduled.fetch_add(1, Relaxed);
        // After the push, as `Sched::ready` goes on to wake peers: `self` may live in the
        // task's cell, which must still be alive here (the caller's own reference). Loom sees
        // only its own objects, so first an access that conflicts with `free_task`'s (loom
        // then runs the other order too: the task run, completed and freed first), then a
        // volatile read of the handle's word: a freed cell's poison fails the check.
        self.live.load(Acquire);
        // SAFETY: `self` is a live reference (if the protocol holds), one word.
        let word = unsafe { std::ptr::read_volatile((self as *const Sched).cast::<usize>()) };
        assert_ne!(word, POISON_WORD, "schedule ran on a freed task cell");
    }

    fn coarse_now(&self) -> u64 {
        2
    }

    fn now_ns(&self) -> u64 {
        3
    }

    fn owned(&self) -> &OwnedTasks {
        &self.owned
    }

    fn current_p(&self) -> Option<usize> {
        None
    }

    fn first_poll_record(&self, _p: usize) -> &FirstPoll {
        &self.first_poll
    }

    fn first_poll_lost_returned(&self, _id: u64) {
        unreachable!("the loom scheduler never hands a P off");
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Acquire)
    }

    fn alloc_task(&self, layout: Layout) -> TaskAlloc<Sched> {
        self.live.fetch_add(1, Relaxed);
        // SAFETY: a task cell is never zero-sized.
        let mem = NonNull::new(unsafe { std::alloc::alloc(layout) })
            .unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        TaskAlloc {
            mem,
            id: TaskId::new(1),
            p: None,
            sched: self.clone(),
        }
    }

    unsafe fn free_task(self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the cell is dead and `layout` is its size.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0xa5, layout.size()) };
        self.graveyard
            .lock()
            .unwrap()
            .push((ptr.as_ptr() as usize, layout));
        self.live.fetch_sub(1, Relaxed);
    }

    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(self, other)
    }
}

impl Drop for TestSched {
    fn drop(&mut self) {
        for (ptr, layout) in self.graveyard.get_mut().unwrap().drain(..) {
            // SAFETY: allocated by `alloc_task` with this layout, and dead.
            unsafe { std::alloc::dealloc(ptr as *mut u8, layout) };
        }
    }
}

impl TestSched {
    fn new() -> Sched {
        Arc::new(TestSched {
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(1),
            shutdown: AtomicBool::new(false),
            scheduled: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            graveyard: std::sync::Mutex::new(Vec::new()),
            first_poll: FirstPoll::new(),
        })
    }

    fn pop(&self) -> Option<Notified<Sched>> {
        crate::loom::lock(&self.queue).pop_front()
    }

    /// Run queued tasks until the queue is empty (an M's loop).
    fn run_all(sched: &Sched) {
        while let Some(t) = sched.pop() {
            t.run(0, sched);
        }
    }

    /// Pop one task, spinning until one is queued, and run it.
    fn run_one_spinning(sched: &Sched) {
        loop {
            if let Some(t) = sched.pop() {
                t.run(0, sched);
                return;
            }
            thread::yield_now();
        }
    }

    /// `Sched::shutdown`'s task part: close the owned list and cancel its tasks, then cancel
    /// the queued ones.
    fn shut_down(&self) {
        self.shutdown.store(true, SeqCst);
        for t in self.owned.close_and_drain() {
            // SAFETY: `close_and_drain` hands over each task's list reference.
            unsafe { shutdown(t) };
        }
        while let Some(t) = self.pop() {
            shutdown_queued(t);
        }
    }
}

/// What a model's future shares with the model: where it publishes its waker, how often it
/// was polled, how often dropped.
struct Probe {
    waker: Mutex<Option<Waker>>,
    polls: AtomicUsize,
    drops: AtomicUsize,
}

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe {
            waker: Mutex::new(None),
            polls: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
        })
    }

    /// Take the published waker, spinning until the task's poll has published it.
    fn take_waker(&self) -> Waker {
        loop {
            if let Some(w) = crate::loom::lock(&self.waker).take() {
                return w;
            }
            thread::yield_now();
        }
    }
}

/// Polls: publishes a clone of its waker and returns `Pending`, up to `pending` times; then
/// `Ready(7)`.
struct ProbeFuture {
    probe: Arc<Probe>,
    pending: usize,
}

impl Future for ProbeFuture {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let n = self.probe.polls.fetch_add(1, Relaxed);
        if n >= self.pending {
            return Poll::Ready(7);
        }
        *crate::loom::lock(&self.probe.waker) = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ProbeFuture {
    fn drop(&mut self) {
        self.probe.drops.fetch_add(1, Relaxed);
    }
}

/// Spawn a `ProbeFuture` on `sched` and queue it.
fn spawn(sched: &Sched, probe: &Arc<Probe>, pending: usize) -> JoinHandle<u32> {
    let fut = ProbeFuture {
        probe: probe.clone(),
        pending,
    };
    let (notified, join) = new_task(fut, sched, Location::caller());
    crate::loom::lock(&sched.queue).push_back(notified.expect("not shut down"));
    join
}

/// Poll a join handle once from a plain thread.
fn poll_join(join: &mut JoinHandle<u32>) -> Poll<Result<u32, JoinError>> {
    poll_join_counting(join).0
}

/// Poll a join handle once, with a waker that counts its wakes.
fn poll_join_counting(
    join: &mut JoinHandle<u32>,
) -> (
    Poll<Result<u32, JoinError>>,
    std::sync::Arc<crate::loom::WakeCount>,
) {
    let (count, waker) = crate::loom::counting_waker();
    (Pin::new(join).poll(&mut Context::from_waker(&waker)), count)
}

/// The end of every model: nothing queued, the future dropped once, the cell freed.
fn assert_all_released(sched: Sched, probe: &Probe) {
    assert!(sched.pop().is_none(), "a task left in the queue");
    assert!(crate::loom::lock(&probe.waker).is_none(), "a waker left");
    assert_eq!(probe.drops.load(Relaxed), 1, "the future dropped once");
    assert_eq!(sched.live.load(Relaxed), 0, "a task cell never freed");
    assert_eq!(sched.owned.len(), 0);
    drop(sched);
}

/// A wake by reference from another thread, racing the poll that handed out the waker (and
/// then the join handle's poll racing the completion): the task is queued exactly once more
/// (by the waker, or by the runner's re-queue) and polled exactly twice, and a join handle
/// that saw `Pending` is woken by the completion. `state.rs`'s invariants: `RUNNING` is held
/// by one thread at a time; `NOTIFIED` while not running means exactly one queue entry (a wake
/// during the poll is re-queued by the runner, reusing its reference); and the join waker's
/// bits (registration vs the completer's wake).
/// WAKEUPS.md, "The premise" (a wake is one queue entry).
#[test]
fn loom_task_wake_by_ref_during_poll() {
    loom::model(|| {
        let sched = TestSched::new();
        let probe = Probe::new();
        let mut join = spawn(&sched, &probe, 1);
        let waker_thread = {
            let probe = probe.clone();
            thread::spawn(move || {
                let w = probe.take_waker();
                w.wake_by_ref();
                drop(w);
                let (first, count) = poll_join_counting(&mut join);
                (join, first, count)
            })
        };
        TestSched::run_one_spinning(&sched);
        TestSched::run_one_spinning(&sched);
        let (mut join, first, count) = waker_thread.join().unwrap();
        assert_eq!(sched.scheduled.load(Relaxed), 1, "queued once by the wake");
        assert_eq!(
            probe.polls.load(Relaxed),
            2,
            "polled twice, not lost, not thrice"
        );
        match first {
            Poll::Pending => {
                assert_eq!(count.0.load(SeqCst), 1, "the join waker woken");
                assert!(matches!(poll_join(&mut join), Poll::Ready(Ok(7))));
            }
            Poll::Ready(out) => assert_eq!(out.unwrap(), 7),
        }
        drop(join);
        assert_all_released(sched, &probe);
    });
}

/// A wake by value racing the completion it causes and the join handle's drop (the shape of
/// the use-after-free fixed in 2fbbd11): the waker's `schedule` call runs on the scheduler
/// handle inside the cell while another thread runs the task to completion; the waker's own
/// reference must keep the cell alive until `schedule` returns. Checks `state.rs`'s reference
/// invariant (each holder owns one reference; the memory goes when the count reaches zero,
/// not before) and `COMPLETE`'s (the output dropped by the completer when the handle is gone).
/// Twice: a handle that never registered a waker (the one-CAS drop) and one that did (the
/// drop that empties the waker slot, racing the completer's wake of it).
/// WAKEUPS.md, "The premise" (a wake is one queue entry).
#[test]
fn loom_task_wake_by_val_vs_complete_vs_join_drop() {
    wake_by_val_vs_complete_vs_join_drop(false);
    wake_by_val_vs_complete_vs_join_drop(true);
}

fn wake_by_val_vs_complete_vs_join_drop(register_first: bool) {
    loom::model(move || {
        let sched = TestSched::new();
        let probe = Probe::new();
        let mut join = spawn(&sched, &probe, 1);
        TestSched::run_all(&sched);
        if register_first {
            assert!(poll_join(&mut join).is_pending());
        }
        let waker_thread = {
            let probe = probe.clone();
            thread::spawn(move || probe.take_waker().wake())
        };
        let runner = {
            let sched = sched.clone();
            thread::spawn(move || TestSched::run_one_spinning(&sched))
        };
        drop(join);
        waker_thread.join().unwrap();
        runner.join().unwrap();
        assert_eq!(probe.polls.load(Relaxed), 2);
        assert_all_released(sched, &probe);
    });
}

/// A wake by value during the poll, with the re-queued task run to completion and freed by
/// another thread while the runner is still inside `schedule` (the other half of 2fbbd11: the
/// runner must re-queue through its own handle on the scheduler, not the one in the cell).
/// Checks `state.rs`'s `NOTIFIED` invariant (a wake while running is re-queued by the runner,
/// reusing its reference, once) and the reference invariant (freed at zero, not before).
/// WAKEUPS.md, "The premise" (a wake is one queue entry).
#[test]
fn loom_task_requeue_vs_run_elsewhere() {
    loom::model(|| {
        let sched = TestSched::new();
        let probe = Probe::new();
        let join = spawn(&sched, &probe, 1);
        let other = {
            let (sched, probe) = (sched.clone(), probe.clone());
            thread::spawn(move || {
                probe.take_waker().wake();
                TestSched::run_one_spinning(&sched);
            })
        };
        drop(join);
        TestSched::run_one_spinning(&sched);
        other.join().unwrap();
        assert_eq!(sched.scheduled.load(Relaxed), 1);
        assert_eq!(probe.polls.load(Relaxed), 2);
        assert_all_released(sched, &probe);
    });
}

/// `abort` from another thread racing the task's completion: the handle gets the output or a
/// cancellation, never both, never neither, and the future is dropped once either way. Checks
/// `state.rs`'s `COMPLETE` invariant (set once, the output the handle's) and `RUNNING`'s (an
/// abort of a queued or running task is carried out by whoever runs it next, alone).
/// WAKEUPS.md, "The premise" (a wake is one queue entry).
#[test]
fn loom_task_abort_vs_complete() {
    loom::model(|| {
        let sched = TestSched::new();
        let probe = Probe::new();
        let mut join = spawn(&sched, &probe, 1);
        TestSched::run_all(&sched);
        let abort = join.abort_handle();
        let aborter = thread::spawn(move || abort.abort());
        let runner = {
            let (sched, probe) = (sched.clone(), probe.clone());
            thread::spawn(move || {
                probe.take_waker().wake();
                TestSched::run_all(&sched);
            })
        };
        aborter.join().unwrap();
        runner.join().unwrap();
        TestSched::run_all(&sched);
        match poll_join(&mut join) {
            Poll::Ready(Ok(7)) => assert_eq!(probe.polls.load(Relaxed), 2),
            Poll::Ready(Err(e)) => {
                assert!(e.is_cancelled());
                assert_eq!(probe.polls.load(Relaxed), 1);
            }
            other => panic!("join handle: {other:?}"),
        }
        drop(join);
        assert_all_released(sched, &probe);
    });
}

/// Runtime shutdown (close the owned list, cancel its tasks, drain the queue) racing a wake
/// by value of a listed, waiting task: the task is cancelled exactly once, its future dropped
/// once, and the wake's queue entry (if it lands after the drain) is released by the M's exit
/// sweep. Checks `state.rs`'s `NOTIFIED` invariant (one queue entry, its own reference) and
/// the owned list's (the list's reference is taken by shutdown or by the completer, once).
/// WAKEUPS.md, "The premise", and step 8 (shutdown).
#[test]
fn loom_task_shutdown_vs_wake() {
    loom::model(|| {
        let sched = TestSched::new();
        let probe = Probe::new();
        let mut join = spawn(&sched, &probe, usize::MAX);
        TestSched::run_all(&sched);
        let waker_thread = {
            let probe = probe.clone();
            thread::spawn(move || probe.take_waker().wake())
        };
        sched.shut_down();
        waker_thread.join().unwrap();
        // An M leaving a shut-down runtime cancels whatever is still queued.
        while let Some(t) = sched.pop() {
            shutdown_queued(t);
        }
        assert_eq!(probe.polls.load(Relaxed), 1);
        match poll_join(&mut join) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
            other => panic!("join handle: {other:?}"),
        }
        drop(join);
        assert_all_released(sched, &probe);
    });
}
