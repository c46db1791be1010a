//! Scheduler state shared by every M and P (Go's `schedt`), one concern per file:
//! - here: the state itself ([`Sched`], its [`Config`]) and the counts others read;
//! - [`ready`]: making Gs runnable — spawn (Go's `newproc`), `ready`, `injectglist`, the global
//!   queue and the moves between it and a P's ring (`runqput`, `globrunqget`);
//! - [`handoff`]: moving Ps between Ms — `releasep` + `pidleput`, `pidleget`, `wakep`, `startm`,
//!   `handoffp` — around the spinning handshake of [`super::idle`];
//! - [`allm`]: the Ms themselves — `newm`, `mput`, spare Ms for blocking sections, exit;
//! - [`reserve`]: the reserve Ps that stuck-P rescue lends;
//! - [`resize`]: changing the number of Ps live (Go's `procresize`);
//! - [`timers`]: which P's heap a timer joins, and who looks at the earliest one;
//! - [`shutdown`]: stopping every M and dropping every task exactly once;
//! - [`metrics`]: the [`RuntimeMetrics`](crate::RuntimeMetrics) snapshot;
//! - [`states`]: live tasks by state (runnable, running, blocking, waiting), counted on read.
//!
//! Why no wakeup is lost across all of them: `src/executor/WAKEUPS.md`.

mod allm;
mod handoff;
mod metrics;
mod ready;
mod reserve;
mod resize;
mod shutdown;
mod states;
mod timers;

pub(crate) use handoff::Release;

use super::blocking_slots::BlockingSlots;
use super::global_queue::GlobalQueue;
use super::idle::{IdleState, Queues};
use super::m::MShared;
use super::p::{PStatus, P};
use super::schedule_impl::Notified;
use super::task;
use super::task::first_poll::FirstPollInfo;
use crate::loom::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering::*};
use crate::loom::sync::{Condvar, Mutex};
use crate::reactor::Reactor;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// Re-computes the automatic `procs` (capped at the given maximum): the cgroup rule, supplied
/// by the builder (`runtime/cgroup.rs`). `Ok((procs, how it was chosen))`, or why the limit
/// could not be read.
pub(crate) type AutoProcs = Box<dyn Fn(usize) -> Result<(usize, String), String> + Send + Sync>;

pub(crate) struct Config {
    /// The number of Ps at start; [`Sched::procs`] is the number now.
    pub(crate) procs: usize,
    /// The most Ps `set_procs` may ask for: `allp` holds this many real Ps (then the reserve).
    pub(crate) max_procs: usize,
    /// How sysmon re-computes the automatic `procs` to follow the cgroup CPU limit (`None`:
    /// `procs` was explicit).
    pub(crate) auto_procs: Option<AutoProcs>,
    pub(crate) max_threads: usize,
    pub(crate) time_slice: Duration,
    pub(crate) thread_name: String,
    pub(crate) stuck_rescue: bool,
    /// `Builder::wake_within_cpus`: limit `wakep` to the CPU count (`IdleState::room`).
    pub(crate) wake_within_cpus: bool,
    /// How long a spare M (no P, no work) waits before its thread exits.
    pub(crate) keep_alive: Duration,
    /// Stack size of every thread started (Ms and sysmon); `None`: Rust's default.
    pub(crate) stack_size: Option<usize>,
    pub(crate) debug: crate::executor::debug::DebugFlags,
    /// User callbacks on M start/stop/park/unpark.
    pub(crate) hooks: crate::executor::hooks::Hooks,
    /// Seeds every M's steal-order generator (`super::rng`).
    pub(crate) rng_seed: u64,
    /// The tokio runtime beside this one (`Builder::tokio_compat`), entered on every M.
    pub(crate) tokio: crate::executor::tokio_bridge::Bridge,
    /// `Builder::flight_recorder` (`GMPDEBUG=trace=1` or `tracefile=PATH` also turn it on).
    pub(crate) flight_recorder: bool,
}

