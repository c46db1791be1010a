//! Per-thread context: which runtime this thread belongs to, and the P it lends to the task it
//! polls.
//!
//! While an M holds a P, the P's owned half (`p::PLocal`) lives here: `acquirep` puts it here
//! ([`Context::hold_p`]), `releasep` takes it out ([`Context::drop_p`]). The M loop reaches it
//! through the `&Context` it runs with ([`with_context`]); a spawn or a wake from inside a
//! task it polls reaches the ring's producer end, the free task memory and the id cache only
//! through [`with_local`] — so only the thread that owns the P touches them. A blocking
//! section takes the owned half from here and leaves it in the P's slot (`entersyscall`),
//! where sysmon may hand it to another M; if it comes back (`exitsyscall`'s fast path), it
//! is here again. No owned half here after a poll means the P was retaken.
//!
//! A wake from inside a task polled by an M goes to that M's P (runnext), Go's `ready()`; any
//! other wake goes to the global queue.

use super::p::PLocal;
use super::sched::Sched;
use super::sched_ref::SchedRef;
use super::schedule_impl::Notified;
use std::cell::{Cell, OnceCell, RefCell, RefMut};
use std::ptr;
use std::sync::Arc;

pub(crate) const NO_P: usize = usize::MAX;

pub(crate) struct Context {
    /// On an M, its runtime's handle, set once for the thread's life (empty elsewhere): which
    /// runtime this thread is an M of, and what `gmp::spawn` borrows (instead of cloning
    /// `handle`, an RMW on the runtime's shared reference count) while `handle` is that same
    /// runtime.
    worker: OnceCell<Arc<Sched>>,
    /// `worker`'s scheduler as a plain pointer (null elsewhere), set with it: every wake
    /// asks "is this an M of that runtime?", and one load and compare answer it.
    sched: Cell<*const Sched>,
    /// The index of the P whose owned half is lent here (`local`), or `NO_P`.
    p: Cell<usize>,
    /// The owned half of the P, lent by the M for the poll of a task.
    local: RefCell<Option<Box<PLocal>>>,
    /// The runtime `Handle::current()` returns here.
    handle: RefCell<Option<Arc<Sched>>>,
    /// Inside `block_on` (nesting it would deadlock or starve).
    in_block_on: Cell<bool>,
    /// How many blocking sections (`block_in_place`, `spawn_blocking`) this thread is inside:
    /// there it holds no P, so `block_on` is allowed (see [`enter`]).
    blocking: Cell<u32>,
    /// Readying a batch (netpoll events, due timers): wakes of this M's runtime's tasks are
    /// collected here, in order, for `injectglist` (Go's netpoll returns a `gList`).
    batch: RefCell<Option<Vec<Notified>>>,
    /// `batch` is `Some`: one load for every wake to check, instead of a `RefCell` borrow.
    collecting: Cell<bool>,
}

crate::loom::thread_local! {
    static CONTEXT: Context = const {
        Context {
            worker: OnceCell::new(),
            sched: Cell::new(ptr::null()),
            p: Cell::new(NO_P),
            local: RefCell::new(None),
            handle: RefCell::new(None),
            in_block_on: Cell::new(false),
            blocking: Cell::new(0),
            batch: RefCell::new(None),
            collecting: Cell::new(false),
        }
    };
}

impl Context {
    /// True if this thread is an M of `sched`.
    #[inline]
    fn is_m_of(&self, sched: &Sched) -> bool {
        ptr::eq(self.sched.get(), sched)
    }

    /// This M's own runtime, if it is also the current one (no other runtime entered).
    #[inline]
    fn own_if_current(&self) -> Option<&Arc<Sched>> {
        let own = self.worker.get()?;
        self.handle
            .borrow()
            .as_ref()
            .is_some_and(|h| Arc::ptr_eq(h, own))
            .then_some(own)
    }
}

