//! Task memory: one heap allocation per G holding the header, then the future's stage.
//!
//! The header is type-erased (`#[repr(C)]`, first field of the cell), so a `*mut Header` is the
//! task's identity: wakers, queue slots and join handles all carry it. The vtable recovers the
//! concrete `Cell<F>` for polling, reading the output and freeing.
//!
//! Invariants:
//! - The stage is touched only by the thread holding `RUNNING`, or by the join handle after
//!   `COMPLETE` while `JOIN_INTEREST` is set, or by the completing thread when it is not.
//! - A thread touches the cell only while it holds a reference. Queueing a task hands a
//!   reference to the queue, and from the push on another M may run, complete and free the
//!   task, so nothing in the cell may be read after it — not even the cell's scheduler handle,
//!   the one `schedule` is still running on (it goes on to wake peers). Hence a by-value wake
//!   keeps its own reference until `schedule` returns, and the runner re-queues through its
//!   M's own handle on the runtime. Debug builds poison freed cells, so a breach faults.
//! - The scheduler is a type parameter ([`Schedule`]) of the typed part only: `Cell<F, S>`
//!   stores one `S` right after the untyped header (at an offset that does not depend on `F`,
//!   see [`Prefix`]), and the vtables (the task's and the waker's) are per `(F, S)` / per `S`,
//!   so every call into the scheduler is static.

use super::atomic_waker::WakerSlot;
use super::schedule::{Schedule, TaskAlloc};
use super::state::{State, ToIdle, ToRunning, WakeByVal};
use super::{JoinError, Notified, TaskId};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::alloc::Layout;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Whether state changes are stamped and polls counted (off with `--cfg gmp_no_metrics`).
#[cfg(not(loom))]
use crate::executor::p::METRICS;
#[cfg(loom)]
const METRICS: bool = true;
use crate::executor::latency::sampled;

#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: TaskId,
    /// Slot in the owned-task list (allgs), written once by the first poll; `UNLISTED` before.
    pub(crate) owned_key: AtomicUsize,
    /// The join handle's waker; its lock bits are in `state` (see [`Header::wake_join`]).
    join_waker: WakerSlot,
    pub(crate) spawned_at: &'static Location<'static>,
    /// When it last changed between Runnable, Running and Waiting, on the scheduler's coarse
    /// clock (ns since the runtime's epoch; exact, it is what a dump's "in state" reads).
    /// Coarse stamps are even; an odd one is a sampled runnable period's precise stamp, which
    /// the M that polls the task times (`executor::latency`).
    pub(crate) state_since: AtomicU64,
    /// When it was spawned, in units of [`BORN_UNIT_NS`] since the runtime's epoch (see
    /// [`Header::born_ns`]): 4 bytes, so that it and `polls` share one 8-byte slot.
    born: u32,
    /// Times polled (low 30 bits, saturating) and which of the stage's fields holds a value
    /// (top 2 bits, [`StageTag`]). Written only by whoever owns the stage at the time (the
    /// runner, or the join handle after completion), whose ownership the state word hands
    /// over, so relaxed accesses suffice; dumps read the count racily.
    polls_stage: AtomicU32,
}

/// Which field of a [`Stage`] holds a live value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
enum StageTag {
    /// The future (from the spawn until it returns `Ready`, panics or is cancelled).
    Running = 0,
    /// The output, not yet taken.
    Finished = 1,
    /// Nothing: the output was taken or dropped (or the future's drop panicked).
    Consumed = 2,
}

const TAG_SHIFT: u32 = 30;
const POLLS_MASK: u32 = (1 << TAG_SHIFT) - 1;

/// The tag in a `polls_stage` word.
#[inline]
fn tag_of(polls_stage: u32) -> StageTag {
    match polls_stage >> TAG_SHIFT {
        0 => StageTag::Running,
        1 => StageTag::Finished,
        _ => StageTag::Consumed,
    }
}

/// `Header::born`'s unit: 2^24 ns, about 16.8 ms (the coarse clock itself ticks every 20 µs to
/// 10 ms). A `u32` of them spans 2^56 ns, about 2.28 years of runtime uptime.
const BORN_UNIT_NS: u64 = 1 << 24;

/// `ns` since the epoch in [`BORN_UNIT_NS`] units, rounded down, saturating at `u32::MAX`.
fn born_units(ns: u64) -> u32 {
    u32::try_from(ns / BORN_UNIT_NS).unwrap_or(u32::MAX)
}

