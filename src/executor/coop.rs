//! Cooperative scheduling: how a long-running task is asked to yield.
//!
//! Rust cannot preempt a future from outside, so gmp does what Go did before asynchronous
//! preemption: sysmon sets a **preempt flag** on a P whose task has run longer than its time
//! slice (10ms by default), and gmp's own leaf futures — I/O readiness, timers, `yield_now`,
//! join handles — check the flag and, when it is set, return `Pending` once after waking
//! themselves, so the task goes to the back of the line. Third-party leaf futures can do the
//! same with [`poll_proceed`], and plain async code with [`checkpoint`].
//!
//! The flag is cleared when the M starts a task on a fresh slice, not when a task taken from
//! `runnext` inherits the running one (a ping-pong chain shares one slice, and keeps the flag);
//! by the leaf future that yields for it ([`poll_proceed`]); and by the scheduler when it next
//! looks for work with the flag set, which also ends the runnext chain (the runnext task goes
//! to the ring) and lets the global queue go first.

use super::context;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// True when the running task has used up its time slice and should yield.
pub fn should_yield() -> bool {
    context::with_current_p(|sched, p| sched.allp[p].preempt_requested()).unwrap_or(false)
}

/// For leaf futures: `Pending` (after waking the task) when the task should yield, else
/// `Ready(())` — call it at the start of `poll` and return early on `Pending`.
///
/// ```
/// use std::task::{Context, Poll};
/// fn poll_my_io(cx: &mut Context<'_>) -> Poll<u32> {
///     std::task::ready!(gmp::coop::poll_proceed(cx));
///     Poll::Ready(7) // ... the real readiness check
/// }
/// # let waker = futures_task::noop_waker();
/// # assert_eq!(poll_my_io(&mut Context::from_waker(&waker)), Poll::Ready(7));
/// ```
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    if should_yield() {
        context::with_current_p(|sched, p| sched.allp[p].clear_preempt());
        cx.waker().wake_by_ref();
        Poll::Pending
    } else {
        Poll::Ready(())
    }
}

/// An await point that yields only when the task has been asked to (its time slice is used
/// up); otherwise it completes at once. Put it in long loops that have no other await.
///
/// ```
/// gmp::block_on(async {
///     let mut sum = 0u64;
///     for i in 0..1_000_000u64 {
///         sum += i;
///         if i % 1024 == 0 {
///             gmp::coop::checkpoint().await;
///         }
///     }
///     assert_eq!(sum, 499_999_500_000);
/// });
/// ```
pub fn checkpoint() -> Checkpoint {
    Checkpoint { done: false }
}

/// Future returned by [`checkpoint`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Checkpoint {
    done: bool,
}

impl Future for Checkpoint {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        std::task::ready!(poll_proceed(cx));
        self.done = true;
        Poll::Ready(())
    }
}
