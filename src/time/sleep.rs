//! `Sleep`: a future that completes at a deadline.

use super::Instant;
use crate::executor::context;
use crate::executor::coop;
use crate::executor::sched_ref::SchedRef;
use crate::reactor::timers::TimerEntry;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// Wait until `duration` has elapsed.
///
/// ```
/// use gmp::time::Instant;
/// use std::time::Duration;
/// gmp::block_on(async {
///     let start = Instant::now();
///     gmp::time::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    sleep_until(now.checked_add(duration).unwrap_or_else(far_future))
}

/// Wait until `deadline` (a [`gmp::time::Instant`](Instant), or a `std::time::Instant`
/// taken as a point on the same clock).
pub fn sleep_until(deadline: impl Into<Instant>) -> Sleep {
    Sleep {
        deadline: deadline.into(),
        entry: None,
        sched: current_sched_ref(),
    }
}

/// A reference on the current runtime (the global one outside any), counted on this thread's
/// P when it holds one: no write to the runtime's shared reference count per timer
/// (`executor::sched_ref`).
fn current_sched_ref() -> SchedRef {
    context::current_sched_ref()
        .unwrap_or_else(|| SchedRef::remote(&crate::runtime::global_handle().sched))
}

/// About 30 years from now: "never" for timers.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// Future returned by [`sleep`] and [`sleep_until`]. Dropping it cancels the timer.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Arc<TimerEntry>>,
    sched: SchedRef,
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        let reactor = &self.sched.reactor;
        self.entry.as_ref().is_some_and(|e| e.is_fired())
            || reactor.timer_now() >= reactor.instant_to_ns(self.deadline.into_std())
    }

    /// Now on this sleep's runtime's timer clock.
    pub(crate) fn clock_now(&self) -> Instant {
        match self.sched.reactor.virtual_now() {
            Some(t) => Instant::from_std(t),
            None => Instant::from_std(std::time::Instant::now()),
        }
    }

    /// Move the deadline (cancelling the pending timer, if any).
    ///
    /// ```
    /// use gmp::time::Instant;
    /// use std::time::Duration;
    /// gmp::block_on(async {
    ///     let mut s = gmp::time::sleep(Duration::from_secs(3600));
    ///     s.reset(Instant::now() + Duration::from_millis(1));
    ///     s.await;
    /// });
    /// ```
    pub fn reset(&mut self, deadline: impl Into<Instant>) {
        self.cancel();
        self.deadline = deadline.into();
    }

    /// The runtime has shut down and this is not one of its own Ms (which are about to cancel
    /// their task): nothing will ever fire the timer.
    fn runtime_gone(&self) -> bool {
        self.sched
            .shutdown
            .load(std::sync::atomic::Ordering::Acquire)
            && !context::with_sched(|s| std::ptr::eq(s, &**self.sched)).unwrap_or(false)
    }

    fn cancel(&mut self) {
        if let Some(e) = self.entry.take() {
            self.sched.cancel_timer(&e);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready!(coop::poll_proceed(cx));
        let this = &mut *self;
        let entry = match &this.entry {
            Some(e) => e,
            None => {
                if this.runtime_gone() {
                    panic!("gmp: a timer was created on a runtime that has shut down");
                }
                let reactor = &this.sched.reactor;
                let when = reactor.instant_to_ns(this.deadline.into_std());
                // Already due? On the real clock, ask sysmon's coarse clock, which lags the
                // real one: no clock read here (`sleep` just read it for the deadline). A
                // deadline that passed since the last coarse tick is registered and fires at
                // the P's next timer check, as a deadline in the past does in Go's timer heap
                // and in tokio's wheel. On a paused or advanced clock, read the timer clock.
                let now = if reactor.clock.is_virtual() {
                    reactor.timer_now()
                } else {
                    this.sched.coarse_now()
                };
                if when <= now {
                    return Poll::Ready(());
                }
                // The entry is born with our waker: a firing from now on wakes it, so there
                // is nothing to register or re-check on this poll.
                this.entry = Some(this.sched.add_timer(when, cx.waker().clone()));
                return Poll::Pending;
            }
        };
        if entry.poll_fired(cx.waker()) {
            return Poll::Ready(());
        }
        if this.runtime_gone() {
            // Nothing will ever fire it. (On the runtime's own Ms the task is about to be
            // cancelled, so it just stays pending.)
            panic!("gmp: a timer was polled after its runtime shut down");
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}