impl Header {
    /// When the task was spawned (ns since the runtime's epoch), rounded down to a multiple of
    /// [`BORN_UNIT_NS`]: an age computed from it is too long by less than one unit, never too
    /// short, so it is never below the time in the current state. Saturates rather than wraps:
    /// a task spawned after the runtime has run 2^56 ns (about 2.28 years) reads as spawned at
    /// that mark, so its age is counted from there (too long, never wrapped around).
    #[inline]
    pub(crate) fn born_ns(&self) -> u64 {
        u64::from(self.born) * BORN_UNIT_NS
    }

    /// Store the join handle's waker (the handle's poll; never concurrent with itself).
    pub(crate) fn register_join(&self, waker: &Waker) {
        // SAFETY: the join slot's lock bits are always this header's state word.
        unsafe { self.join_waker.register(&self.state, waker) }
    }

    /// Take the join handle's waker out, unless a registration is in flight.
    pub(crate) fn take_join(&self) -> Option<Waker> {
        // SAFETY: as above.
        unsafe { self.join_waker.take(&self.state) }
    }

    /// Wake the join handle's waker (the task completed).
    pub(crate) fn wake_join(&self) {
        // SAFETY: as above.
        unsafe { self.join_waker.wake(&self.state) }
    }

    /// Times polled (saturating at 2^30 - 1).
    pub(crate) fn polls(&self) -> u32 {
        self.polls_stage.load(Ordering::Relaxed) & POLLS_MASK
    }

    /// Count a poll (the runner).
    #[inline]
    fn count_poll(&self) {
        let v = self.polls_stage.load(Ordering::Relaxed);
        if v & POLLS_MASK != POLLS_MASK {
            self.polls_stage.store(v + 1, Ordering::Relaxed);
        }
    }

    /// The stage's tag (its owner only).
    #[inline]
    fn stage_tag(&self) -> StageTag {
        tag_of(self.polls_stage.load(Ordering::Relaxed))
    }

    /// Set the stage's tag, returning the one it replaces (its owner only).
    #[inline]
    fn replace_stage_tag(&self, tag: StageTag) -> StageTag {
        let v = self.polls_stage.load(Ordering::Relaxed);
        self.polls_stage.store(
            (v & POLLS_MASK) | (tag as u32) << TAG_SHIFT,
            Ordering::Relaxed,
        );
        tag_of(v)
    }

    /// Stamp a state change with the scheduler's coarse clock (one relaxed load and store).
    #[inline]
    pub(crate) fn stamp<S: Schedule>(&self, sched: &S) {
        if !METRICS {
            return;
        }
        self.state_since
            .store(sched.coarse_now(), Ordering::Relaxed);
    }

    /// Stamp the task runnable (spawn aside, which stamps at birth): if this runnable period
    /// is one the scheduling-latency histogram samples (`executor::latency`), with the precise
    /// clock and an odd value — the mark the M that polls it looks for — else with the coarse
    /// clock, whose values are even.
    #[inline]
    pub(crate) fn stamp_runnable<S: Schedule>(&self, sched: &S) {
        if !METRICS {
            return;
        }
        let polls = self.polls_stage.load(Ordering::Relaxed);
        let now = sampled_stamp(self.id, polls, sched).unwrap_or_else(|| sched.coarse_now());
        self.state_since.store(now, Ordering::Relaxed);
    }

    /// [`stamp_runnable`](Self::stamp_runnable) for the runner re-queueing its task (woken
    /// during its poll): only a sampled period is stamped. Otherwise the poll's own stamp
    /// stays — it is this poll's start, close enough for a dump's "in state", and its coarse
    /// value is even, so the period is not timed.
    #[inline]
    fn stamp_requeue<S: Schedule>(&self, sched: &S) {
        let polls = self.polls_stage.load(Ordering::Relaxed);
        if let Some(now) = sampled_stamp(self.id, polls, sched) {
            self.state_since.store(now, Ordering::Relaxed);
        }
    }
}

/// The stamp of a runnable period of task `id` after `polls` polls, if the latency histogram
/// samples it (`executor::latency::sampled`; the poll count's tag bits are above it, so they
/// do not change the decision): the precise clock, made odd. `None` for the others.
#[inline(always)]
fn sampled_stamp<S: Schedule>(id: TaskId, polls: u32, sched: &S) -> Option<u64> {
    (METRICS && sampled(id.as_u64(), polls)).then(|| precise_stamp(sched))
}

