//! References that keep the runtime alive from a task cell or a timer, counted per P instead
//! of on one shared counter (the scheme of Linux's `percpu_ref`; Go needs none, its garbage
//! collector keeps `sched` alive).
//!
//! Every task cell and every `Sleep` must keep its runtime's `Sched` alive: a waker can outlive
//! the runtime, and freeing a cell goes through the runtime's free lists. They used to hold an
//! `Arc<Sched>` each, so every spawn, every freed task, every `sleep` created and dropped
//! wrote the one strong count of the runtime, from every M: on 2 workers that line's
//! ping-pong was 14% of `timers_100k` (perf: the `lock incq`/`lock decq` of the clone and the
//! drop), and on more cores it is the first thing that stops a spawn storm from scaling.
//!
//! A [`SchedRef`] is one word, a pointer to the `Sched`; what it counts is kept apart:
//! - the **P-local count** (`PLocal::refs`, a plain integer) of the P the thread holds, when it
//!   holds one of this runtime's Ps: taking or dropping a reference there is an add on the
//!   P's owned half, which the spawn and the free already visit;
//! - the **remote count** ([`SchedRefs::remote`], atomic) for every other thread.
//!
//! The population (live references) is the sum of all of them; a single count may go below
//! zero (a task spawned on a P and freed by a thread without one).
//!
//! Invariants:
//! - While any P is *unfolded*, `remote` carries [`BIAS`] and the runtime holds its *guard*: one
//!   strong count of its `Arc<Sched>`, taken at creation ([`SchedRefs::install_guard`]). So no
//!   count can reach zero while Ps count locally.
//! - A P is **folded** exactly once, when no M will count on it again: at shutdown, after the
//!   Ms are stopped, if it sits in its slot; otherwise when its M puts it back
//!   (`P::put_local`), both under the slot's lock. Folding adds its count to `remote`, marks
//!   it (a later holder counts remotely) and, for the last P, removes the bias.
//! - After the last fold `remote` is the population. Its step from 1 to 0 releases the guard
//!   (the `Sched` is freed once no `Handle` is left either); a step from 0 to 1 — a reference
//!   taken through a live `Arc<Sched>`, a `Handle` kept after the runtime's tasks are gone —
//!   takes a guard again. Each step is one atomic read-modify-write, so each is seen by
//!   exactly one thread.
//! - A P never unfolds. A runtime that never shuts down (the global one) never folds, and
//!   is never freed, as before.
//!
//! Who may call what: [`SchedRef::on_p`] and [`SchedRef::release_on_p`] only with the owned
//! half of a P of the same runtime (the thread holding it); [`fold`] only with a P's owned
//! half that no M will hold again, under its slot's lock (`P::fold_refs`, `P::put_local`).

use super::p::PLocal;
use super::sched::Sched;
use crate::loom::sync::atomic::{AtomicIsize, AtomicPtr, AtomicUsize, Ordering::*};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Arc;

/// What `remote` carries while any P is unfolded: far above any population, so no count
/// reaches zero before the last fold.
const BIAS: isize = 1 << 60;

/// The runtime's remote count and its fold state (in `Sched`). On a cache-line pair of its
/// own: a thread spawning from outside writes it per spawn, and it must not drag the line of
/// whatever `Sched` field the compiler put beside it.
#[repr(align(128))]
pub(crate) struct SchedRefs {
    /// References counted by threads holding no P of this runtime, the folded Ps' counts, and
    /// [`BIAS`] until the last fold.
    remote: AtomicIsize,
    /// Ps not yet folded.
    unfolded: AtomicUsize,
    /// The guard: `Arc::into_raw` of the strong count it holds, so that whoever releases it
    /// has a pointer to the whole `Arc` allocation (a `&Sched` reaches only the `Sched`).
    guard: AtomicPtr<Sched>,
}

