//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Each P keeps its timers in a 4-ary min-heap (Go's design); an M checks its P's heap every
//! time it looks for work, Ms out of work also run other Ps' due timers (Go's timer stealing),
//! and the M blocked in the poll sleeps exactly until the earliest timer of all Ps (a timerfd,
//! so there is no millisecond rounding). A dropped [`Sleep`] cancels its timer in O(1).
//!
//! A timer belongs to the runtime current when it is created (or the global runtime), and fires
//! whoever polls it — a gmp task, `block_on`, or another executor's thread.

mod interval;
mod sleep;
mod timeout;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::Instant;
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
