//! `Instant`: a point on the runtime's timer clock (std's `Instant`, unless time is paused).

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of a monotonically nondecreasing clock: the current runtime's timer clock.
///
/// It is `std::time::Instant` with the same API, except that [`Instant::now`] reads the
/// *virtual* clock of the current runtime once its time has been paused
/// ([`pause`](crate::time::pause), [`Builder::start_paused`](crate::runtime::Builder::start_paused)).
/// Outside any runtime, or on a runtime never paused, it is the real clock. Convert with
/// [`from_std`](Instant::from_std)/[`into_std`](Instant::into_std) or `From`/`Into`;
/// the timer functions also take a `std::time::Instant`, as a point on the same clock.
///
/// ```
/// use gmp::time::Instant;
/// use std::time::Duration;
/// let rt = gmp::Runtime::builder().procs(2).start_paused(true).build().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     gmp::time::sleep(Duration::from_secs(3600)).await; // returns at once: nothing else runs
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    std: std::time::Instant,
}

impl Instant {
    /// Now, on the current runtime's timer clock (the real clock unless paused).
    pub fn now() -> Instant {
        if crate::reactor::clock::VIRTUAL_CLOCKS.load(std::sync::atomic::Ordering::Relaxed) != 0 {
            let virt = crate::executor::context::with_spawn_sched(|s| {
                s.and_then(|s| s.reactor.virtual_now())
            });
            if let Some(std) = virt {
                return Instant { std };
            }
        }
        Instant {
            std: std::time::Instant::now(),
        }
    }

    /// The same point as a `std::time::Instant`.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant { std }
    }

    /// This point as a `std::time::Instant`.
    pub fn into_std(self) -> std::time::Instant {
        self.std
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time from `earlier` to `self`, `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.std.checked_duration_since(earlier.std)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// Time since `self` on the current runtime's clock.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + d`, `None` on overflow.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        self.std.checked_add(d).map(Instant::from_std)
    }

    /// `self - d`, `None` on overflow.
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        self.std.checked_sub(d).map(Instant::from_std)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant { std }
    }
}

impl From<Instant> for std::time::Instant {
    fn from(t: Instant) -> std::time::Instant {
        t.std
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant { std: self.std + d }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        self.std += d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant { std: self.std - d }
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        self.std -= d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