pub(crate) struct Sched {
    pub(crate) allp: Box<[P]>,
    /// The global run queue (Go's `sched.runq`), lock-free.
    pub(crate) global: GlobalQueue<Notified>,
    /// Every live task that has been polled (Go's `allgs`); the rest are in run queues.
    pub(crate) owned: task::owned::OwnedTasks,
    /// Free task memory the Ps' own lists overflowed (Go's `sched.gFree`).
    pub(crate) gfree: task::gfree::GlobalFree,
    /// Netpoll: the runtime's `mio::Poll`, polled by the Ms themselves.
    pub(crate) reactor: Reactor,
    /// A coarse clock (ns since the reactor's epoch) for task ages and state times: ticked by
    /// sysmon every cycle and by each `acquirep`, read with one relaxed load.
    coarse_now: AtomicU64,
    /// Every M ever started and not exited (Go's `allm`), for scheddetail.
    pub(crate) allm: Mutex<Vec<Arc<MShared>>>,
    /// Round-robin P choice for timers added from outside the runtime's Ms.
    next_timer_p: AtomicUsize,
    pub(crate) config: Config,
    /// The idle P and M lists, `npidle`, `nmspinning`, `needspinning`.
    idle: IdleState<Arc<MShared>>,
    nmidle: AtomicUsize,
    /// Ms started and not yet exited.
    nthreads: AtomicUsize,
    next_mid: AtomicUsize,
    pub(crate) shutdown: AtomicBool,
    pub(crate) next_task_id: AtomicU64,
    threads: Mutex<Vec<crate::loom::thread::JoinHandle<()>>>,
    exit_lock: Mutex<()>,
    exit_cvar: Condvar,
    /// Strides coprime with `allp.len()`, for Go's random steal order.
    pub(crate) coprimes: Box<[usize]>,
    failed_spawn_reported: AtomicBool,
    /// Blocking sections that lost their P and are still running.
    pub(crate) long_syscalls: AtomicUsize,
    /// Ps in use now (Go's `gomaxprocs`): `allp[..procs]`; `allp[procs..max_procs]` are `Dead`
    /// or on their way there (`resize.rs`). Changed under the idle lock only.
    procs: AtomicUsize,
    /// Bumped by every resize (for sysmon's and the trace's notice).
    pub(crate) resizes: AtomicU64,
    /// sysmon follows the cgroup CPU limit (cleared by an explicit `set_procs`).
    pub(crate) auto_procs: AtomicBool,
    /// Polls whose blocking section lost their P and that have not returned yet (a section
    /// still running, or the rest of the poll, run without a P): see [`states`]. Signed: the
    /// M can count its return before the handoff counts the loss.
    polls_without_p: AtomicIsize,
    /// First polls whose P was handed off during a blocking section in them (see
    /// `task::first_poll`): their records, moved off the P by `lost_p`, for dumps.
    pub(crate) lost_first_polls: Mutex<Vec<FirstPollInfo>>,
    /// Reserve Ps (`allp[max_procs..]`) lent by stuck-P rescue right now, and rescues ever made.
    rescues_active: AtomicUsize,
    pub(crate) rescues_total: AtomicU64,
    /// The monitor thread.
    pub(crate) sysmon: crate::executor::sysmon_handle::SysmonHandle,
    /// The cap on concurrent blocking sections, and the tasks waiting under it.
    pub(crate) blocking: BlockingSlots,
    /// The flight recorder (`super::trace`).
    pub(crate) trace: crate::executor::trace::Recorder,
    /// References held by task cells and timers, counted per P (`super::sched_ref`).
    pub(crate) refs: crate::executor::sched_ref::SchedRefs,
}

