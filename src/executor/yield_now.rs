//! `yield_now`: Go's `Gosched`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yield to the scheduler: the task goes to the back of its P's run queue and other tasks run
/// first.
///
/// Go's `Gosched` puts the G on the global queue; gmp keeps it on the local ring's tail, which
/// is as fair towards the local queue, keeps the task's data in this core's cache, and avoids a
/// contended global push per yield. Global work still gets its turn through the 1-in-61 check.
///
/// ```
/// gmp::block_on(async {
///     gmp::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