/// The P this thread holds in `sched`, if it is one of its Ms.
#[inline]
pub(crate) fn current_p(sched: &Sched) -> Option<usize> {
    CONTEXT
        .try_with(|c| (c.is_m_of(sched) && c.p.get() != NO_P).then(|| c.p.get()))
        .ok()
        .flatten()
}

/// True if this thread is an M of `sched`, holding a P or not (in a blocking section, or
/// between Ps).
pub(crate) fn is_m_of(sched: &Sched) -> bool {
    CONTEXT.try_with(|c| c.is_m_of(sched)).unwrap_or(false)
}

/// Route a wake of one of `sched`'s tasks (Go's `ready`), with one thread-local access: into
/// the batch this M is collecting, or to this M's P (`f` puts it there with the P's owned
/// half). Hands the task back (`Err`) when this thread is not an M of `sched` holding a P:
/// the caller queues it globally.
#[inline]
pub(crate) fn ready_local(
    sched: &Sched,
    task: Notified,
    f: impl FnOnce(&mut PLocal, Notified),
) -> Result<(), Notified> {
    let mut task = Some(task);
    let res = CONTEXT.try_with(|c| {
        if !c.is_m_of(sched) {
            return None;
        }
        let t = task.take().expect("taken once");
        if c.collecting.get() {
            if let Some(batch) = c.batch.borrow_mut().as_mut() {
                batch.push(t);
                return Some(Ok(()));
            }
        }
        Some(match c.local.try_borrow_mut() {
            Ok(mut l) => match l.as_mut() {
                Some(l) => {
                    f(l, t);
                    Ok(())
                }
                None => Err(t),
            },
            Err(_) => Err(t),
        })
    });
    match res {
        Ok(Some(r)) => r,
        _ => Err(task.take().expect("not taken")),
    }
}

/// Run `f` on this M (a netpoll, a timer run) and return the tasks of this M's runtime that it
/// readied, in order, instead of queueing each as it is woken: the caller runs one and hands
/// out the rest with `injectglist`, so a batch costs at most one wakeup, not one per task.
/// Inside an outer `collect_ready`, the outer one gets them (and this returns none).
///
/// If `f` panics, the tasks collected so far are queued globally on the way out (none lost).
pub(crate) fn collect_ready(sched: &Arc<Sched>, f: impl FnOnce()) -> Vec<Notified> {
    struct Unwind<'a>(&'a Arc<Sched>);
    impl Drop for Unwind<'_> {
        fn drop(&mut self) {
            let list = CONTEXT.with(|c| {
                c.collecting.set(false);
                c.batch.take()
            });
            for t in list.into_iter().flatten() {
                self.0.inject(t);
            }
        }
    }
    if CONTEXT.with(|c| c.batch.borrow().is_some()) {
        f();
        return Vec::new();
    }
    CONTEXT.with(|c| {
        *c.batch.borrow_mut() = Some(Vec::new());
        c.collecting.set(true);
    });
    let unwind = Unwind(sched);
    f();
    std::mem::forget(unwind);
    CONTEXT
        .with(|c| {
            c.collecting.set(false);
            c.batch.take()
        })
        .unwrap_or_default()
}

/// Run `f` with the scheduler and P this thread holds, if it is an M holding a P.
pub(crate) fn with_current_p<R>(f: impl FnOnce(&Arc<Sched>, usize) -> R) -> Option<R> {
    CONTEXT
        .try_with(|c| {
            let p = c.p.get();
            if p == NO_P {
                return None;
            }
            c.own_if_current().map(|s| f(s, p))
        })
        .ok()
        .flatten()
}

/// Run `f` with the scheduler this thread is an M of, whatever runtime is current here.
pub(crate) fn with_m_sched<R>(f: impl FnOnce(&Arc<Sched>) -> R) -> Option<R> {
    CONTEXT.try_with(|c| c.worker.get().map(f)).ok().flatten()
}