/// The precise clock, odd. Out of line: one runnable period in `SAMPLE_PERIOD`.
#[cold]
#[inline(never)]
fn precise_stamp<S: Schedule>(sched: &S) -> u64 {
    sched.now_ns() | 1
}

pub(crate) struct Vtable {
    /// Poll once; the caller is an M of `sched` (the task's runtime) holding P `p` (whose
    /// owned-list shard a first poll enters). `sched` is a `*const S`, `S` the cell's.
    pub(crate) run: unsafe fn(NonNull<Header>, usize, *const ()),
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// `dst` is a `*mut Poll<Result<F::Output, JoinError>>`.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Drop the output (the join handle went away after completion).
    pub(crate) drop_output: unsafe fn(NonNull<Header>),
    /// Become the runner was won by shutdown/abort-on-spawn-failure: cancel and complete.
    pub(crate) cancel: unsafe fn(NonNull<Header>),
    /// Queue a new entry (whose reference the caller made) through the cell's scheduler: a
    /// remote abort. The caller holds a reference of its own through the call.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
}

/// The future, then its output, in one place. Which field is live (if any) is the header's
/// [`StageTag`], not an enum discriminant: a future whose layout has no niche for one would
/// make the discriminant cost a whole word of padding per task.
pub(crate) union Stage<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Result<F::Output, JoinError>>,
}

/// A task cell: the untyped header, the scheduler, then the future's stage.
///
/// `#[repr(C)]` with the header first, so a `*mut Header` is the cell's address; and the
/// scheduler second, so its offset is [`Prefix<S>`]'s whatever `F` is (a field's offset in a
/// `repr(C)` struct depends only on the fields before it).
#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    pub(crate) header: Header,
    /// The task's scheduler. Not dropped with the cell: `dealloc` takes it out first, because
    /// freeing the memory (to a P's free list) needs it.
    sched: ManuallyDrop<S>,
    pub(crate) stage: UnsafeCell<Stage<F>>,
}

/// The start of every `Cell<_, S>`: what the untyped paths (the waker, a remote abort) read
/// to find the scheduler from a header pointer, knowing only `S`.
#[repr(C)]
struct Prefix<S> {
    header: Header,
    sched: ManuallyDrop<S>,
}

/// The scheduler of the task at `ptr`.
///
/// # Safety
/// `ptr` is a live `Cell<_, S>` (the caller holds a reference), and the result is not used
/// past that reference.
#[inline]
unsafe fn sched_of<'a, S>(ptr: NonNull<Header>) -> &'a S {
    // SAFETY: per the contract; `Prefix<S>` is the layout of every `Cell<_, S>`'s first two
    // fields (both `repr(C)`), and only those are read.
    unsafe { &ptr.cast::<Prefix<S>>().as_ref().sched }
}

impl<F: Future + Send + 'static, S: Schedule> Cell<F, S>
where
    F::Output: Send + 'static,
{
    const VTABLE: Vtable = Vtable {
        run: run::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_output: drop_output::<F, S>,
        cancel: cancel::<F, S>,
        schedule: schedule_remote::<S>,
    };

    // Inlined into `new_task` as it was before the sampling stamp made it look bigger: a call
    // here costs every spawn about 10 instructions (callgrind, `metrics_overhead`).
    #[inline(always)]
    pub(crate) fn allocate(
        future: F,
        spawner: &S,
        spawned_at: &'static Location<'static>,
    ) -> (NonNull<Header>, Option<usize>) {
        debug_assert_eq!(
            std::mem::offset_of!(Cell<F, S>, sched),
            std::mem::offset_of!(Prefix<S>, sched)
        );
        let TaskAlloc { mem, id, p, sched } = spawner.alloc_task(Layout::new::<Cell<F, S>>());
        let mem = mem.cast::<Cell<F, S>>();
        // Runnable from birth: a sampled first run is timed from the precise clock.
        let now = sampled_stamp(id, 0, &sched).unwrap_or_else(|| sched.coarse_now());
        let cell = Cell {
            header: Header {
                state: State::new(),
                vtable: &Self::VTABLE,
                id,
                owned_key: AtomicUsize::new(super::owned::UNLISTED),
                join_waker: WakerSlot::new(),
                spawned_at,
                state_since: AtomicU64::new(now),
                born: born_units(now),
                polls_stage: AtomicU32::new((StageTag::Running as u32) << TAG_SHIFT),
            },
            sched: ManuallyDrop::new(sched),
            stage: UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }),
        };
        // SAFETY: `mem` is fresh memory with `Cell<F>`'s size and (at least) its alignment.
        unsafe { mem.as_ptr().write(cell) };
        (mem.cast(), p)
    }
}

