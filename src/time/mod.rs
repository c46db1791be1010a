//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`]; virtual time: [`pause`],
//! [`resume`], [`advance`].
//!
//! Each P keeps its timers in a 4-ary min-heap (Go's design); an M checks its P's heap every
//! time it looks for work, Ms out of work also run other Ps' due timers (Go's timer stealing),
//! and the M blocked in the poll sleeps exactly until the earliest timer of all Ps (a timerfd,
//! so there is no millisecond rounding). A dropped [`Sleep`] cancels its timer in O(1).
//!
//! A timer belongs to the runtime current when it is created (or the global runtime), and fires
//! whoever polls it — a gmp task, `block_on`, or another executor's thread.
//!
//! # Virtual time
//!
//! Each runtime has its own timer clock. [`pause`] (or
//! [`Builder::start_paused`](crate::runtime::Builder::start_paused),
//! `#[gmp::test(start_paused = true)]`) freezes it:
//! [`Instant::now`] then returns the runtime's virtual instant, and every timer of the runtime
//! uses it. It moves only forward, by [`advance`] or by **auto-advance**, on any number of Ps:
//!
//! > The clock jumps to the earliest timer (and fires every timer due then) only when no task
//! > of the runtime can run: no M of the runtime is running (each is parked or asleep in the
//! > poll — so none is inside a blocking section, `spawn_blocking`, `block_in_place` or a
//! > `gmp::fs` call), no thread inside the runtime's `block_on` is running its future, the
//! > run queues are empty, every P is idle, and no task is **waiting on I/O**.
//!
//! *Waiting on I/O* means: a task is parked on a reactor source's waiter slot — its read,
//! write, accept, connect, `readable()`/`writable()` or `AsyncFd` poll returned `Pending`
//! and registered its waker — from that registration until readiness is delivered to it or
//! the source is dropped. That includes pipes, child-process handles and signal listeners: a
//! real event is on its way, so virtual time waits for it (Go's `testing/synctest` behaves the
//! same; tokio's paused time jumps regardless, so a real socket under a `timeout` times out at
//! once there). A source nobody polls — a bound `TcpListener` never accepted on, an idle
//! connection — does not hold the clock. A future dropped while pending (the losing branch of
//! a `select!`) leaves its registration until the next event on that source or its drop.
//!
//! The invariant, checked where it can change: the last participant to go idle (an M parking,
//! the poller, a `block_on` thread parking) wakes the M holding the poll, and that M, counted
//! idle and holding the poll (so no readiness is dispatched meanwhile), reads a generation
//! counter, every count and queue above, and the counter again; only if nothing was busy and
//! the counter did not move does it jump. Whoever wakes a participant counts it running before
//! it can take work, so "nothing busy" is never seen while work is in hand. A paused runtime's
//! poll never sleeps towards a virtual deadline: it sleeps until woken. Sysmon does not fire
//! timers while paused (auto-advance and `advance` fire what they make due, in order).
//! Wakes from threads outside the runtime race with the jump, as they would with real time.
//!
//! ```
//! use gmp::time::{sleep, timeout, Instant};
//! use std::time::Duration;
//! let rt = gmp::Runtime::builder().procs(4).start_paused(true).build().unwrap();
//! rt.block_on(async {
//!     let start = Instant::now();
//!     // An hour passes in no real time: nothing else can run.
//!     let r = timeout(Duration::from_secs(3600), sleep(Duration::from_secs(7200))).await;
//!     assert!(r.is_err());
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! ```

mod instant;
mod interval;
mod pause;
mod sleep;
mod timeout;

pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use pause::{advance, pause, resume};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