/// Run `f` with the scheduler this thread is an M of.
pub(crate) fn with_sched<R>(f: impl FnOnce(&Sched) -> R) -> Option<R> {
    CONTEXT
        .try_with(|c| c.own_if_current().map(|s| f(s)))
        .ok()
        .flatten()
}

/// Run `f` (an M's whole life) with this thread's context in hand: the M loop reaches its
/// P's owned half without a thread-local lookup per step.
pub(crate) fn with_context<R>(f: impl FnOnce(&Context) -> R) -> R {
    CONTEXT.with(f)
}

impl Context {
    /// `acquirep`'s end: this thread now holds P `local`.
    #[inline]
    pub(crate) fn hold_p(&self, local: Box<PLocal>) {
        self.p.set(local.id);
        let old = self.local.replace(Some(local));
        debug_assert!(old.is_none(), "hold_p: this thread already holds a P");
    }

    /// `releasep`'s start: the owned half of the P held here, if any (`None`: a blocking
    /// section left it in its slot and sysmon handed it to another M).
    #[inline]
    pub(crate) fn drop_p(&self) -> Option<Box<PLocal>> {
        self.p.set(NO_P);
        self.local.take()
    }

    /// The index of the P held here, or `NO_P`.
    #[inline]
    pub(crate) fn pid(&self) -> usize {
        self.p.get()
    }

    /// The owned half of the P held here. Panics if there is none or it is in use up the
    /// stack (the M loop never holds it across a poll or user code).
    #[inline]
    pub(crate) fn local(&self) -> RefMut<'_, PLocal> {
        RefMut::map(self.local.borrow_mut(), |l| {
            l.as_deref_mut().expect("the M holds a P")
        })
    }
}

/// This thread now holds P `local` (`exitsyscall` taking its P back).
#[inline]
pub(crate) fn hold_p(local: Box<PLocal>) {
    CONTEXT.with(|c| c.hold_p(local));
}

/// The owned half of the P this thread holds, out of its hands (`entersyscall`).
#[inline]
pub(crate) fn drop_p() -> Option<Box<PLocal>> {
    CONTEXT.with(|c| c.drop_p())
}

/// Run `f` with the owned half of the P lent to this thread, if this thread is an M of
/// `sched` holding one and nobody up the stack is using it; otherwise `Err(arg)`, for the
/// caller's path without a P (the global queue, the global free list).
#[inline(always)]
pub(crate) fn with_local<T, R>(
    sched: &Sched,
    arg: T,
    f: impl FnOnce(&mut PLocal, T) -> R,
) -> Result<R, T> {
    let mut arg = Some(arg);
    let res = CONTEXT.try_with(|c| {
        if !c.is_m_of(sched) {
            return None;
        }
        let mut local = c.local.try_borrow_mut().ok()?;
        let local = local.as_mut()?;
        Some(f(local, arg.take().expect("taken once")))
    });
    match res {
        Ok(Some(r)) => Ok(r),
        _ => Err(arg.take().expect("not taken")),
    }
}

/// Mark this thread as an M of `handle`'s runtime (for its whole life).
pub(crate) fn enter_worker(handle: Arc<Sched>) {
    CONTEXT.with(|c| {
        c.sched.set(&*handle);
        assert!(
            c.worker.set(handle.clone()).is_ok(),
            "gmp: a thread became an M twice"
        );
        *c.handle.borrow_mut() = Some(handle);
    });
}

/// Run `f` on the runtime that `gmp::spawn` uses here (`None`: no current runtime). On an M
/// whose current runtime is its own, that is the M's own handle, borrowed: no reference-count
/// traffic on the runtime per spawn. Elsewhere the current handle is cloned first, so that no
/// `RefCell` borrow is held while `f` runs (a spawn can run user code: a future dropped
/// because the runtime shut down, which might `enter` another runtime).
pub(crate) fn with_spawn_sched<R>(f: impl FnOnce(Option<&Arc<Sched>>) -> R) -> R {
    let mut f = Some(f);
    let mut call = |s: Option<&Arc<Sched>>| (f.take().expect("called once"))(s);
    let res = CONTEXT.try_with(|c| match c.own_if_current() {
        Some(own) => call(Some(own)),
        None => {
            let h = c.handle.borrow().clone();
            call(h.as_ref())
        }
    });
    // Err: thread-local storage torn down (a spawn from another thread-local's destructor).
    res.unwrap_or_else(|_| call(None))
}