/// # Safety
/// `ptr` must point to a live `Cell<F, S>` (the header is its first field).
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: per the contract; `#[repr(C)]` puts the header at offset 0.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Poll the task once, consuming the queue entry's reference (or re-queueing it).
///
/// `sched` (a `*const S`) is the running M's own handle on the task's runtime, used instead of
/// the cell's wherever the cell may already be gone: once a re-queue has published the task,
/// another M can run, complete and free it while `schedule` is still waking peers.
unsafe fn run<F: Future + Send + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    p: usize,
    sched: *const (),
) where
    F::Output: Send + 'static,
{
    // SAFETY: `Notified<S>::run` passes its `&S`, alive for this call.
    let sched = unsafe { &*sched.cast::<S>() };
    // SAFETY: the queue entry we consume holds a reference, so the cell is alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let header = &cell.header;
    debug_assert!(
        sched.same(&cell.sched),
        "gmp: a task run by another runtime's M"
    );
    match header.state.transition_to_running() {
        ToRunning::Stale => {
            // SAFETY: dropping the entry's reference.
            unsafe { drop_reference(ptr) };
            return;
        }
        ToRunning::Cancel => {
            // SAFETY: we hold RUNNING.
            unsafe { cancel_and_complete::<F, S>(ptr) };
            return;
        }
        ToRunning::Poll => {}
    }
    // Not listed yet: this is its first poll (see `owned`): it is not started once the list
    // is closed, the P's first-poll record shows it to dumps meanwhile (`first_poll`), and it
    // enters the list if it returns `Pending`. Only the runner writes the key, and RUNNING
    // orders it, so a relaxed load sees our own earlier store.
    if header.owned_key.load(Ordering::Relaxed) == super::owned::UNLISTED {
        if sched.owned().is_closed() {
            // Shut down: cancel the task ourselves, as a spawn after shutdown does.
            // SAFETY: we hold RUNNING.
            unsafe { cancel_and_complete::<F, S>(ptr) };
            return;
        }
        let (id, since) = (header.id.as_u64(), sched.coarse_now());
        (sched.first_poll_record(p)).set(id, header.spawned_at, header.born_ns(), since);
    }
    if METRICS {
        header.count_poll();
    }
    header.stamp(sched);
    // `gmp::task::id()` names this task for the poll (and any drop of its future below).
    let _current = super::current::enter(Some(header.id));
    // A borrowed waker: it does not own a reference, so it must not be dropped.
    // SAFETY: the runner's reference keeps the task alive for the poll.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker::<S>(ptr)) });
    let mut cx = Context::from_waker(&waker);
    let res = catch_unwind(AssertUnwindSafe(|| {
        assert_eq!(
            header.stage_tag(),
            StageTag::Running,
            "gmp: polling a task whose future is gone"
        );
        let ready = cell.stage.with_mut(|stage| {
            // SAFETY: we hold RUNNING, so we are the only one touching the stage, and the tag
            // says the future is live. It never moves: it lives in the heap cell until
            // dropped in place.
            let fut = unsafe { Pin::new_unchecked(&mut *(*stage).future) };
            match fut.poll(&mut cx) {
                Poll::Ready(out) => Some(out),
                Poll::Pending => None,
            }
        });
        match ready {
            Some(out) => {
                // Drop the future in place before storing the output (if the drop panics,
                // the output is dropped while unwinding and the stage stays consumed).
                // SAFETY: we hold RUNNING.
                unsafe { drop_stage(cell) };
                set_output(cell, Ok(out));
                true
            }
            None => false,
        }
    }));
    // Each arm first ends a first poll (`end_first_poll`); a first poll that returned
    // `Pending` enters allgs (into the shard of the P it was polled on) while we still hold
    // RUNNING, before its record is emptied (`list_first_pending`), or, shut down meanwhile,
    // is cancelled by us.
    match res {
        Ok(true) => {
            end_first_poll(header, p, sched);
            // SAFETY: we hold RUNNING and the runner's reference.
            unsafe { complete::<F, S>(ptr, false) }
        }
        Ok(false) if !list_first_pending(ptr, header, p, sched) => {
            // SAFETY: we hold RUNNING and the runner's reference.
            unsafe { cancel_and_complete::<F, S>(ptr) }
        }
        Ok(false) => match header.state.transition_to_idle() {
            ToIdle::Idle => {}
            // The runner's reference becomes the queue entry: from the push on, the cell is
            // not ours to touch (nor its scheduler handle, which lives in it).
            ToIdle::Requeue => {
                header.stamp_requeue(sched);
                sched.schedule(Notified::from_header(ptr), true)
            }
            // SAFETY: we still hold RUNNING.
            ToIdle::Cancel => unsafe { cancel_and_complete::<F, S>(ptr) },
        },
        Err(panic) => {
            end_first_poll(header, p, sched);
            let dropped = drop_future(cell);
            let err = match dropped {
                Ok(()) => JoinError::panic(header.id, panic),
                Err(second) => {
                    drop(panic);
                    JoinError::panic(header.id, second)
                }
            };
            set_output(cell, Err(err));
            // SAFETY: we hold RUNNING and the runner's reference.
            unsafe { complete::<F, S>(ptr, false) };
        }
    }
}