/// The CPU limit `wakep` starts with ([`IdleState::room`]): the CPUs the process may run on
/// (the affinity mask; sysmon re-reads it once a second). None under loom: a model's Ms are
/// not threads competing for CPUs.
fn initial_cpus() -> usize {
    if cfg!(loom) {
        usize::MAX
    } else {
        crate::platform::cpu_count().unwrap_or(usize::MAX)
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Sched {
    pub(crate) fn new(config: Config) -> std::io::Result<Arc<Sched>> {
        let procs = config.procs;
        let max_procs = config.max_procs;
        debug_assert!(procs >= 1 && procs <= max_procs);
        let reactor = Reactor::new()?;
        // Ps `procs..max_procs` are dead until a resize brings them up. Stuck-P rescue lends
        // up to `max_procs` reserve Ps, kept after them.
        let nallp = if config.stuck_rescue {
            2 * max_procs
        } else {
            max_procs
        };
        let allp: Box<[P]> = (0..nallp).map(P::new).collect();
        for p in allp.iter().skip(procs) {
            p.set_status(PStatus::Dead);
        }
        let sched = Arc::new(Sched {
            refs: crate::executor::sched_ref::SchedRefs::new(nallp),
            allp,
            procs: AtomicUsize::new(procs),
            resizes: AtomicU64::new(0),
            auto_procs: AtomicBool::new(config.auto_procs.is_some()),
            rescues_active: AtomicUsize::new(0),
            long_syscalls: AtomicUsize::new(0),
            polls_without_p: AtomicIsize::new(0),
            lost_first_polls: Mutex::new(Vec::new()),
            rescues_total: AtomicU64::new(0),
            sysmon: crate::executor::sysmon_handle::SysmonHandle::new(),
            blocking: BlockingSlots::new(),
            reactor,
            next_timer_p: AtomicUsize::new(0),
            coarse_now: AtomicU64::new(2),
            allm: Mutex::new(Vec::new()),
            global: GlobalQueue::new(),
            owned: task::owned::OwnedTasks::new(nallp),
            gfree: task::gfree::GlobalFree::new(),
            idle: IdleState::new(
                procs,
                if config.wake_within_cpus {
                    initial_cpus()
                } else {
                    usize::MAX
                },
            ),
            nmidle: AtomicUsize::new(0),
            nthreads: AtomicUsize::new(0),
            next_mid: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            next_task_id: AtomicU64::new(1),
            threads: Mutex::new(Vec::new()),
            exit_lock: Mutex::new(()),
            exit_cvar: Condvar::new(),
            coprimes: (1..=nallp).filter(|&c| gcd(c, nallp) == 1).collect(),
            failed_spawn_reported: AtomicBool::new(false),
            trace: crate::executor::trace::Recorder::new(
                config.flight_recorder || config.debug.trace || config.debug.tracefile.is_some(),
                nallp,
            ),
            config,
        });
        crate::executor::sched_ref::SchedRefs::install_guard(&sched);
        Ok(sched)
    }

    #[inline]
    pub(crate) fn coarse_now(&self) -> u64 {
        self.coarse_now.load(Relaxed)
    }

    pub(crate) fn tick_coarse_now(&self) {
        // Even: an odd stamp marks a sampled runnable period (`executor::latency`).
        self.coarse_now.store(self.reactor.now_ns() & !1, Relaxed);
    }

    /// Number of Ps now (`GMAXPROCS`, changed by `set_procs` and the cgroup limit); reserve Ps
    /// of stuck-P rescue are not counted. A relaxed read: decisions that must agree with a
    /// concurrent resize re-read it under the idle lock.
    #[inline]
    pub(crate) fn procs(&self) -> usize {
        self.procs.load(Relaxed)
    }

    /// The most Ps a resize may ask for; `allp[max_procs..]` is the rescue reserve.
    #[inline]
    pub(crate) fn max_procs(&self) -> usize {
        self.config.max_procs
    }

    pub(crate) fn needspinning(&self) -> bool {
        self.idle.needspinning()
    }

    pub(crate) fn npidle(&self) -> usize {
        self.idle.npidle()
    }

    pub(crate) fn nmspinning(&self) -> usize {
        self.idle.nmspinning()
    }

    /// Ms parked on the idle list.
    pub(crate) fn nmidle(&self) -> usize {
        self.nmidle.load(Relaxed)
    }

    /// Ms alive.
    pub(crate) fn nthreads(&self) -> usize {
        self.nthreads.load(SeqCst)
    }

    /// Spawn location of live task `id` (for sysmon's reports; walks allgs).
    pub(crate) fn task_location(&self, id: u64) -> Option<&'static Location<'static>> {
        let mut found = None;
        self.owned.for_each(|h| {
            if h.id.as_u64() == id {
                found = Some(h.spawned_at);
            }
        });
        found
    }
}

/// The queues the spinning handshake looks at.
impl Queues for Sched {
    fn global_nonempty(&self) -> bool {
        !self.global.is_empty()
    }

    fn rings_nonempty(&self) -> bool {
        self.allp.iter().any(|pp| !pp.runq.is_empty())
    }

    fn has_local_work(&self, p: usize) -> bool {
        !self.allp[p].runq.is_empty()
    }

    fn procs(&self) -> usize {
        Sched::procs(self)
    }
}
