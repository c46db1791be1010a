//! The task state word: lifecycle bits and the reference count in one `AtomicUsize`.
//!
//! Invariants:
//! - `RUNNING` is held by exactly one thread at a time; only that thread touches the future.
//! - `NOTIFIED` set while not running means exactly one queue entry (a [`super::Notified`]) exists
//!   and owns one reference. Waking a task that is already notified or running costs one atomic
//!   operation and never queues it twice; a wake while running sets `NOTIFIED` and the runner
//!   re-queues the task after `Pending`, reusing its own reference.
//! - `COMPLETE` is set once; after it the output (if any) belongs to the join handle, or, when
//!   `JOIN_INTEREST` was already clear, to the completing thread, which drops it.
//! - `JOIN_REGISTERING` / `JOIN_WAKING` are the join waker's lock bits (the protocol is
//!   [`super::atomic_waker`]'s): they guard the header's waker slot, not the task, and no
//!   lifecycle transition reads or changes them. `JOIN_REGISTERED` records that the slot was
//!   ever written.
//! - References: the owned-task list (allgs; until its first poll returns `Pending` the task
//!   holds that one itself), the queue entry or runner, the join handle, every `AbortHandle`, and
//!   every `Waker` clone hold one each. The memory is freed when the count drops to zero.

use super::atomic_waker::{Register, SlotLock};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};

const RUNNING: usize = 1;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
/// Held by the join handle while it writes the waker slot.
const JOIN_REGISTERING: usize = 1 << 5;
/// Held by a thread emptying the waker slot; left set for the registering side to see when it
/// found `JOIN_REGISTERING`.
const JOIN_WAKING: usize = 1 << 6;
/// Set (for good) by the join handle's first registration: until then its waker slot is
/// certainly empty, so dropping the handle needs no look at it (one CAS, see
/// [`State::drop_join_handle_fast`]).
const JOIN_REGISTERED: usize = 1 << 7;
const REF_SHIFT: usize = 8;
const REF_ONE: usize = 1 << REF_SHIFT;
const REF_MAX: usize = usize::MAX >> (REF_SHIFT + 1);

/// Three references at birth: the owned list, the first queue entry, the join handle.
const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

pub(crate) struct State(AtomicUsize);

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }

    /// The leak rule (`Handle::leaked_tasks`), for a task in the owned-task list: waiting
    /// (not running, not queued, not complete) and holding no reference beyond the two that
    /// are accounted for — the list's own, and the `JoinHandle`'s while `JOIN_INTEREST` is
    /// set. Every other reference is a `Waker` or an `AbortHandle`, and queue entries and the
    /// runner hold one only while `NOTIFIED` / `RUNNING` is set. With none of them a waiting
    /// task can never be polled again: no waker exists (a new one is only ever cloned from
    /// another, or lent by the runner for a poll), and only the `JoinHandle` (abort) or
    /// shutdown can still end it.
    ///
    /// A transient excess (a `JoinHandle` dropped between clearing `JOIN_INTEREST` and
    /// releasing its reference) only hides a leak for a moment, never reports a live task.
    pub(crate) fn is_leaked(self) -> bool {
        if self.0 & (RUNNING | COMPLETE | NOTIFIED | CANCELLED) != 0 {
            return false;
        }
        let known = 1 + usize::from(self.is_join_interested());
        self.ref_count() == known
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What the runner must do after taking a queue entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// The task was aborted: drop the future and complete with `Cancelled`.
    Cancel,
    /// Already complete (shut down while queued): just drop the entry's reference.
    Stale,
}

/// What the runner must do after the future returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Idle; the runner's reference was dropped.
    Idle,
    /// Woken during the poll: re-queue, reusing the runner's reference.
    Requeue,
    /// Aborted during the poll: still running, cancel it now.
    Cancel,
}

/// What a by-value wake must do with the reference it consumed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WakeByVal {
    Nothing,
    /// A reference was added for a queue entry: submit it, then release the caller's own
    /// reference, which keeps the task alive until the entry is published (and the task,
    /// perhaps, already run and freed by another M).
    Submit,
    /// That was the last reference: free the task.
    Dealloc,
}

