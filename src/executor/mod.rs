//! The executor: Go's G/M/P scheduler.
//!
//! - **G** ([`task`]): a spawned future in one allocation; a `Waker` is a pointer to it.
//! - **P** ([`p`], [`runq`]): a logical processor with a 256-slot ring and a runnext
//!   slot. There are `procs` Ps, changed live by a resize (`sched/resize.rs`, Go's
//!   `procresize`) between 1 and `max_procs`, the Ps allocated at start. A P is a shared half (in
//!   `allp`) and an owned half that moves between Ms with the right to run it.
//! - **M** ([`m`]): an OS thread. An M runs Gs only while it holds a P; Ms are created on
//!   demand (up to `max_threads`) and park on the idle list when there is nothing to do.
//! - [`sched`]: the shared state (Go's `schedt`): the global queue, the idle P and M lists,
//!   the spinning count, and the moves between them (`wakep`, `startm`, ...), one concern per
//!   file; the spinning handshake itself (idle lists, `npidle`, `nmspinning`, `wakep`'s claim,
//!   the re-check after releasing a P) lives in [`idle`], where it is model-checked.
//! - [`sched_ref`]: what keeps the runtime alive from task cells and timers, counted per P.
//! - [`syscall`]: blocking sections (Go's `entersyscall`/`exitsyscall`).
//! - [`trace`]: the flight recorder (Go 1.25's), off by default: per-P rings of scheduler
//!   events written by the P's owner, read by snapshots without stopping anyone.
//! - [`latency`]: the scheduling-latency histogram (runnable until polled, 1 in 64 sampled, one
//!   per P), fed by `execute`.
//!
//! Every path where "someone must look" and why no wakeup is lost: `WAKEUPS.md` in this
//! directory.
//!
//! Names: a function that does what a Go runtime function does carries Go's identifier,
//! lowercased and split only where Go's camelCase splits it — `runqput`, `globrunqget`,
//! `wakep`, `startm`, `stopm`, `acquirep`, `releasep`, `pidleput`, `handoffp`,
//! `entersyscall`, `exitsyscall`, `injectglist`, `find_runnable` (`findRunnable`),
//! `steal_work` (`stealWork`) — so that grepping `proc.go` for it finds its model. Names of
//! gmp's own steps (`give_up_p`, `steal_backlog`, `kick_runnext`, `handoff_from_syscall`)
//! are plain snake_case English. Files: `m.rs` is Go's `m`, `p.rs` Go's `p`, `sched/` Go's
//! `schedt`.
//!
//! Invariants, as in Go's `proc.go`:
//! 1. A G is in at most one queue at a time, and is polled by at most one M at a time
//!    (the `NOTIFIED`/`RUNNING` bits of its state word).
//! 2. A P is owned by at most one M. Only the owner pushes to its ring; anyone may steal.
//! 3. No lost wakeups: work that becomes runnable while every M is looking away is found,
//!    because an M that goes idle re-checks the queues *after* publishing itself as idle, and
//!    whoever makes work runnable checks for idle Ps *after* publishing the work (see [`sched`]).
//! 4. Spinning Ms (looking for work with a P in hand) are capped at half the busy Ps, and a
//!    spinning M that finds work wakes the next one, so wakeups chain rather than stampede.

/// Go's `throw` for a broken scheduler invariant (`startm: m has p`, `pidleput: P already
/// idle`, ...): checked in debug builds (the debug-build stress test in CI runs them) and
/// under loom, compiled out of release builds.
macro_rules! invariant {
    ($cond:expr, $($msg:tt)+) => {
        if cfg!(any(debug_assertions, loom)) && !$cond {
            panic!("gmp: scheduler invariant broken: {}", format_args!($($msg)+));
        }
    };
}

pub(crate) mod blocking_slots;
pub(crate) mod context;
pub mod coop;
pub(crate) mod debug;
pub(crate) mod global_queue;
pub(crate) mod hooks;
pub(crate) mod idle;
pub(crate) mod latency;
pub(crate) mod m;
pub(crate) mod metrics;
pub(crate) mod p;
pub(crate) mod park;
pub(crate) mod prefetch;
pub(crate) mod pstatus;
pub(crate) mod rng;
pub(crate) mod runq;
pub(crate) mod sched;
pub(crate) mod sched_ref;
pub(crate) mod schedule_impl;
pub(crate) mod syscall;
pub(crate) mod sysmon_handle;
pub(crate) mod task;
pub(crate) mod tokio_bridge;
pub(crate) mod trace;
pub(crate) mod wake;
mod yield_now;

pub use yield_now::{yield_now, YieldNow};