/// After a poll that returned `Pending`: if it was the task's first, enter the task into
/// allgs, then end the first poll (`clear_first_poll`) — in that order, so that a dump, which
/// reads the first-poll records before the list, finds the task in at least one of them (and
/// drops a record whose task it also finds listed). False if the list was closed meanwhile
/// (shutdown): the caller cancels the task. True otherwise, and for a later poll.
#[inline(always)]
fn list_first_pending<S: Schedule>(ptr: NonNull<Header>, h: &Header, p: usize, s: &S) -> bool {
    if h.owned_key.load(Ordering::Relaxed) != super::owned::UNLISTED {
        return true;
    }
    let listed = s.owned().insert(ptr, p);
    clear_first_poll(h, p, s);
    listed
}

/// After a poll that returned `Ready` or panicked, before anything may free the task: if it
/// was the task's first (it is not listed; only the runner writes the key, so re-reading it
/// is exact, and cheaper on the steady path than a flag kept across the poll), end it.
#[inline(always)]
fn end_first_poll<S: Schedule>(header: &Header, p: usize, sched: &S) {
    if header.owned_key.load(Ordering::Relaxed) == super::owned::UNLISTED {
        clear_first_poll(header, p, sched);
    }
}

/// The first poll of `header`'s task on P `p` returned: empty the P's first-poll record, or,
/// if that was moved to the lost list meanwhile (the P was handed off), the entry there.
#[inline(always)]
fn clear_first_poll<S: Schedule>(header: &Header, p: usize, sched: &S) {
    if !sched.first_poll_record(p).clear_if(header.id.as_u64()) {
        sched.first_poll_lost_returned(header.id.as_u64());
    }
}

/// Drop whatever the stage holds (the future or the output) in place; the stage is consumed
/// afterwards, even if that `Drop` panics.
///
/// # Safety
/// The caller owns the stage: it holds RUNNING, or owns the completed output, or the last
/// reference.
unsafe fn drop_stage<F: Future, S>(cell: &Cell<F, S>) {
    // Consumed first: a panicking `Drop` must not leave a value to be dropped twice.
    let tag = cell.header.replace_stage_tag(StageTag::Consumed);
    // SAFETY: per the contract the stage is ours, and `tag` names its live field.
    cell.stage.with_mut(|stage| unsafe {
        match tag {
            StageTag::Running => ManuallyDrop::drop(&mut (*stage).future),
            StageTag::Finished => ManuallyDrop::drop(&mut (*stage).output),
            StageTag::Consumed => {}
        }
    });
}

/// Drop the future (or whatever the stage holds), catching a panic from its `Drop`.
fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> std::thread::Result<()> {
    // SAFETY: callers hold RUNNING (or own the completed output).
    catch_unwind(AssertUnwindSafe(|| unsafe { drop_stage(cell) }))
}

fn set_output<F: Future, S>(cell: &Cell<F, S>, out: Result<F::Output, JoinError>) {
    debug_assert_eq!(cell.header.stage_tag(), StageTag::Consumed);
    // SAFETY: callers hold RUNNING and have consumed the stage, so no live value is
    // overwritten (a union field's assignment drops nothing anyway).
    cell.stage
        .with_mut(|stage| unsafe { (*stage).output = ManuallyDrop::new(out) });
    cell.header.replace_stage_tag(StageTag::Finished);
}