impl State {
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(INITIAL))
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// CAS loop: `f` returns the new value and a result, or `None` to leave the word unchanged.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(usize) -> (Option<usize>, R)) -> R {
        let mut cur = self.0.load(Acquire);
        loop {
            let (next, res) = f(cur);
            let Some(next) = next else { return res };
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return res,
                Err(actual) => cur = actual,
            }
        }
    }

    /// A queue entry was taken: try to become the task's only runner.
    #[inline]
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|cur| {
            debug_assert!(cur & NOTIFIED != 0, "running a task that was not notified");
            if cur & (RUNNING | COMPLETE) != 0 {
                return (None, ToRunning::Stale);
            }
            let next = (cur & !NOTIFIED) | RUNNING;
            let res = if cur & CANCELLED != 0 {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), res)
        })
    }

    /// The future returned `Pending`.
    #[inline]
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|cur| {
            debug_assert!(cur & RUNNING != 0);
            if cur & CANCELLED != 0 {
                return (None, ToIdle::Cancel);
            }
            if cur & NOTIFIED != 0 {
                return (Some(cur & !RUNNING), ToIdle::Requeue);
            }
            debug_assert!(
                cur >> REF_SHIFT >= 2,
                "an incomplete task is owned by allgs"
            );
            (Some((cur & !RUNNING) - REF_ONE), ToIdle::Idle)
        })
    }

    /// `RUNNING -> COMPLETE`; returns the state before.
    #[inline]
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// `wake_by_ref`: returns true when the caller must submit a new queue entry (whose reference
    /// has been added).
    #[inline]
    pub(crate) fn transition_to_notified_by_ref(&self) -> bool {
        self.update(|cur| {
            if cur & (COMPLETE | NOTIFIED) != 0 {
                (None, false)
            } else if cur & RUNNING != 0 {
                (Some(cur | NOTIFIED), false)
            } else {
                assert!(
                    cur >> REF_SHIFT < REF_MAX,
                    "gmp: task reference count overflow"
                );
                (Some((cur | NOTIFIED) + REF_ONE), true)
            }
        })
    }

    /// `wake`: consumes one reference (on `Submit`, after the caller has queued the task).
    #[inline]
    pub(crate) fn transition_to_notified_by_val(&self) -> WakeByVal {
        self.update(|cur| {
            if cur & RUNNING != 0 {
                // The runner holds a reference, so ours is never the last.
                (Some((cur | NOTIFIED) - REF_ONE), WakeByVal::Nothing)
            } else if cur & (COMPLETE | NOTIFIED) != 0 {
                let next = cur - REF_ONE;
                let res = if next >> REF_SHIFT == 0 {
                    WakeByVal::Dealloc
                } else {
                    WakeByVal::Nothing
                };
                (Some(next), res)
            } else {
                assert!(
                    cur >> REF_SHIFT < REF_MAX,
                    "gmp: task reference count overflow"
                );
                (Some((cur | NOTIFIED) + REF_ONE), WakeByVal::Submit)
            }
        })
    }

    /// `JoinHandle::abort`: returns true when the caller must submit a new queue entry.
    pub(crate) fn transition_to_notified_and_cancel(&self) -> bool {
        self.update(|cur| {
            if cur & (COMPLETE | CANCELLED) != 0 {
                (None, false)
            } else if cur & (RUNNING | NOTIFIED) != 0 {
                (Some(cur | CANCELLED | NOTIFIED), false)
            } else {
                (Some((cur | CANCELLED | NOTIFIED) + REF_ONE), true)
            }
        })
    }

    /// Runtime shutdown: mark cancelled; returns true when the caller became the runner (it then
    /// holds an extra reference and must cancel and complete the task).
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|cur| {
            if cur & (RUNNING | COMPLETE) != 0 {
                (Some(cur | CANCELLED), false)
            } else {
                (Some((cur | RUNNING | CANCELLED) + REF_ONE), true)
            }
        })
    }

    /// Dropping a join handle that never registered a waker, while the task is incomplete:
    /// clear `JOIN_INTEREST` and release the handle's reference in one CAS (a detached spawn's
    /// whole cost). False, changing nothing, in any other case: then
    /// [`State::unset_join_interested`], the slot and `ref_dec`.
    pub(crate) fn drop_join_handle_fast(&self) -> bool {
        self.update(|cur| {
            debug_assert!(cur & JOIN_INTEREST != 0);
            let busy = COMPLETE | JOIN_REGISTERED | JOIN_REGISTERING | JOIN_WAKING;
            // An incomplete task is still owned by allgs (or by itself before its first
            // poll), so the handle's reference is never the last; checked all the same.
            if cur & busy != 0 || cur >> REF_SHIFT < 2 {
                (None, false)
            } else {
                (Some((cur & !JOIN_INTEREST) - REF_ONE), true)
            }
        })
    }

    /// Dropping the join handle: fails once the task is complete (the handle then owns the
    /// output and must drop it). Either way, says whether the handle ever registered a waker
    /// (whose slot it must then empty).
    pub(crate) fn unset_join_interested(&self) -> Result<bool, bool> {
        self.update(|cur| {
            debug_assert!(cur & JOIN_INTEREST != 0);
            let registered = cur & JOIN_REGISTERED != 0;
            if cur & COMPLETE != 0 {
                (None, Err(registered))
            } else {
                (Some(cur & !JOIN_INTEREST), Ok(registered))
            }
        })
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        if prev >> REF_SHIFT >= REF_MAX {
            std::process::abort();
        }
    }

    /// Drops `n` references; true when they were the last.
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        let prev = self.0.fetch_sub(n * REF_ONE, AcqRel);
        debug_assert!(prev >> REF_SHIFT >= n, "task reference count underflow");
        prev >> REF_SHIFT == n
    }
}

