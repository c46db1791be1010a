//! Blocking sections: Go's syscall handoff (`entersyscall`/`exitsyscall`), behind
//! [`spawn_blocking`] and [`block_in_place`].
//!
//! A blocking closure runs on the M that polls its task, inside a *blocking section*:
//! `entersyscall` marks the M's P `Syscall` and forgets it in the thread's context (a store or
//! two), so nothing the closure does can touch the P's ring. Then:
//! - **short call**: `exitsyscall` CASes the P back `Syscall -> Running` and the M carries on —
//!   no thread switch, no queue hop;
//! - **long call**: sysmon sees the P in the same blocking section for a whole tick and, when
//!   that pays (queued work, or nobody else looking for work), retakes it (`Syscall -> Idle`)
//!   and `handoffp`s it to another M. The returning M's CAS fails (slow path): its task is done
//!   (the result is already delivered through the `JoinHandle`), so it takes an idle P if there
//!   is one, else parks as a spare M.
//!
//! Every blocking section holds a slot of [`BlockingSlots`](super::blocking_slots): at most
//! `usable Ms - procs` run at once, so a burst of blocking calls can never take the Ms that the
//! Ps need (the OS's thread limit is learned when it first refuses a thread). Past the cap,
//! `spawn_blocking` tasks and `gmp::fs` calls wait as ordinary tasks holding no M;
//! `block_in_place`, which cannot wait, takes a slot regardless. The process never aborts.

use super::blocking_slots::WaitKey;
use super::context;
use super::sched::Sched;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A blocking section entered this soon after its P was last handed off, with work queued,
/// hands the P off at once.
const STORM_WINDOW_NS: u64 = 2_000_000;
use super::pstatus::PStatus;

/// Go's `entersyscall`: returns the P left behind, if this thread is an M holding one. The
/// P's owned half goes back to its slot *before* the status says `Syscall`, so that sysmon,
/// once its CAS `Syscall -> Idle` wins, hands a complete P to another M.
pub(crate) fn entersyscall() -> Option<usize> {
    context::with_current_p(|sched, p| {
        let pp = &sched.allp[p];
        let mut local = context::drop_p().expect("the P indexed in the context is held there");
        pp.syscalltick.bump(&mut local);
        super::trace::blocking_enter(sched, p);
        pp.put_local(sched, local);
        pp.set_status(PStatus::Syscall);
        if !pp.runq.is_empty() {
            let recent = sched
                .coarse_now()
                .saturating_sub(pp.last_handoff.load(Relaxed));
            if recent < STORM_WINDOW_NS
                && sched.long_syscalls.load(Relaxed) > 0
                && pp.status.cas(PStatus::Syscall, PStatus::Idle)
            {
                // A burst of long blocking calls: sysmon just had to hand this P off, other
                // calls it handed off are still running, and work is queued again. Hand off
                // now rather than one sysmon tick later (Go's `entersyscallblock`, chosen
                // adaptively). (`last_handoff` is left alone: only sysmon, which saw a call
                // really last, extends the burst.)
                sched.handoff_from_syscall(p);
            } else {
                // Work is queued behind this call: make sure sysmon looks soon, not after its
                // idle back-off (up to 10ms).
                sched.sysmon.kick();
            }
        }
        p
    })
}

/// Go's `exitsyscall`: take the P back if sysmon has not retaken it (fast path: the CAS
/// `Syscall -> Running`, then the owned half out of the slot, back in this thread's context);
/// otherwise the M goes on without one and finds one (or parks) when the current poll returns.
pub(crate) fn exitsyscall(p: usize) {
    context::with_sched(|sched| {
        let pp = &sched.allp[p];
        if pp.status.cas(PStatus::Syscall, PStatus::Running) {
            context::hold_p(pp.take_local());
            super::trace::blocking_exit(sched, p, true);
        } else {
            sched.long_syscalls.fetch_sub(1, Relaxed);
            super::trace::blocking_exit(sched, p, false);
        }
    });
}

/// Run a blocking closure in place, inside a blocking section: if it takes long, sysmon hands
/// this M's P to another M, so the runtime keeps `procs` Ps' worth of tasks running.
///
/// On an M it is Go's syscall handoff applied to any code; elsewhere (a `block_on` thread, a
/// foreign thread) it just runs `f`. After a long call the task continues without a P until its
/// next `.await` (its wakes and spawns go to the global queue meanwhile), then its M picks up a
/// P again or parks — a Rust task cannot be suspended in the middle of a poll the way Go
/// reschedules a goroutine in `exitsyscall`.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// let n = rt.block_on(rt.spawn(async {
///     gmp::block_in_place(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0))
/// }));
/// assert!(n.unwrap() > 0);
/// ```
pub fn block_in_place<F: FnOnce() -> R, R>(f: F) -> R {
    // It cannot wait for a blocking slot (it is synchronous): it takes one even past the cap,
    // so the capped callers wait longer instead.
    let holds_slot = context::with_m_sched(|s| s.blocking.enter_uncapped()).is_some();
    in_section(holds_slot, f)
}