/// # Safety
/// The caller holds `RUNNING` and the runner's reference; `ptr` is the task's own pointer
/// (see `complete`).
unsafe fn cancel_and_complete<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the runner's reference keeps the cell alive until `complete` releases it.
    let cell = unsafe { cell::<F, S>(ptr) };
    // The future's `Drop` runs as this task (`gmp::task::id()` names it), as in tokio.
    let current = super::current::enter(Some(cell.header.id));
    let dropped = drop_future(cell);
    drop(current);
    let err = match dropped {
        Ok(()) => JoinError::cancelled(cell.header.id),
        Err(panic) => JoinError::panic(cell.header.id, panic),
    };
    set_output(cell, Err(err));
    // SAFETY: per the contract.
    unsafe { complete::<F, S>(ptr, true) };
}

/// `RUNNING -> COMPLETE`: hand the output over, leave allgs, release the runner's references.
///
/// Takes the task's pointer, not a `&Cell`: the last reference may be ours, and the cell is
/// then freed here, through `ptr`. A reference argument would be live (protected) across
/// that free, and a pointer re-derived from `&cell.header` covers the header only, not the
/// scheduler handle `dealloc` takes out of the cell (Miri flags both).
///
/// # Safety
/// The caller holds `RUNNING` and the runner's reference, and `ptr` is the pointer the task
/// was scheduled with (it covers the whole cell).
unsafe fn complete<F: Future, S: Schedule>(ptr: NonNull<Header>, cancelled: bool) {
    // SAFETY: the runner's reference keeps the cell alive until the `ref_dec` below.
    let cell = unsafe { cell::<F, S>(ptr) };
    let header = &cell.header;
    let prev = header.state.transition_to_complete();
    if prev.is_join_interested() {
        header.wake_join();
    } else {
        // Nobody will read the output: drop it here (a panic in its Drop is swallowed).
        let _ = drop_future(cell);
    }
    // (The P is looked up only for a task never listed: the poll may have lost the M's P.)
    // The cell's own scheduler: we hold the runner's reference until the `ref_dec` below.
    let sched: &S = &cell.sched;
    let removed = sched.owned().remove(ptr, cancelled, || sched.current_p());
    // The runner's reference, plus allgs' if we took the task out of it (or it never entered).
    if header.state.ref_dec(1 + removed as usize) {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

unsafe fn cancel<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller won RUNNING through `transition_to_shutdown` and holds a reference.
    unsafe { cancel_and_complete::<F, S>(ptr) }
}

unsafe fn schedule_remote<S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's own reference keeps the cell (and its scheduler) alive throughout.
    let sched = unsafe { sched_of::<S>(ptr) };
    // SAFETY: as above.
    unsafe { ptr.as_ref() }.stamp_runnable(sched);
    sched.schedule(Notified::from_header(ptr), false);
}

/// The byte debug builds fill freed task cells with: every pointer read from one is
/// non-canonical (`0xa5a5…`), so dereferencing it faults.
#[cfg(debug_assertions)]
const POISON: u8 = 0xa5;

unsafe fn dealloc<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<F, S>>();
    // SAFETY: the last reference is gone, so the cell is ours: take the runtime out of the
    // header (it is `ManuallyDrop`, so dropping the cell below leaves it alone), drop the
    // rest in place, (in debug builds) overwrite the dead bytes, and give the memory back
    // through the runtime's free lists.
    unsafe {
        let sched = ManuallyDrop::take(&mut (*cell.as_ptr()).sched);
        drop_stage(cell.as_ref());
        std::ptr::drop_in_place(cell.as_ptr());
        // Debug builds poison the dead cell: a free list hands memory back unchanged, so a
        // stale read of a freed task (its `sched` pointer, say) would otherwise find the old,
        // still plausible values and go unnoticed; poisoned, it faults at once.
        #[cfg(debug_assertions)]
        std::ptr::write_bytes(cell.as_ptr().cast::<u8>(), POISON, size_of::<Cell<F, S>>());
        sched.free_task(cell.cast(), Layout::new::<Cell<F, S>>());
    }
}

