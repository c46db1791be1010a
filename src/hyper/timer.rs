//! `GmpTimer`: hyper's timer, backed by `gmp::time`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A [`hyper::rt::Timer`] on gmp's per-P timer heaps ([`gmp::time::sleep`](crate::time::sleep)).
///
/// Give it to hyper's builders (`.timer(GmpTimer::new())`) to enable
/// `header_read_timeout`, HTTP/2 keep-alive pings and the client pool's idle timeout.
///
/// ```
/// use hyper::rt::Timer;
/// use std::time::{Duration, Instant};
/// gmp::block_on(async {
///     let start = Instant::now();
///     gmp::hyper::GmpTimer::new().sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
#[non_exhaustive]
#[derive(Default, Debug, Clone, Copy)]
pub struct GmpTimer;

impl GmpTimer {
    /// A new timer (it holds nothing: sleeps go to the current runtime).
    pub fn new() -> Self {
        Self
    }
}

impl hyper::rt::Timer for GmpTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GmpSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(GmpSleep(crate::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<GmpSleep>() {
            // `GmpSleep` is `Unpin`, so the pinned reference can be unwrapped.
            Some(s) => s.get_mut().0.reset(new_deadline),
            // Someone else's sleep: replace it.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// [`gmp::time::Sleep`](crate::time::Sleep) as a [`hyper::rt::Sleep`].
#[derive(Debug)]
struct GmpSleep(crate::time::Sleep);

impl Future for GmpSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl hyper::rt::Sleep for GmpSleep {}
