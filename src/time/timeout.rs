//! `timeout`: bound how long a future may take.

use super::sleep::{sleep_until, Sleep};
use super::Instant;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Run `future`, giving up with [`Elapsed`] after `duration`.
///
/// The future is polled first, so one that is ready at once completes even with a zero timeout.
/// A timeout that does not fire costs one timer add and one O(1) cancel.
///
/// ```
/// use std::time::Duration;
/// gmp::block_on(async {
///     let slow = gmp::time::sleep(Duration::from_secs(3600));
///     assert!(gmp::time::timeout(Duration::from_millis(5), slow).await.is_err());
///     let fast = async { 42 };
///     assert_eq!(gmp::time::timeout(Duration::from_secs(1), fast).await, Ok(42));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    let deadline = Instant::now()
        .checked_add(duration)
        .unwrap_or_else(super::sleep::far_future);
    timeout_at(deadline, future)
}

/// Run `future`, giving up with [`Elapsed`] at `deadline` (a [`gmp::time::Instant`](Instant)
/// or a `std::time::Instant`).
pub fn timeout_at<F: Future>(deadline: impl Into<Instant>, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// Future returned by [`timeout`] and [`timeout_at`].
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Unwrap the future, dropping the timer.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The error of a [`timeout`] that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