unsafe fn try_read_output<F: Future, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
    // SAFETY: the join handle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let header = &cell.header;
    if !header.state.load().is_complete() {
        header.register_join(waker);
        if !header.state.load().is_complete() {
            return;
        }
    }
    // COMPLETE with JOIN_INTEREST: the output belongs to the join handle. (After a read the
    // tag is already `Consumed`, so replacing it before the check changes nothing.)
    assert_eq!(
        header.replace_stage_tag(StageTag::Consumed),
        StageTag::Finished,
        "gmp: JoinHandle polled after it already returned Poll::Ready"
    );
    // SAFETY: the stage is ours and the tag said the output was live; it is consumed now.
    let out = cell
        .stage
        .with_mut(|stage| unsafe { ManuallyDrop::take(&mut (*stage).output) });
    // SAFETY: the join handle passes a `Poll<Result<F::Output, JoinError>>`.
    unsafe { *(dst as *mut Poll<Result<F::Output, JoinError>>) = Poll::Ready(out) };
}

unsafe fn drop_output<F: Future, S>(ptr: NonNull<Header>) {
    // SAFETY: the join handle's reference keeps the cell alive, and after COMPLETE with
    // JOIN_INTEREST the output is the handle's to drop.
    let _ = drop_future(unsafe { cell::<F, S>(ptr) });
}

/// # Safety
/// The caller owns one reference, which this releases.
pub(crate) unsafe fn drop_reference(ptr: NonNull<Header>) {
    // SAFETY: per the contract the header is alive until our reference is released.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec(1) {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

// ---- Waker: a pointer to the header; clone/drop move the reference count. ----
//
// One vtable per scheduler type, so a wake calls `S::schedule` directly (no indirect call, and
// the header carries no scheduler pointer of its own).

struct WakerVtable<S>(PhantomData<S>);

impl<S: Schedule> WakerVtable<S> {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(
        waker_clone::<S>,
        waker_wake::<S>,
        waker_wake_by_ref::<S>,
        waker_drop,
    );
}

pub(crate) fn raw_waker<S: Schedule>(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WakerVtable::<S>::VTABLE)
}

unsafe fn waker_clone<S: Schedule>(data: *const ()) -> RawWaker {
    // SAFETY: a waker holds (or borrows from the runner) a reference, so the header is alive.
    let header = unsafe { &*(data as *const Header) };
    header.state.ref_inc();
    RawWaker::new(data, &WakerVtable::<S>::VTABLE)
}

unsafe fn waker_wake<S: Schedule>(data: *const ()) {
    // SAFETY: this waker owns a reference, which the transition consumes.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: our reference keeps the header alive until the transition below consumes it.
    let header = unsafe { ptr.as_ref() };
    match header.state.transition_to_notified_by_val() {
        WakeByVal::Nothing => {}
        WakeByVal::Submit => {
            // The transition added the queue entry's reference; ours keeps the cell alive
            // through `submit`, and only then goes.
            // SAFETY: our reference.
            unsafe { submit::<S>(header, ptr) };
            // SAFETY: releasing the waker's own reference.
            unsafe { drop_reference(ptr) };
        }
        // SAFETY: the last reference is gone.
        WakeByVal::Dealloc => unsafe { (header.vtable.dealloc)(ptr) },
    }
}

unsafe fn waker_wake_by_ref<S: Schedule>(data: *const ()) {
    // SAFETY: the waker keeps the header alive for this call.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    // SAFETY: as above.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_notified_by_ref() {
        // SAFETY: the waker's reference lasts through the call.
        unsafe { submit_by_ref::<S>(header, ptr) };
    }
}

/// `submit` out of line, for `wake_by_ref`: its common case is a task waking itself while it
/// runs (`yield_now`), which queues nothing, and an inlined `submit` (its sampling stamp
/// included) would cost that path a bigger prologue.
///
/// # Safety
/// As `submit`'s.
#[inline(never)]
unsafe fn submit_by_ref<S: Schedule>(header: &Header, ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    unsafe { submit::<S>(header, ptr) }
}