/// A reference on the runtime that `gmp::spawn` uses here (`None`: no current runtime),
/// counted on this thread's P of it when it holds one (`sched_ref`): one thread-local visit
/// for both, what a `Sleep` takes at creation.
pub(crate) fn current_sched_ref() -> Option<SchedRef> {
    CONTEXT
        .try_with(|c| match c.own_if_current() {
            Some(own) => {
                let mut local = c.local.try_borrow_mut().ok();
                Some(match local.as_mut().and_then(|l| l.as_mut()) {
                    Some(l) => SchedRef::on_p(own, l),
                    None => SchedRef::remote(own),
                })
            }
            None => c.handle.borrow().as_ref().map(SchedRef::remote),
        })
        .ok()
        .flatten()
}

pub(crate) fn current_sched() -> Option<Arc<Sched>> {
    CONTEXT
        .try_with(|c| c.handle.borrow().clone())
        .ok()
        .flatten()
}

/// Marks this thread as inside a blocking section until dropped.
pub(crate) struct BlockingSection(());

/// Enter a blocking section (`block_in_place`): until the guard drops, this thread holds no P
/// (an M's P is left behind by `entersyscall`), so `block_on` may run here. Sections nest.
pub(crate) fn enter_blocking_section() -> BlockingSection {
    let _ = CONTEXT.try_with(|c| c.blocking.set(c.blocking.get() + 1));
    BlockingSection(())
}

impl Drop for BlockingSection {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|c| c.blocking.set(c.blocking.get().saturating_sub(1)));
    }
}

/// Restores the previous context when a `block_on` or `enter` ends.
pub(crate) struct EnterGuard {
    prev_handle: Option<Arc<Sched>>,
    was_block_on: bool,
    /// A `block_on` inside a blocking section: the section depth to restore (its future runs
    /// outside the section, so a `block_on` nested in it needs a section of its own).
    was_blocking: Option<u32>,
}

/// Enter `handle` on this thread; with `block_on`, panic if that would nest a blocking wait
/// inside a worker or another `block_on` — unless this thread is inside a blocking section
/// (`spawn_blocking`, `block_in_place`), where it holds no P and its caller is blocked anyway,
/// as in tokio.
pub(crate) fn enter(handle: &Arc<Sched>, block_on: bool) -> EnterGuard {
    CONTEXT.with(|c| {
        let in_section = block_on && c.blocking.get() > 0;
        if block_on && !in_section {
            if c.in_block_on.get() {
                panic!(
                    "gmp: cannot call block_on while this thread is already inside block_on; \
                     use `.await` instead."
                );
            }
            if c.worker.get().is_some() {
                panic!(
                    "gmp: cannot call block_on from inside a gmp task: it would block an M that \
                     holds a P. Use `.await` instead (block_on is allowed inside spawn_blocking \
                     and block_in_place, whose thread holds no P)."
                );
            }
        }
        let was_block_on = c.in_block_on.replace(block_on || c.in_block_on.get());
        let was_blocking = in_section.then(|| c.blocking.replace(0));
        let prev_handle = c.handle.replace(Some(handle.clone()));
        EnterGuard {
            prev_handle,
            was_block_on,
            was_blocking,
        }
    })
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev_handle.take();
        let was = self.was_block_on;
        let was_blocking = self.was_blocking;
        let _ = CONTEXT.try_with(|c| {
            *c.handle.borrow_mut() = prev;
            c.in_block_on.set(was);
            if let Some(depth) = was_blocking {
                c.blocking.set(depth);
            }
        });
    }
}
