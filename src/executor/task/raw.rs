//! Task identity and the queue-entry handle (`Notified`); creating and shutting down tasks.

use super::core::{Cell, Header};
use super::schedule::Schedule;
use super::JoinHandle;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::ptr::NonNull;

/// A task's unique id (Go's `goid`). Ids are never reused within a process.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// let h = rt.spawn(async {});
/// let id: gmp::TaskId = h.id();
/// println!("spawned {id}");
/// # rt.block_on(h).unwrap();
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TaskId(std::num::NonZeroU64);

impl TaskId {
    /// Ids start at 1; the zero left over gives `JoinError` and `Result<_, JoinError>` a niche,
    /// which keeps every task cell 8 bytes smaller.
    pub(crate) fn new(id: u64) -> TaskId {
        TaskId(std::num::NonZeroU64::new(id).expect("gmp: task ids start at 1"))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A queue entry: owns one reference and the right to run the task once. `S` is the task's
/// scheduler type (the cell's), which `run` expects.
pub(crate) struct Notified<S: 'static>(NonNull<Header>, PhantomData<fn(S)>);

// SAFETY: a task's shared state is atomics plus a stage guarded by RUNNING; the future and its
// output are `Send` (enforced at spawn), and so is the scheduler (`Schedule: Send + Sync`).
unsafe impl<S> Send for Notified<S> {}

impl<S: 'static> Notified<S> {
    /// Adopt a queue reference (one the caller owns) on a task whose scheduler is an `S`.
    pub(crate) fn from_header(ptr: NonNull<Header>) -> Notified<S> {
        Notified(ptr, PhantomData)
    }

    pub(crate) fn into_raw(self) -> *mut Header {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `ptr` must come from [`Notified::into_raw`] and be adopted exactly once.
    pub(crate) unsafe fn from_raw(ptr: *mut Header) -> Notified<S> {
        // SAFETY: per the contract, a non-null pointer produced by `into_raw`.
        Notified(unsafe { NonNull::new_unchecked(ptr) }, PhantomData)
    }

    /// The task's header (for the scheduler's latency sampling).
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: our reference keeps the header alive while we are borrowed.
        unsafe { self.0.as_ref() }
    }

    /// The task's id.
    pub(crate) fn id(&self) -> TaskId {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.0.as_ref().id }
    }

    /// Where the task was spawned.
    pub(crate) fn spawned_at(&self) -> &'static Location<'static> {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.0.as_ref().spawned_at }
    }

    /// Poll the task once (Go's `execute`), on an M of `sched` (the task's runtime) holding
    /// P `p`.
    pub(crate) fn run(self, p: usize, sched: &S) {
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: we hand our reference to `run`, which consumes it; the cell's scheduler is
        // an `S` (that is what `Notified<S>` says), which `run` reads `sched` as.
        unsafe { (ptr.as_ref().vtable.run)(ptr, p, (sched as *const S).cast()) }
    }
}

impl<S: 'static> Drop for Notified<S> {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { super::core::drop_reference(self.0) }
    }
}

/// Allocate a task and hand back its first queue entry and its join handle, for a spawn by
/// the holder of P `p` (or by a thread without one). The task enters `sched.owned()` only at
/// its first poll (see `owned`); if the runtime is shutting down it is cancelled at once and
/// `None` comes back instead of a queue entry.
pub(crate) fn new_task<F, S>(
    future: F,
    sched: &S,
    at: &'static Location<'static>,
) -> (Option<Notified<S>>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let (ptr, p) = Cell::allocate(future, sched, at);
    let join = JoinHandle::new(ptr);
    let notified = Notified::from_header(ptr);
    sched.owned().note_spawn(p);
    if !sched.is_shutdown() {
        (Some(notified), join)
    } else {
        shutdown_queued(notified);
        (None, join)
    }
}

/// Cancel a queued task for runtime shutdown (unless it already completed) and drop the queue
/// entry. This is how shutdown reaches tasks that were never polled, so never listed: it
/// drains every queue through here after cancelling the listed ones.
pub(crate) fn shutdown_queued<S: 'static>(task: Notified<S>) {
    let ptr = task.0;
    std::mem::forget(task);
    // SAFETY: the queue entry's reference, ours, is the one `shutdown` releases.
    unsafe { shutdown(ptr) }
}

/// Cancel a task for runtime shutdown and release the reference the caller holds.
///
/// # Safety
/// The caller owns one reference to the task (its owned-list entry, or a queue entry).
pub(crate) unsafe fn shutdown(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_shutdown() {
        // SAFETY: we won RUNNING (with an extra reference that `cancel` releases).
        unsafe { (header.vtable.cancel)(ptr) };
    }
    // SAFETY: releasing the caller's reference.
    unsafe { super::core::drop_reference(ptr) };
}