/// Queue a wake's new entry (whose reference the transition added). The caller holds a
/// reference of its own through this call: once the entry is published another M may run
/// and free the task while `schedule` — running on the cell's scheduler handle, inside the
/// cell — is still waking peers.
///
/// # Safety
/// `ptr` is a `Cell<_, S>` on which the caller holds a reference through the call.
unsafe fn submit<S: Schedule>(header: &Header, ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    let sched = unsafe { sched_of::<S>(ptr) };
    header.stamp_runnable(sched);
    sched.schedule(Notified::from_header(ptr), false);
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: this waker owns one reference.
    unsafe { drop_reference(NonNull::new_unchecked(data as *mut Header)) }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// The header is 72 bytes on 64-bit targets and has no padding: its size is the sum of its
    /// fields'; with the runtime's one-word scheduler handle after it, 80. A regression (a new
    /// field, an order that pads) shows here before it shows as a bigger size class in
    /// `cargo bench --bench idle_memory`.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn header_is_80_bytes_without_padding() {
        let fields = size_of::<State>()
            + size_of::<&'static Vtable>()
            + size_of::<TaskId>()
            + size_of::<AtomicUsize>()
            + size_of::<WakerSlot>()
            + size_of::<&'static Location<'static>>()
            + size_of::<AtomicU64>()
            + size_of::<u32>()
            + size_of::<AtomicU32>();
        assert_eq!(size_of::<Header>(), 72);
        assert_eq!(fields, size_of::<Header>(), "padding in Header");
        type S = crate::executor::schedule_impl::TaskSched;
        assert_eq!(size_of::<S>(), 8);
        assert_eq!(size_of::<Prefix<S>>(), 80);
    }

    /// The stage costs the larger of the future and the output, with no discriminant: the
    /// idle task of `idle_memory` (a 24-byte future) takes a 104-byte cell.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn stage_has_no_discriminant() {
        fn stage_size<F: Future>(_: &F) -> usize {
            size_of::<Stage<F>>()
        }
        let (tx, rx) = std::sync::mpsc::channel::<u8>();
        let fut = async move {
            let _ = rx.recv();
            std::future::ready(()).await;
        };
        let want = size_of_val(&fut).max(size_of::<Result<(), JoinError>>());
        assert_eq!(stage_size(&fut), want);
        drop((tx, fut));
        assert_eq!(size_of::<Result<u64, JoinError>>(), 16);
        struct Idle {
            _words: [u64; 3],
        }
        impl Future for Idle {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                Poll::Pending
            }
        }
        assert_eq!(
            size_of::<Cell<Idle, crate::executor::schedule_impl::TaskSched>>(),
            104
        );
    }

    #[test]
    fn born_rounds_down_and_saturates() {
        assert_eq!(born_units(0), 0);
        assert_eq!(born_units(BORN_UNIT_NS - 1), 0);
        assert_eq!(born_units(BORN_UNIT_NS), 1);
        assert_eq!(born_units(3 * BORN_UNIT_NS + 5), 3);
        let last = u64::from(u32::MAX) * BORN_UNIT_NS;
        assert_eq!(born_units(last), u32::MAX);
        // Past the range: pinned at the last unit, not wrapped to a small value.
        assert_eq!(born_units(last + BORN_UNIT_NS), u32::MAX);
        assert_eq!(born_units(u64::MAX), u32::MAX);
    }

    /// A task whose `JoinHandle` is gone is freed by the M that completes it, inside
    /// `complete`. Under Miri (CI runs this module) this checks that the free goes through the
    /// task's own pointer: one re-derived from `&cell.header`, or a live `&Cell` argument across
    /// the free, is undefined behaviour (CI's Miri run caught the first, in a JoinSet test, only
    /// on the thread interleavings where the runner held the last reference).
    #[test]
    fn detached_tasks_are_freed_by_their_runner() {
        use std::sync::Arc;
        let rt = crate::Runtime::builder().procs(1).build().unwrap();
        rt.block_on(async {
            let live = Arc::new(());
            // Completed: the runner holds the last reference when the poll returns `Ready`.
            let done = live.clone();
            drop(crate::spawn(async move { drop(done) }));
            // Cancelled: aborted while idle, with only the abort handle left outside it.
            let parked = live.clone();
            let handle = crate::spawn(async move {
                let _keep = parked;
                std::future::pending::<()>().await
            });
            let abort = handle.abort_handle();
            drop(handle);
            // Let the parked task take its first poll (its future owns `parked` either way).
            crate::yield_now().await;
            abort.abort();
            // Both futures dropped means both runners reached `complete`; the runtime's drop
            // below waits for the M, so the frees have happened before the test ends.
            while Arc::strong_count(&live) > 1 {
                crate::yield_now().await;
            }
        });
    }
}