impl SchedRefs {
    /// The counts of a runtime with `nps` Ps (all of `allp`, reserve included).
    pub(crate) fn new(nps: usize) -> SchedRefs {
        SchedRefs {
            remote: AtomicIsize::new(BIAS),
            unfolded: AtomicUsize::new(nps),
            guard: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Take the guard the bias stands for: called once, on the new runtime's `Arc`.
    pub(crate) fn install_guard(sched: &Arc<Sched>) {
        // The count taken here is given back by the release that takes `remote` to zero
        // (`release_remote`), and only by it.
        let guard = Arc::into_raw(sched.clone()).cast_mut();
        sched.refs.guard.store(guard, Release);
    }

    /// Fold every P still in its slot and mark the rest to fold when put back (shutdown, after
    /// the Ms are stopped; also a runtime whose build failed after `Sched::new`).
    pub(crate) fn fold_all(sched: &Arc<Sched>) {
        for p in sched.allp.iter() {
            p.fold_refs(sched);
        }
    }

    /// Population references counted remotely (tests and debugging).
    #[cfg(test)]
    pub(crate) fn remote(&self) -> isize {
        self.remote.load(SeqCst)
    }
}

/// Count one reference on `sched`'s remote count. `sched` is a live `Arc` (which is what makes
/// a step from zero safe: the `Sched` cannot be freed under us).
fn acquire_remote(sched: &Arc<Sched>) {
    if sched.refs.remote.fetch_add(1, AcqRel) == 0 {
        // The population had died and released its guard: take one again.
        SchedRefs::install_guard(sched);
    }
}

/// Drop `n` references from `sched`'s remote count; the step to zero releases the guard.
///
/// # Safety
/// `sched` points to a live `Sched` whose remote count includes these `n` (so the guard is
/// held until this call), and the caller touches it no more after the call.
unsafe fn release_remote(sched: *const Sched, n: isize) {
    // SAFETY: live, per the contract.
    let refs = unsafe { &(*sched).refs };
    if refs.remote.fetch_sub(n, AcqRel) == n {
        let guard = refs.guard.load(Acquire);
        // SAFETY: the guard's count, `Arc::into_raw` by `install_guard` (before the step from
        // zero this release pairs with); we were the step to zero, so nobody else releases it.
        drop(unsafe { Arc::from_raw(guard) });
    }
}

/// Fold P `local`'s count into the remote one (see the module docs; under its slot's lock,
/// for a P no M will hold again). A folded P is left alone.
pub(crate) fn fold(sched: &Sched, local: &mut PLocal) {
    if local.refs_folded {
        return;
    }
    local.refs_folded = true;
    let n = std::mem::take(&mut local.refs);
    let refs = &sched.refs;
    refs.remote.fetch_add(n, AcqRel);
    if refs.unfolded.fetch_sub(1, AcqRel) == 1 {
        // SAFETY: the bias is in `remote` until this call. Every caller (shutdown, an M
        // putting its P back) holds an `Arc` of its own, so the guard's release cannot free
        // the `Sched` under it.
        unsafe { release_remote(sched, BIAS) };
    }
}

/// Add `delta` to P `local`'s count, unless it is folded (then the caller counts remotely):
/// true if counted here.
#[inline(always)]
fn count_on_p(local: &mut PLocal, delta: isize) -> bool {
    if local.refs_folded {
        return false;
    }
    local.refs += delta;
    true
}

/// A reference that keeps a runtime's `Sched` alive, counted where it was taken (see the
/// module docs): what a task cell and a `Sleep` hold. One word; dereferences to the runtime's
/// `Arc<Sched>` (not a counted clone of it: cloning *that* takes an ordinary strong count).
#[repr(transparent)]
pub(crate) struct SchedRef(ManuallyDrop<Arc<Sched>>);

impl SchedRef {
    /// A reference counted on the P whose owned half is `local` (its holder's call).
    #[inline(always)]
    pub(crate) fn on_p(sched: &Arc<Sched>, local: &mut PLocal) -> SchedRef {
        if !count_on_p(local, 1) {
            acquire_remote(sched);
        }
        SchedRef::uncounted(sched)
    }

    /// A reference counted remotely (a thread holding no P of `sched`).
    pub(crate) fn remote(sched: &Arc<Sched>) -> SchedRef {
        acquire_remote(sched);
        SchedRef::uncounted(sched)
    }

    /// The `Arc` without a count of its own: only ever wrapped in a counted `SchedRef`.
    #[inline]
    fn uncounted(sched: &Arc<Sched>) -> SchedRef {
        // SAFETY: `Arc::as_ptr` of a live `Arc`; the `ManuallyDrop` never gives this strong
        // count back, as it never took one: the population's guard keeps the `Sched` alive
        // while this reference is counted.
        SchedRef(ManuallyDrop::new(unsafe {
            Arc::from_raw(Arc::as_ptr(sched))
        }))
    }

    /// The runtime's `Arc`, uncounted, for use while this reference is alive (a caller that
    /// must move the reference and still reach the runtime before it releases it).
    #[inline]
    pub(crate) fn alias(&self) -> ManuallyDrop<Arc<Sched>> {
        // SAFETY: as in `uncounted`: this reference's count keeps the `Sched` alive while
        // the alias is used, and the `ManuallyDrop` never gives back a count it never took.
        ManuallyDrop::new(unsafe { Arc::from_raw(Arc::as_ptr(&self.0)) })
    }

    /// The runtime's own `Arc` seen as a `SchedRef`, borrowed: what the M's handle passes
    /// where task code expects its scheduler type. Never dropped (it is a borrow), so it
    /// counts nothing.
    #[inline]
    pub(crate) fn borrowed(sched: &Arc<Sched>) -> &SchedRef {
        // SAFETY: `SchedRef` is `repr(transparent)` over `ManuallyDrop<Arc<Sched>>`, which is
        // `repr(transparent)` over `Arc<Sched>`: the same layout; and a shared borrow can
        // neither drop nor move out of it.
        unsafe { &*(sched as *const Arc<Sched>).cast::<SchedRef>() }
    }

    /// Drop this reference on the P whose owned half is `local` (its holder's call).
    #[inline(always)]
    pub(crate) fn release_on_p(self, local: &mut PLocal) {
        let ptr = Arc::as_ptr(&self.0);
        std::mem::forget(self);
        if !count_on_p(local, -1) {
            // SAFETY: counted in the population until this release; not touched after it.
            unsafe { release_remote(ptr, 1) };
        }
    }
}

impl Deref for SchedRef {
    type Target = Arc<Sched>;

    #[inline]
    fn deref(&self) -> &Arc<Sched> {
        &self.0
    }
}

impl Drop for SchedRef {
    fn drop(&mut self) {
        let ptr = Arc::as_ptr(&self.0);
        let counted_here = super::context::with_local(&self.0, (), |l, ()| count_on_p(l, -1));
        if counted_here != Ok(true) {
            // SAFETY: this reference is counted in the population, so the guard is held
            // until this release; `self` is not touched after it.
            unsafe { release_remote(ptr, 1) };
        }
    }
}

impl std::fmt::Debug for SchedRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SchedRef")
            .field(&Arc::as_ptr(&self.0))
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn runtime() -> crate::Runtime {
        crate::Runtime::builder().procs(2).build().unwrap()
    }

    /// A task's cell and a `Sleep` keep the runtime alive after it is dropped, wherever they
    /// were counted (on a P, from outside), and the last of them frees it.
    #[test]
    fn the_last_task_or_timer_frees_the_runtime() {
        let rt = runtime();
        let weak = Arc::downgrade(&rt.handle().sched);
        // Created on an M (counted on its P), kept outside.
        let made_on_m = rt.spawn(async {
            let s = crate::time::sleep(Duration::from_secs(3600));
            Some(s)
        });
        let sleep = rt.block_on(made_on_m).unwrap().expect("made");
        // Spawned from outside (counted remotely), never polled to completion.
        let pending = rt.spawn(std::future::pending::<()>());
        drop(rt);
        assert!(
            weak.upgrade().is_some(),
            "a JoinHandle and a Sleep still hold it"
        );
        drop(pending);
        assert!(weak.upgrade().is_some(), "the Sleep still holds it");
        drop(sleep);
        assert!(weak.upgrade().is_none(), "freed with its last reference");
    }

    /// After the population died, a `Handle` kept by the user can still take references (a
    /// spawn on the shut-down runtime: its task is cancelled at once, but its `JoinHandle`
    /// holds the cell): the count steps from zero again and takes a new guard, which the step
    /// back to zero gives back. The runtime goes with the `Handle`.
    #[test]
    fn a_kept_handle_takes_the_guard_again() {
        let rt = runtime();
        let handle = rt.handle().clone();
        let weak = Arc::downgrade(&handle.sched);
        drop(rt);
        assert_eq!(
            handle.sched.refs.remote(),
            0,
            "all folded, no reference left"
        );
        assert_eq!(Arc::strong_count(&handle.sched), 1, "only the handle");
        let join = handle.spawn(async {});
        assert_eq!(handle.sched.refs.remote(), 1);
        assert_eq!(
            Arc::strong_count(&handle.sched),
            2,
            "the handle and a new guard"
        );
        let direct = SchedRef::remote(&handle.sched);
        assert_eq!(handle.sched.refs.remote(), 2);
        drop(join);
        drop(direct);
        assert_eq!(Arc::strong_count(&handle.sched), 1, "the guard given back");
        drop(handle);
        assert!(weak.upgrade().is_none());
    }

    /// A runtime dropped by one of its own tasks: shutdown cannot wait for that M, which
    /// holds its P through the drop, so the P is folded when the M puts it back on its way
    /// out; the runtime is freed after that.
    #[test]
    fn a_runtime_dropped_on_its_own_m_is_freed_when_the_m_leaves() {
        let rt = runtime();
        let weak = Arc::downgrade(&rt.handle().sched);
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = rt.handle().clone();
        drop(handle.spawn(async move {
            // Counted on this M's P, released after the drop below.
            let sleep = crate::time::sleep(Duration::from_secs(3600));
            drop(rt);
            drop(sleep);
            tx.send(()).unwrap();
        }));
        drop(handle);
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the task ran");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while weak.upgrade().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the runtime was not freed after its M left"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A runtime whose Ms never ran a task is freed too (every P folded from its slot).
    #[test]
    fn a_runtime_dropped_right_after_its_build_is_freed() {
        let rt = runtime();
        let weak = Arc::downgrade(&rt.handle().sched);
        drop(rt);
        assert!(weak.upgrade().is_none());
    }
}
