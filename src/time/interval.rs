//! `Interval`: a periodic ticker.

use super::sleep::{far_future, sleep_until, Sleep};
use super::Instant;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// `t + d`, or "never" (the far future) where that overflows `Instant`: a period of
/// `Duration::MAX` ticks once, then never again.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or_else(far_future)
}

/// What an [`Interval`] does when ticks were missed (the task was busy past a tick).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the original schedule
    /// (the default, as in tokio).
    #[default]
    Burst,
    /// Fire once now, then schedule the next tick one period from now.
    Delay,
    /// Fire once now, then continue on the original schedule, skipping the missed ticks.
    Skip,
}

/// A ticker firing every `period`; the first tick completes immediately. A period too long
/// to add to an `Instant` (`Duration::MAX`, `u64::MAX` ms) ticks once, then never again.
///
/// # Panics
/// When `period` is zero.
///
/// ```
/// use std::time::Duration;
/// gmp::block_on(async {
///     let mut every = gmp::time::interval(Duration::from_millis(2));
///     for _ in 0..3 {
///         every.tick().await;
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// A ticker whose first tick is at `start` (a [`gmp::time::Instant`](Instant) or a
/// `std::time::Instant`), then every `period`.
///
/// # Panics
/// When `period` is zero.
pub fn interval_at(start: impl Into<Instant>, period: Duration) -> Interval {
    let start = start.into();
    assert!(!period.is_zero(), "gmp: interval period must be non-zero");
    Interval {
        period,
        next: start,
        sleep: sleep_until(start),
        missed: MissedTickBehavior::default(),
    }
}

/// Returned by [`interval`]; call [`tick`](Interval::tick).
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    next: Instant,
    sleep: Sleep,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Wait for the next tick; returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Poll for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.next;
        let now = self.sleep.clock_now();
        let period = self.period;
        self.next = match self.missed {
            MissedTickBehavior::Burst => later(tick, period),
            MissedTickBehavior::Delay => match tick.checked_add(period) {
                Some(next) if now <= next => next,
                _ => later(now, period),
            },
            MissedTickBehavior::Skip => match tick.checked_add(period) {
                Some(next) if next > now => next,
                Some(_) => {
                    // Whole periods missed, then one more: the first tick after `now` on the
                    // original schedule.
                    let k = (now - tick).as_nanos() / period.as_nanos() + 1;
                    let skip = u64::try_from(k.saturating_mul(period.as_nanos()))
                        .map_or(Duration::MAX, Duration::from_nanos);
                    later(tick, skip)
                }
                None => far_future(),
            },
        };
        self.sleep.reset(self.next);
        Poll::Ready(tick)
    }

    /// Restart the schedule one period from now.
    pub fn reset(&mut self) {
        self.next = later(self.sleep.clock_now(), self.period);
        self.sleep.reset(self.next);
    }

    /// Choose what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The current missed-tick behaviour.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}