/// Run `f` in a blocking section on this thread (Go's entersyscall .. exitsyscall), holding a
/// blocking slot already taken if `holds_slot`.
fn in_section<R>(holds_slot: bool, f: impl FnOnce() -> R) -> R {
    let _section = Section {
        p: entersyscall(),
        holds_slot,
        _marked: context::enter_blocking_section(),
    };
    f()
}

/// The end of a blocking section, also when `f` panics: `exitsyscall` (take the P back, or
/// learn it was handed off), then free the blocking slot (which wakes a task waiting for one,
/// onto this M's P when it has it back); the thread's in-section mark goes last.
struct Section {
    p: Option<usize>,
    holds_slot: bool,
    _marked: context::BlockingSection,
}

impl Drop for Section {
    fn drop(&mut self) {
        if let Some(p) = self.p {
            exitsyscall(p);
        }
        if self.holds_slot {
            context::with_m_sched(|s| s.blocking.release());
        }
    }
}

/// Waits for a blocking slot (see [`BlockingSlots`](super::blocking_slots::BlockingSlots)):
/// ready with `true` once one is held, or with `false` at once where there is nothing to cap
/// (not on an M: a `block_on` thread or a foreign one runs the call as it is). Dropped while
/// waiting, it leaves the queue (passing on a wakeup it was given).
pub(crate) struct SlotWait {
    /// The runtime whose queue this waits in (set while queued: the drop may run anywhere).
    sched: Option<Arc<Sched>>,
    key: WaitKey,
}

impl SlotWait {
    pub(crate) fn new() -> SlotWait {
        SlotWait {
            sched: None,
            key: None,
        }
    }

    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        context::with_m_sched(|sched| loop {
            let cap = sched.blocking_cap();
            if sched
                .blocking
                .poll_acquire(cap, &mut self.key, cx)
                .is_pending()
            {
                // Keep the runtime for a drop while queued (only on this slow path: the fast
                // path takes no reference).
                if self.sched.is_none() {
                    self.sched = Some(sched.clone());
                }
                return Poll::Pending;
            }
            // An M for every P besides the ones in blocking sections. If the OS refused one,
            // the cap just shrank to what it allows: keep the slot only if still under it.
            if sched.ensure_ms_for_blocking() || sched.blocking.in_flight() <= sched.blocking_cap()
            {
                return Poll::Ready(true);
            }
            sched.blocking.release();
        })
        .unwrap_or(Poll::Ready(false))
    }
}

impl Drop for SlotWait {
    fn drop(&mut self) {
        if let Some(s) = self.sched.take() {
            s.blocking.cancel(&mut self.key);
        }
    }
}

/// An async blocking section, for gmp's own blocking APIs (`gmp::fs`, process waits): waits
/// for a blocking slot when the runtime is at its cap of concurrent blocking sections (so
/// `procs` Ms always stay free for the Ps), then runs `f` in place on this M inside a blocking
/// section. A short call costs no thread switch; a long one has its P handed to another M by
/// sysmon.
pub(crate) async fn blocking<F: FnOnce() -> R, R>(f: F) -> R {
    let mut wait = SlotWait::new();
    if std::future::poll_fn(|cx| wait.poll_wait(cx)).await {
        in_section(true, f)
    } else {
        f()
    }
}

/// The future of a `spawn_blocking` task: waits for a blocking slot (an ordinary waiting
/// task, holding no M, while the runtime is at its cap), then runs the closure in place.
pub(crate) struct BlockingTask<F> {
    f: Option<F>,
    wait: SlotWait,
}

impl<F> BlockingTask<F> {
    pub(crate) fn new(f: F) -> BlockingTask<F> {
        BlockingTask {
            f: Some(f),
            wait: SlotWait::new(),
        }
    }
}

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> std::future::Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let holds_slot = ready!(self.wait.poll_wait(cx));
        let f = self
            .f
            .take()
            .expect("gmp: blocking task polled after completion");
        Poll::Ready(if holds_slot { in_section(true, f) } else { f() })
    }
}
