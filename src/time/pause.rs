//! Virtual time: [`pause`], [`resume`], [`advance`].

use crate::executor::context;
use crate::runtime::Handle;
use std::time::Duration;

fn current(what: &str) -> Handle {
    Handle::try_current().unwrap_or_else(|_| {
        panic!(
            "gmp::time::{what} called outside of a gmp runtime: time is paused per runtime, \
             so call it inside a task, `Runtime::block_on` or `#[gmp::test]` (or build the \
             runtime with `Builder::start_paused(true)`)"
        )
    })
}

/// Pause the current runtime's timer clock: from now on [`Instant::now`](super::Instant::now)
/// stands still, and moves only by [`advance`] or by auto-advance — when no task of the
/// runtime can run, the clock jumps to the next timer and fires it (see the [module
/// docs](super) for the exact rule). Pausing a paused clock does nothing. Inside
/// `gmp::block_on` the current runtime is the global one, so that is the clock paused.
///
/// # Panics
/// Outside a runtime.
///
/// ```
/// use gmp::time::{Instant, sleep};
/// use std::time::Duration;
/// let rt = gmp::Runtime::builder().procs(4).build().unwrap();
/// rt.block_on(async {
///     gmp::time::pause();
///     let start = Instant::now();
///     let tasks: Vec<_> = (1..=3u64)
///         .map(|h| gmp::spawn(sleep(Duration::from_secs(h * 3600))))
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(start.elapsed(), Duration::from_secs(3 * 3600));
/// });
/// ```
pub fn pause() {
    current("pause()").sched.reactor.pause();
}

/// Let the current runtime's clock run again, from the instant it stands at (it never goes
/// back: a clock that jumped ahead stays ahead of the real one by as much).
///
/// # Panics
/// Outside a runtime, or when time is not paused (tokio's rule).
///
/// ```
/// let rt = gmp::Runtime::builder().start_paused(true).build().unwrap();
/// rt.block_on(async { gmp::time::resume() });
/// ```
pub fn resume() {
    if !current("resume()").sched.reactor.resume() {
        panic!("gmp::time::resume() called, but time is not paused on this runtime");
    }
}

/// Move the current runtime's paused clock forward by `duration`, firing the timers due on
/// the way in deadline order (the clock stands at each timer's deadline while it fires), then
/// yield so the tasks they woke can run. It does not wait for those tasks; to wait for them,
/// `sleep` instead and let auto-advance move the clock.
///
/// # Panics
/// Outside a runtime, or when time is not paused on it.
///
/// ```
/// use gmp::time::{advance, sleep, Instant};
/// use std::time::Duration;
/// let rt = gmp::Runtime::builder().procs(2).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     let t = gmp::spawn(sleep(Duration::from_secs(10)));
///     advance(Duration::from_secs(10)).await;
///     t.await.unwrap();
///     assert_eq!(start.elapsed(), Duration::from_secs(10));
/// });
/// ```
pub async fn advance(duration: Duration) {
    let handle = current("advance()");
    let sched = &handle.sched;
    let clock = &sched.reactor.clock;
    if !clock.is_paused() {
        panic!(
            "gmp::time::advance() called, but time is not paused on this runtime; call \
             gmp::time::pause() first (or build it with Builder::start_paused(true))"
        );
    }
    let target = sched
        .reactor
        .timer_now()
        .saturating_add(crate::reactor::saturating_ns(duration))
        .min(crate::reactor::FAR_NS);
    loop {
        let next = sched.next_timer_when();
        if next > target || !clock.advance_to(next) {
            break;
        }
        let list = context::collect_ready(sched, || sched.run_all_timers());
        sched.injectglist(list.into_iter(), None);
    }
    clock.advance_to(target);
    crate::yield_now().await;
}
