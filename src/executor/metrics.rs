//! Scheduler counters, read without stopping anything.

use super::latency::SchedLatency;

/// A snapshot of a runtime's scheduler, from [`Handle::metrics`](crate::Handle::metrics).
///
/// Counters are written by their owners without locks and read racily: each is exact at some
/// instant, the set is approximately simultaneous.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Number of Ps.
    pub procs: usize,
    /// Ms (OS threads) alive.
    pub threads: usize,
    /// Ps on the idle list.
    pub idle_procs: usize,
    /// Ms parked on the idle list.
    pub idle_threads: usize,
    /// Spinning Ms (holding a P, looking for work), spinner slots claimed by `wakep` for Ms
    /// still being started included.
    pub spinning_threads: usize,
    /// Tasks spawned and not yet complete: `tasks_runnable + tasks_running + tasks_blocking +
    /// tasks_waiting`.
    pub live_tasks: usize,
    /// Live tasks queued to run (rings, runnext slots, global queue; tasks not polled yet
    /// included): [`TaskState::Runnable`](crate::TaskState::Runnable) in a dump, where tasks not
    /// polled yet are counted in `unpolled`.
    pub tasks_runnable: usize,
    /// Live tasks being polled by an M that holds a P ([`TaskState::Running`]).
    ///
    /// [`TaskState::Running`]: crate::TaskState::Running
    pub tasks_running: usize,
    /// Live tasks being polled inside a blocking section (`spawn_blocking`, `block_in_place`,
    /// `gmp::fs`; Go's "in syscall"), or finishing a poll whose blocking section lost its P
    /// ([`TaskState::Syscall`]). A `spawn_blocking` task waiting for a blocking slot is
    /// waiting, not blocking.
    ///
    /// [`TaskState::Syscall`]: crate::TaskState::Syscall
    pub tasks_blocking: usize,
    /// Live tasks that returned `Pending` and have not been woken since
    /// ([`TaskState::Waiting`]): `live_tasks` less the other three, which it absorbs the
    /// error of when tasks move during the read (see [`RuntimeMetrics`]).
    ///
    /// [`TaskState::Waiting`]: crate::TaskState::Waiting
    pub tasks_waiting: usize,
    /// Tasks ever spawned (Go's `/sched/goroutines-created`).
    pub tasks_spawned: u64,
    /// Tasks that completed (with their output or a panic).
    pub tasks_completed: u64,
    /// Tasks that were cancelled (aborted).
    pub tasks_cancelled: u64,
    /// Tasks in the global queue.
    pub global_queue_len: usize,
    /// Task polls (sum of the Ps' `polls`; a runnext hand-off counts, unlike in `schedtick`).
    pub polls: u64,
    /// Successful steals (each moves half of the victim's ring, or its runnext task).
    pub steals: u64,
    /// Tasks moved by steals.
    pub stolen_tasks: u64,
    /// Full rings that sent half of themselves to the global queue.
    pub runq_overflows: u64,
    /// Global-queue tasks run ahead of local ones: by the 1-in-61 check, or first after a
    /// time slice ran out.
    pub fairness_picks: u64,
    /// Blocking sections entered on an M holding a P (`spawn_blocking`, `block_in_place`,
    /// `gmp::fs`; the sum of the Ps' syscalltick).
    pub blocking_sections: u64,
    /// Blocking sections whose P was handed to another M.
    pub handoffs: u64,
    /// Preempt flags set by sysmon (time slices used up).
    pub preemptions: u64,
    /// Stuck-P rescues made by sysmon.
    pub rescues: u64,
    /// Blocking sections running now (`spawn_blocking`, `block_in_place`, `gmp::fs`).
    pub blocking_in_flight: usize,
    /// Blocking tasks waiting for a slot: the runtime is at its cap of concurrent blocking
    /// sections (`blocking_cap`), so these hold no M until one ends.
    pub blocking_waiting: usize,
    /// At most this many blocking sections run at once: the Ms the runtime may have
    /// (`max_threads`, or fewer once the OS refused a thread) less one per P, at least 1.
    pub blocking_cap: usize,
    /// Panics caught in sysmon, each followed by a restart (a bug in gmp if ever non-zero).
    pub sysmon_restarts: u64,
    /// Timers pending in the Ps' heaps (cancelled ones not yet cleaned up included).
    pub timers: usize,
    /// I/O sources registered with the reactor.
    pub io_sources: usize,
    /// Netpoll calls made, blocking or not (a poll that fails is not counted).
    pub netpoll_polls: u64,
    /// Readiness events netpoll delivered to registered sources (its own wakeups and timer
    /// expirations not counted).
    pub netpoll_events: u64,
    /// Scheduling latency: time from a task becoming runnable to its poll starting, sampled
    /// one in 64 (Go's `/sched/latencies:seconds`, which samples one in 8), since the runtime
    /// started.
    pub sched_latency: SchedLatency,
    /// Per-P counters, one per P (`procs`); stuck-P rescue's reserve Ps count in the sums
    /// above but are not listed.
    pub per_p: Vec<ProcMetrics>,
}

/// One P's counters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProcMetrics {
    /// The P's index.
    pub id: usize,
    /// `Idle`, `Running`, `Syscall` or `Dead`.
    pub status: String,
    /// Time slices started on this P (Go's `schedtick`: a runnext hand-off inherits the slice
    /// and does not count).
    pub schedtick: u64,
    /// Task polls on this P.
    pub polls: u64,
    /// Tasks in the ring (runnext excluded).
    pub runq_len: usize,
    /// Whether runnext holds a task.
    pub has_runnext: bool,
    /// Successful steals by this P.
    pub steals: u64,
    /// Tasks this P moved by stealing.
    pub stolen_tasks: u64,
    /// Overflows of this P's ring to the global queue.
    pub runq_overflows: u64,
    /// Global-queue tasks this P ran ahead of local ones (see
    /// [`RuntimeMetrics::fairness_picks`]).
    pub fairness_picks: u64,
    /// Tasks spawned from tasks running on this P.
    pub tasks_spawned: u64,
}