/// The join waker's lock bits (the slot itself is the header's).
impl SlotLock for State {
    fn begin_register(&self) -> Register {
        self.update(|cur| {
            if cur & JOIN_WAKING != 0 {
                (None, Register::Waking)
            } else if cur & JOIN_REGISTERING != 0 {
                (None, Register::Busy)
            } else {
                (
                    Some(cur | JOIN_REGISTERING | JOIN_REGISTERED),
                    Register::Begun,
                )
            }
        })
    }

    fn end_register(&self) -> bool {
        self.update(|cur| {
            debug_assert!(cur & JOIN_REGISTERING != 0);
            if cur & JOIN_WAKING != 0 {
                (None, false)
            } else {
                (Some(cur & !JOIN_REGISTERING), true)
            }
        })
    }

    fn begin_wake(&self) -> bool {
        self.0.fetch_or(JOIN_WAKING, AcqRel) & (JOIN_REGISTERING | JOIN_WAKING) == 0
    }

    fn end_wake(&self) {
        self.0.fetch_and(!(JOIN_REGISTERING | JOIN_WAKING), Release);
    }
}

/// Model checks of the state word. Each test plays the roles that race in real life (runner,
/// waker, aborter, join handle) on one `State` and checks the accounting: a wake is never lost
/// nor queued twice, the output is dropped exactly once, references balance.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, AtomicUsize};
    use crate::loom::sync::Arc;
    use loom::thread;

    /// Wake during poll: the runner polls (reading `data`) while a waker publishes `data` and
    /// wakes. Either the poll saw the data, or the task ends up queued exactly once.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_wake_during_poll() {
        loom::model(|| {
            let state = Arc::new(State::new());
            let data = Arc::new(AtomicBool::new(false));
            state.ref_inc(); // the waker's reference
            let (s2, d2) = (state.clone(), data.clone());
            let waker = thread::spawn(move || {
                d2.store(true, SeqCst);
                let submit = s2.transition_to_notified_by_val() == WakeByVal::Submit;
                if submit {
                    // (the entry is queued here) then the waker's own reference goes
                    assert!(!s2.ref_dec(1));
                }
                submit
            });
            assert_eq!(state.transition_to_running(), ToRunning::Poll);
            let saw = data.load(SeqCst);
            let requeue = state.transition_to_idle() == ToIdle::Requeue;
            let submitted = waker.join().unwrap();
            assert!(!(requeue && submitted), "queued twice");
            assert!(saw || requeue || submitted, "wakeup lost");
            // owned + join remain, plus the one queue entry if any.
            let entries = usize::from(requeue || submitted);
            assert_eq!(state.load().ref_count(), 2 + entries);
        });
    }

    /// Two wakers by reference on an idle task: exactly one submits.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_double_wake_single_entry() {
        loom::model(|| {
            let state = Arc::new(State::new());
            assert_eq!(state.transition_to_running(), ToRunning::Poll);
            assert_eq!(state.transition_to_idle(), ToIdle::Idle);
            let s2 = state.clone();
            let t = thread::spawn(move || s2.transition_to_notified_by_ref());
            let a = state.transition_to_notified_by_ref();
            let b = t.join().unwrap();
            assert!(a ^ b, "exactly one wake queues the task");
            assert_eq!(state.load().ref_count(), 3);
        });
    }

    /// A wake after completion never queues the task, and a by-value wake can free it.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_wake_after_complete() {
        loom::model(|| {
            let state = Arc::new(State::new());
            state.ref_inc(); // waker
            assert_eq!(state.transition_to_running(), ToRunning::Poll);
            let s2 = state.clone();
            let waker = thread::spawn(move || s2.transition_to_notified_by_val());
            let prev = state.transition_to_complete();
            assert!(prev.is_join_interested());
            let woke = waker.join().unwrap();
            // A wake that landed while running set NOTIFIED but never submits.
            assert_ne!(woke, WakeByVal::Submit);
            assert!(!state.transition_to_notified_by_ref());
            // runner + owned + join remain; the waker's is gone.
            assert!(!state.ref_dec(2));
            assert!(state.ref_dec(1));
        });
    }

    /// Abort vs complete: if abort queues an entry, that entry finds the task complete or
    /// cancelled; the future is finished by exactly one party.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_abort_vs_complete() {
        loom::model(|| {
            let state = Arc::new(State::new());
            assert_eq!(state.transition_to_running(), ToRunning::Poll);
            assert_eq!(state.transition_to_idle(), ToIdle::Idle);
            // Woken again and being run while an abort comes in.
            assert!(state.transition_to_notified_by_ref());
            let s2 = state.clone();
            let aborter = thread::spawn(move || s2.transition_to_notified_and_cancel());
            let finished = Arc::new(AtomicUsize::new(0));
            match state.transition_to_running() {
                ToRunning::Poll => {
                    state.transition_to_complete();
                    finished.fetch_add(1, SeqCst);
                }
                ToRunning::Cancel => {
                    state.transition_to_complete();
                    finished.fetch_add(1, SeqCst);
                }
                ToRunning::Stale => unreachable!(),
            }
            if aborter.join().unwrap() {
                // The abort's queue entry runs later and must find the task complete.
                assert_eq!(state.transition_to_running(), ToRunning::Stale);
                assert!(!state.ref_dec(1));
            }
            assert_eq!(finished.load(SeqCst), 1);
            assert!(state.load().is_complete());
        });
    }

    /// Abort while running: the runner sees the cancel bit when the poll returns.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_abort_during_poll() {
        loom::model(|| {
            let state = Arc::new(State::new());
            assert_eq!(state.transition_to_running(), ToRunning::Poll);
            let s2 = state.clone();
            let aborter = thread::spawn(move || s2.transition_to_notified_and_cancel());
            let idle = state.transition_to_idle();
            let submitted = aborter.join().unwrap();
            match idle {
                // Abort came after we went idle: it queued an entry that will cancel.
                ToIdle::Idle => {
                    assert!(submitted);
                    assert_eq!(state.transition_to_running(), ToRunning::Cancel);
                }
                // Abort came during the poll: we cancel now, no entry was queued.
                ToIdle::Cancel => assert!(!submitted),
                ToIdle::Requeue => unreachable!("abort during poll sets CANCELLED"),
            }
        });
    }

    /// JoinHandle drop (its one-CAS fast path first when `fast`) racing completion: the
    /// output is dropped by exactly one side, and the references balance.
    fn join_drop_vs_complete(fast: bool) {
        loom::model(move || {
            let state = Arc::new(State::new());
            let drops = Arc::new(AtomicUsize::new(0));
            assert_eq!(state.transition_to_running(), ToRunning::Poll);
            let (s2, d2) = (state.clone(), drops.clone());
            let join = thread::spawn(move || {
                if fast && s2.drop_join_handle_fast() {
                    return false;
                }
                if s2.unset_join_interested().is_err() {
                    d2.fetch_add(1, SeqCst); // the handle drops the output
                }
                s2.ref_dec(1)
            });
            let prev = state.transition_to_complete();
            if !prev.is_join_interested() {
                drops.fetch_add(1, SeqCst); // the runner drops the output
            }
            let last_by_join = join.join().unwrap();
            assert!(!last_by_join);
            assert_eq!(drops.load(SeqCst), 1);
            // runner + owned remain
            assert!(!state.ref_dec(1));
            assert!(state.ref_dec(1));
        });
    }

    /// JoinHandle drop vs complete: the output is dropped by exactly one side.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_join_drop_vs_complete() {
        join_drop_vs_complete(false);
    }

    /// A detached handle's one-CAS drop racing completion: the drop either wins (the runner
    /// then sees no join interest and drops the output) or falls back to the slow path
    /// (which then owns the output); the output is dropped once, the references balance. A
    /// handle that registered a waker never takes the fast path.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_fast_join_drop_vs_complete() {
        join_drop_vs_complete(true);
        // Registered once: always the slow path.
        loom::model(|| {
            let state = State::new();
            assert_eq!(state.begin_register(), Register::Begun);
            assert!(state.end_register());
            assert!(!state.drop_join_handle_fast());
            assert_eq!(state.unset_join_interested(), Ok(true));
        });
    }

    /// Shutdown vs a by-value wake on an idle task: shutdown becomes the runner or the wake
    /// queues an entry that then finds the task cancelled/complete.
    /// WAKEUPS.md, "The premise", and step 8 (shutdown).
    #[test]
    fn loom_shutdown_vs_wake() {
        loom::model(|| {
            let state = Arc::new(State::new());
            assert_eq!(state.transition_to_running(), ToRunning::Poll);
            assert_eq!(state.transition_to_idle(), ToIdle::Idle);
            state.ref_inc(); // waker
            let s2 = state.clone();
            let waker = thread::spawn(move || {
                let woke = s2.transition_to_notified_by_val();
                if woke == WakeByVal::Submit {
                    assert!(!s2.ref_dec(1), "the queue entry still holds the task");
                }
                woke
            });
            assert!(
                state.transition_to_shutdown(),
                "an idle task is shut down by the caller"
            );
            state.transition_to_complete();
            let woke = waker.join().unwrap();
            if woke == WakeByVal::Submit {
                assert_eq!(state.transition_to_running(), ToRunning::Stale);
            }
        });
    }

    /// The join waker's lock bits share the word with the lifecycle: the join handle
    /// registers while the runner completes and wakes it, and a third thread's wake flips
    /// `NOTIFIED` in between. The completion is never missed (the handle sees `COMPLETE` or
    /// its waker fires), the lock bits end clear, and no transition disturbs the references.
    /// WAKEUPS.md, "The premise" (a wake is one queue entry).
    #[test]
    fn loom_join_waker_bits_beside_the_lifecycle() {
        use super::super::atomic_waker::{tests::flag_waker, WakerSlot};

        loom::model(|| {
            let task = Arc::new((State::new(), WakerSlot::new()));
            assert_eq!(task.0.transition_to_running(), ToRunning::Poll);
            let (flag, waker) = flag_waker();
            let runner = {
                let task = task.clone();
                thread::spawn(move || {
                    let prev = task.0.transition_to_complete();
                    assert!(prev.is_join_interested());
                    // SAFETY: this slot's lock is always this state word.
                    unsafe { task.1.wake(&task.0) };
                })
            };
            let other = {
                let task = task.clone();
                thread::spawn(move || assert!(!task.0.transition_to_notified_by_ref()))
            };
            // SAFETY: as above.
            unsafe { task.1.register(&task.0, &waker) };
            let seen = task.0.load().is_complete();
            runner.join().unwrap();
            other.join().unwrap();
            assert!(seen || flag.0.load(SeqCst), "completion missed");
            assert_eq!(task.0.load().ref_count(), 3);
            assert!(task.0.begin_wake(), "join waker bits left set");
            task.0.end_wake();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The leak rule follows the lifecycle and the references: a fresh (queued) task, a running
    /// one, one with a waker or an abort handle, and a complete one are not leaked; an idle one
    /// with only the list's and the join handle's references is, and with the join handle gone
    /// too.
    #[test]
    fn leak_rule_counts_the_known_references() {
        let s = State::new();
        assert!(!s.load().is_leaked(), "queued at birth");
        assert_eq!(s.transition_to_running(), ToRunning::Poll);
        assert!(!s.load().is_leaked(), "running");
        s.ref_inc(); // a waker cloned during the poll
        assert_eq!(s.transition_to_idle(), ToIdle::Idle);
        assert!(!s.load().is_leaked(), "a waker is alive");
        assert!(!s.ref_dec(1)); // the waker dropped without waking
        assert!(s.load().is_leaked(), "owned list + join handle only");
        assert!(s.drop_join_handle_fast());
        assert!(s.load().is_leaked(), "owned list only");
        s.ref_inc(); // an AbortHandle (or a waker): indistinguishable, so not reported
        assert!(!s.load().is_leaked());
        assert!(!s.ref_dec(1));
        assert!(s.transition_to_notified_by_ref());
        assert!(!s.load().is_leaked(), "queued again");
    }
}
