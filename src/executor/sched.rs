//! Scheduler state shared by every M and P (Go's `schedt`), and the moves that hand Ps to Ms:
//! `wakep`, `startm`, `pidleget`/`pidleput`, `globrunqget`, plus spawning and injection. The
//! spinning handshake (idle lists and counts, `wakep`'s claim, the re-check after `release_p`)
//! is [`super::idle::IdleState`]; this module supplies its queues ([`Queues`]) and starts Ms.
//!
//! Invariants (the "no lost wakeup" contract):
//! - A task pushed to the **global queue** is followed by a SeqCst fence and `wakep()`. An M that
//!   gives up its P first publishes the P as idle (`npidle += 1`, SeqCst), then fences and looks
//!   at the global queue again. So either the pusher sees an idle P and starts an M, or the
//!   releasing M sees the task.
//! - `wakep()` starts a spinning M only when none spins (`nmspinning == 0`). A spinning M that
//!   gives up decrements `nmspinning` *then* re-checks the global queue and every P's ring, so
//!   the last spinner to leave never strands work that a pusher left to "the spinners".
//! - A task pushed to a P's own ring is always run by that P's M eventually; `wakep()` there
//!   only adds parallelism. A push into an empty `runnext` wakes nobody (the M runs it next).
//! - At most `max_threads` Ms exist; past that `startm` returns the P to the idle list and the
//!   work waits in queues. A failed thread spawn is survived the same way.

use super::blocking_slots::BlockingSlots;
use super::context;
use super::idle::{Idle, IdleState, Queues, ReleaseStep};
use super::park::Parker;
use super::processor::{add, bump, PStatus, P};
use super::runq::{Put, RUNQ_SIZE};
use super::schedule_impl::Notified;
use super::task::{self, JoinHandle, TaskId};
use super::worker;
use crate::loom::lock;
use crate::loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crate::reactor::clock::Clock;
use crate::reactor::timers::TimerEntry;
use crate::reactor::Reactor;
use crate::runtime::{ProcMetrics, RuntimeMetrics};
use crossbeam_queue::SegQueue;
use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

pub(crate) struct Config {
    pub(crate) procs: usize,
    pub(crate) max_threads: usize,
    pub(crate) time_slice: Duration,
    pub(crate) thread_name: String,
    pub(crate) stuck_rescue: bool,
    /// How long a spare M (no P, no work) waits before its thread exits.
    pub(crate) keep_alive: Duration,
    /// Stack size of every thread started (Ms and sysmon); `None`: Rust's default.
    pub(crate) stack_size: Option<usize>,
    pub(crate) debug: crate::runtime::DebugFlags,
    /// User callbacks on M start/stop/park/unpark.
    pub(crate) hooks: crate::runtime::Hooks,
    /// Seeds every M's steal-order generator (`super::rng`).
    pub(crate) rng_seed: u64,
    /// The tokio runtime beside this one (`Builder::tokio_compat`), entered on every M.
    pub(crate) tokio: crate::runtime::TokioBridge,
}

/// The part of an M that other threads touch: its parker and its next P (Go's `m.nextp`).
pub(crate) struct MShared {
    pub(crate) id: usize,
    pub(crate) parker: Parker,
    nextp: Mutex<Option<(usize, bool)>>,
    /// The P held (`usize::MAX` for none) and whether spinning: published for scheddetail.
    pub(crate) p: AtomicUsize,
    pub(crate) spinning: AtomicBool,
}

impl MShared {
    /// Take the P handed over by `startm`, with whether the M starts out spinning.
    pub(crate) fn take_nextp(&self) -> Option<(usize, bool)> {
        lock(&self.nextp).take()
    }
}

pub(crate) struct Sched {
    pub(crate) allp: Box<[P]>,
    /// The global run queue (Go's `sched.runq`), lock-free.
    pub(crate) global: SegQueue<Notified>,
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
    next_task_id: AtomicU64,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    exit_lock: Mutex<()>,
    exit_cvar: Condvar,
    /// Strides coprime with `allp.len()`, for Go's random steal order.
    pub(crate) coprimes: Box<[usize]>,
    failed_spawn_reported: AtomicBool,
    /// Blocking sections that lost their P and are still running.
    pub(crate) long_syscalls: AtomicUsize,
    /// Reserve Ps (`allp[procs..]`) lent by stuck-P rescue right now, and rescues ever made.
    rescues_active: AtomicUsize,
    pub(crate) rescues_total: AtomicU64,
    /// The monitor thread.
    pub(crate) sysmon: crate::sysmon::SysmonHandle,
    /// The cap on concurrent blocking sections, and the tasks waiting under it.
    pub(crate) blocking: BlockingSlots,
}

/// Outcome of [`Sched::release_p`].
pub(crate) enum Release {
    /// The global queue had work: keep the P and run this.
    Run(Notified),
    /// Keep the P and look again.
    Retry,
    /// Keep the P and start spinning: a `wakep` found no idle P.
    Spin,
    /// The P is on the idle list now.
    Released,
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
        let reactor = Reactor::new()?;
        // Stuck-P rescue lends up to `procs` reserve Ps, kept after the real ones.
        let nallp = if config.stuck_rescue {
            2 * procs
        } else {
            procs
        };
        let allp: Box<[P]> = (0..nallp).map(P::new).collect();
        for p in allp.iter().skip(procs) {
            p.set_status(PStatus::Dead);
        }
        Ok(Arc::new(Sched {
            allp,
            rescues_active: AtomicUsize::new(0),
            long_syscalls: AtomicUsize::new(0),
            rescues_total: AtomicU64::new(0),
            sysmon: crate::sysmon::SysmonHandle::new(),
            blocking: BlockingSlots::new(),
            reactor,
            next_timer_p: AtomicUsize::new(0),
            coarse_now: AtomicU64::new(1),
            allm: Mutex::new(Vec::new()),
            global: SegQueue::new(),
            owned: task::owned::OwnedTasks::new(nallp),
            gfree: task::gfree::GlobalFree::new(),
            idle: IdleState::new(procs),
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
            config,
        }))
    }

    #[inline]
    pub(crate) fn coarse_now(&self) -> u64 {
        self.coarse_now.load(Relaxed)
    }

    pub(crate) fn tick_coarse_now(&self) {
        self.coarse_now.store(self.reactor.now_ns(), Relaxed);
    }

    /// Number of Ps (`GMAXPROCS`); reserve Ps of stuck-P rescue are not counted.
    pub(crate) fn procs(&self) -> usize {
        self.config.procs
    }

    // ---- G creation and readying -------------------------------------------------------

    /// Go's `newproc`: a G spawned on an M goes to its P's runnext; elsewhere to the global queue.
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        at: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let p = context::current_p(self);
        let id = match p {
            Some(p) => self.allp[p].next_task_id(&self.next_task_id),
            None => self.next_task_id.fetch_add(1, Relaxed),
        };
        let (notified, join) = task::new_task(future, self, TaskId::new(id), at, p);
        if let Some(notified) = notified {
            match p {
                Some(p) => self.runqput(p, notified, true),
                None => {
                    self.inject(notified);
                    // The task is in no list until its first poll, so a spawn that raced
                    // shutdown's queue drain must clean up behind itself. `inject` fenced
                    // (SeqCst) after the push, and shutdown fences between setting the flag
                    // and draining: either the drain sees our task or we see the flag. (An M
                    // spawning locally cancels its P's queue on its way out, `M::exit`.)
                    if self.shutdown.load(SeqCst) {
                        self.cancel_global_queue();
                    }
                }
            }
        }
        join
    }

    /// Go's `ready`: make a woken task runnable. On one of our Ms it goes to that M's P —
    /// runnext for a wake (it inherits the time slice) — or, while that M readies a batch
    /// (netpoll, timers), into the batch for `injectglist`; elsewhere to the global queue.
    ///
    /// A yield (`is_yield`: woken during its own poll) goes to the back of the local ring. If
    /// the global queue has work waiting, a fair share of it is moved into the ring first, so it
    /// runs before the yielder comes round again — the effect of Go's `Gosched` (which puts the
    /// yielder on the global queue) without a contended global push per yield. Without this, a
    /// P whose ring holds only yielding tasks would take global work only at its 1-in-61 check,
    /// one task at a time.
    pub(crate) fn schedule(self: &Arc<Self>, task: Notified, is_yield: bool) {
        match context::wake_to(self) {
            context::WakeTo::P(p) => {
                if is_yield && !self.global.is_empty() {
                    if let Some(t) = self.globrunqget(p, 0) {
                        self.runqput(p, t, false);
                    }
                }
                self.runqput(p, task, !is_yield)
            }
            context::WakeTo::Collect => context::push_collected(task),
            context::WakeTo::Remote => self.inject(task),
        }
    }

    /// Go's `injectglist`: make a batch of readied tasks (netpoll events, due timers)
    /// runnable, in order. Without a P they all go to the global queue. With P `p` (the
    /// caller's), as many as there are idle Ps go to the global queue, the rest to `p`'s ring;
    /// either way at most one `wakep` for the whole batch (a spinning M that finds work wakes
    /// the next), never one per task.
    pub(crate) fn injectglist(
        self: &Arc<Self>,
        mut rest: impl ExactSizeIterator<Item = Notified>,
        p: Option<usize>,
    ) {
        if rest.len() == 0 {
            return;
        }
        let nglobal = match p {
            None => rest.len(),
            Some(_) => self.npidle().min(rest.len()),
        };
        for t in rest.by_ref().take(nglobal) {
            self.global.push(t);
        }
        if let Some(p) = p {
            let runq = &self.allp[p].runq;
            for t in rest {
                runq.runqput(t, false, |batch| self.overflow(batch));
            }
        }
        if nglobal > 0 {
            self.wakep_after_push();
            if p.is_none() {
                self.kick_sysmon_if_stranded();
            }
        }
    }

    /// `runqput` on P `p` (the caller's own P), overflowing to the global queue.
    pub(crate) fn runqput(self: &Arc<Self>, p: usize, task: Notified, next: bool) {
        let pp = &self.allp[p];
        let put = pp.runq.runqput(task, next, |batch| self.overflow(batch));
        match put {
            Put::Runnext => {}
            Put::Ring => self.wakep(),
            Put::Overflow => {
                bump(&pp.overflows);
                self.wakep_after_push();
            }
        }
    }

    /// `runqputslow`'s batch: half a ring plus one, to the global queue.
    fn overflow(&self, batch: &mut dyn Iterator<Item = Notified>) {
        for t in batch {
            self.global.push(t);
        }
    }

    /// Push to the global queue from anywhere (Go's `globrunqput` + `wakep`).
    pub(crate) fn inject(self: &Arc<Self>, task: Notified) {
        self.global.push(task);
        self.wakep_after_push();
        self.kick_sysmon_if_stranded();
    }

    /// Work just went to the global queue. If no P is idle and some P's M sits in a blocking
    /// section, the work may wait for sysmon to retake that P — so make sure sysmon looks
    /// now, not after its idle back-off (up to 10ms): a timer that fires while both Ps of a
    /// 2-P runtime are in `spawn_blocking` calls would otherwise run up to 10ms late. A few
    /// relaxed loads, and only when every P is taken.
    fn kick_sysmon_if_stranded(&self) {
        if self.npidle() == 0
            && self.allp[..self.procs()]
                .iter()
                .any(|p| p.status() == PStatus::Syscall)
        {
            self.sysmon.kick();
        }
    }

    /// Go's `globrunqget`: take a fair share of the global queue (at most `max` when non-zero,
    /// never more than half a ring) into P `p`'s ring, returning one to run now.
    pub(crate) fn globrunqget(self: &Arc<Self>, p: usize, max: usize) -> Option<Notified> {
        let len = self.global.len();
        if len == 0 {
            return None;
        }
        let mut n = (len / self.procs() + 1).min(len).min(RUNQ_SIZE / 2);
        if max > 0 {
            n = n.min(max);
        }
        let first = self.global.pop()?;
        let runq = &self.allp[p].runq;
        for _ in 1..n {
            let Some(t) = self.global.pop() else { break };
            runq.runqput(t, false, |batch| self.overflow(batch));
        }
        Some(first)
    }

    // ---- Ps and Ms ------------------------------------------------------------------------

    /// Publish P `p` as idle (its status, then the idle list); a reserve P goes back to the
    /// reserve instead.
    fn pidleput(&self, idle: &mut Idle<Arc<MShared>>, p: usize) {
        if p >= self.procs() {
            // A reserve P that could not be started: back to the reserve.
            self.allp[p].set_status(PStatus::Dead);
            self.rescue_returned();
            return;
        }
        self.allp[p].set_status(PStatus::Idle);
        self.idle.pidleput(idle, p);
    }

    /// Go's `handoffp`: P `p` was taken from an M in a blocking section. Start an M on it if it
    /// has work (or nobody else is looking for work), else put it on the idle list.
    pub(crate) fn handoff_p(self: &Arc<Self>, p: usize) {
        let pp = &self.allp[p];
        if !pp.runq.is_empty() || !self.global.is_empty() || pp.timers.when() != u64::MAX {
            self.startm(p, false);
            return;
        }
        if self.idle.claim_spinning_if_nobody_looks() {
            self.startm(p, true);
            return;
        }
        let mut idle = self.idle.lock();
        self.pidleput(&mut idle, p);
    }

    /// P `p` was just taken from an M in a blocking section (CAS `Syscall -> Idle`, by sysmon
    /// or eagerly): count it and hand the P on.
    pub(crate) fn handoff_from_syscall(self: &Arc<Self>, p: usize) {
        self.allp[p].handoffs.fetch_add(1, Relaxed);
        self.long_syscalls.fetch_add(1, Relaxed);
        self.handoff_p(p);
    }

    /// Lend a reserve P for stuck-P rescue (at most `procs` at once).
    pub(crate) fn activate_reserve(&self) -> Option<usize> {
        for p in self.procs()..self.allp.len() {
            if self.allp[p].status.cas(PStatus::Dead, PStatus::Running) {
                self.allp[p].retire.store(false, SeqCst);
                self.rescues_active.fetch_add(1, SeqCst);
                return Some(p);
            }
        }
        None
    }

    /// A reserve P went back to the reserve.
    pub(crate) fn rescue_returned(&self) {
        self.rescues_active.fetch_sub(1, SeqCst);
    }

    pub(crate) fn rescues_active(&self) -> usize {
        self.rescues_active.load(SeqCst)
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

    /// Take a spare M off the idle list (its keep-alive ran out). False if it is not there: a
    /// `startm` is handing it a P right now.
    pub(crate) fn unmput(&self, m: &Arc<MShared>) -> bool {
        let mut idle = self.idle.lock();
        match idle.midle.iter().position(|x| Arc::ptr_eq(x, m)) {
            Some(i) => {
                idle.midle.swap_remove(i);
                self.nmidle.fetch_sub(1, Relaxed);
                true
            }
            None => false,
        }
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

    /// Ms parked on the idle list.
    pub(crate) fn nmidle(&self) -> usize {
        self.nmidle.load(Relaxed)
    }

    /// Ms alive.
    pub(crate) fn nthreads(&self) -> usize {
        self.nthreads.load(SeqCst)
    }

    /// Give up P `p` (Go's `releasep` + `pidleput` under `sched.lock`), unless the global queue
    /// has work or an M is wanted spinning (Go's `needspinning`).
    pub(crate) fn release_p(self: &Arc<Self>, p: usize, spinning: bool) -> Release {
        match self
            .idle
            .release_p(spinning, &**self, |_, idle| self.pidleput(idle, p))
        {
            ReleaseStep::Global => match self.globrunqget(p, 0) {
                Some(t) => Release::Run(t),
                None => Release::Retry,
            },
            ReleaseStep::Spin => Release::Spin,
            ReleaseStep::Released => Release::Released,
        }
    }

    /// The delicate dance after `release_p` released the P (see [`IdleState::recheck`]): an
    /// idle P taken back for work that appeared meanwhile, if any.
    pub(crate) fn recheck(&self, was_spinning: bool) -> Option<usize> {
        self.idle.recheck(was_spinning, self)
    }

    pub(crate) fn pidleget_locked(&self) -> Option<usize> {
        self.idle.pidleget_locked(self)
    }

    /// Put an M without a P on the idle list (Go's `mput`).
    pub(crate) fn mput(self: &Arc<Self>, m: &Arc<MShared>) {
        let last = {
            let mut idle = self.idle.lock();
            idle.midle.push(m.clone());
            self.nmidle.fetch_add(1, Relaxed);
            self.reactor.clock.active_dec()
        };
        if last {
            self.kick_auto_advance();
        }
    }

    pub(crate) fn become_spinning(&self) {
        self.idle.become_spinning();
    }

    /// A spinning M stops spinning; returns after the SeqCst decrement and fence.
    pub(crate) fn stop_spinning(&self) {
        self.idle.stop_spinning();
    }

    /// Go's spinning cap: don't start spinning when half the busy Ps' worth of Ms already spin.
    pub(crate) fn may_spin(&self) -> bool {
        self.idle.may_spin(self.procs())
    }

    /// Go's `wakep`: if there is an idle P and no spinning M, start one spinning M on it.
    pub(crate) fn wakep(self: &Arc<Self>) {
        if let Some(p) = self.idle.wakep(&**self) {
            self.startm(p, true);
        }
    }

    /// `wakep` after a push to the global queue: fenced, so either this sees the idle P of an
    /// M that is giving up, or that M's re-check sees the push ([`IdleState::recheck`]).
    fn wakep_after_push(self: &Arc<Self>) {
        if let Some(p) = self.idle.wakep_after_push(&**self) {
            self.startm(p, true);
        }
    }

    /// Go's `startm`: run P `p` on an idle M, or on a new one. A `spinning` start was already
    /// counted in `nmspinning` by the caller.
    pub(crate) fn startm(self: &Arc<Self>, p: usize, spinning: bool) {
        let mut idle = self.idle.lock();
        if let Some(m) = idle.midle.pop() {
            self.nmidle.fetch_sub(1, Relaxed);
            // Counted active by its waker, before it can take anything from a queue.
            self.reactor.clock.active_inc();
            drop(idle);
            *lock(&m.nextp) = Some((p, spinning));
            m.parker.unpark();
            return;
        }
        // No idle M. The M blocked in the poll is one: break its poll and it takes the P (a
        // thread wakeup instead of a thread creation). Past `max_threads` it is the only hope.
        if self.reactor.is_blocked()
            || self.nthreads.load(SeqCst) >= self.config.max_threads
            || self.shutdown.load(SeqCst)
        {
            self.pidleput(&mut idle, p);
            drop(idle);
            if spinning {
                self.idle.unclaim_spinning();
            }
            self.reactor.netpoll_break();
            return;
        }
        self.nthreads.fetch_add(1, SeqCst);
        drop(idle);
        self.newm(Some(p), spinning);
    }

    /// The cap on concurrent blocking sections (see [`BlockingSlots`]).
    pub(crate) fn blocking_cap(&self) -> usize {
        self.blocking.cap(self.procs(), self.config.max_threads)
    }

    /// A blocking section is about to start: make sure that, besides the Ms inside blocking
    /// sections, there is an M for every P (`procs + in_flight` Ms), starting spare Ms (no
    /// P, parked on the idle list) as needed. Ms are started here, before the call, rather
    /// than when sysmon hands the P off, so that the OS's thread limit is met while the
    /// caller can still wait instead of taking the last M. False if the OS refused a thread.
    pub(crate) fn ensure_ms_for_blocking(self: &Arc<Self>) -> bool {
        let need = (self.procs() + self.blocking.in_flight()).min(self.config.max_threads);
        while self.nthreads.load(SeqCst) < need && !self.shutdown.load(SeqCst) {
            let counted = self
                .nthreads
                .fetch_update(SeqCst, SeqCst, |n| {
                    (n < self.config.max_threads).then_some(n + 1)
                })
                .is_ok();
            if !counted || !self.newm(None, false) {
                return counted;
            }
        }
        true
    }

    /// Go's `newm`: a new OS thread that starts out holding P `p`, or (`None`) a spare M
    /// that parks on the idle list. The caller counted it in `nthreads`. False if the OS
    /// refused the thread.
    fn newm(self: &Arc<Self>, p: Option<usize>, spinning: bool) -> bool {
        let id = self.next_mid.fetch_add(1, Relaxed);
        let shared = Arc::new(MShared {
            id,
            parker: Parker::new(),
            nextp: Mutex::new(None),
            p: AtomicUsize::new(p.unwrap_or(context::NO_P)),
            spinning: AtomicBool::new(spinning),
        });
        lock(&self.allm).push(shared.clone());
        // A new M is active until it first parks (`mput`).
        self.reactor.clock.active_inc();
        let sched = self.clone();
        let spawned = self
            .thread_builder(format!("{}-m{}", self.config.thread_name, id))
            .spawn(move || worker::mstart(sched, shared, p, spinning));
        match spawned {
            Ok(handle) => {
                self.blocking.os_allowed(self.nthreads.load(Relaxed));
                let mut threads = lock(&self.threads);
                threads.retain(|h| !h.is_finished()); // reaped spare Ms
                threads.push(handle);
                true
            }
            Err(e) => {
                if !self.failed_spawn_reported.swap(true, Relaxed) {
                    super::wake::report_line(format!(
                        "gmp: the OS refused to start an M thread ({e}); work waits for the \
                         existing Ms"
                    ));
                }
                if let Some(p) = p {
                    let mut idle = self.idle.lock();
                    self.pidleput(&mut idle, p);
                    drop(idle);
                }
                if spinning {
                    self.idle.unclaim_spinning();
                }
                lock(&self.allm).retain(|x| x.id != id);
                if self.reactor.clock.active_dec() {
                    self.kick_auto_advance();
                }
                self.m_exited();
                // No more Ms than are alive now can run: blocking sections past that many
                // (less the Ps' share) wait from now on.
                self.blocking.os_refused(self.nthreads.load(SeqCst));
                // With no M at all nobody would ever look at the queues again: sysmon retries
                // (see `Sysmon::no_m_for_work`), so leave its deep sleep.
                self.sysmon.wake();
                false
            }
        }
    }

    /// A thread builder with the configured stack size.
    pub(crate) fn thread_builder(&self, name: String) -> std::thread::Builder {
        let b = std::thread::Builder::new().name(name);
        match self.config.stack_size {
            Some(n) => b.stack_size(n),
            None => b,
        }
    }

    /// Work is queued but no M exists to run it (every thread creation so far failed).
    pub(crate) fn work_without_m(&self) -> bool {
        self.nthreads.load(SeqCst) == 0 && !self.global.is_empty()
    }

    /// An M's thread is ending.
    pub(crate) fn m_gone(&self, m: &Arc<MShared>) {
        lock(&self.allm).retain(|x| !Arc::ptr_eq(x, m));
        self.m_exited();
    }

    /// An M is gone (or was never started).
    pub(crate) fn m_exited(&self) {
        self.nthreads.fetch_sub(1, SeqCst);
        let _g = lock(&self.exit_lock);
        self.exit_cvar.notify_all();
    }

    // ---- timers ----------------------------------------------------------------------------

    /// Add a timer at `when` (ns since the reactor's epoch): on the caller's P when it is one of
    /// our Ms, else on a P chosen round-robin. Makes sure someone will look at it in time: the
    /// blocked poll is broken if it would sleep past it (Go's `wakeNetPoller`), and if nobody is
    /// blocked in the poll, an M is woken.
    pub(crate) fn add_timer(self: &Arc<Self>, when: u64) -> Arc<TimerEntry> {
        // Reserve Ps come and go: their tasks' timers live on the real Ps.
        let here = context::current_p(self).filter(|&p| p < self.procs());
        let p = here.unwrap_or_else(|| self.next_timer_p.fetch_add(1, Relaxed) % self.procs());
        let entry = self.allp[p].timers.add(p, when);
        if !self.reactor.wake_for_timer(when) && here.is_none() {
            self.wakep();
        }
        entry
    }

    pub(crate) fn cancel_timer(&self, entry: &TimerEntry) {
        self.allp[entry.p()].timers.cancel(entry);
    }

    /// Earliest timer of all Ps (Go's `timeSleepUntil`), `u64::MAX` for none.
    pub(crate) fn next_timer_when(&self) -> u64 {
        self.allp
            .iter()
            .map(|p| p.timers.when())
            .min()
            .unwrap_or(u64::MAX)
    }

    /// The blocked poll's deadline (ns since the epoch on the timer clock, `u64::MAX` for
    /// none): the earliest timer; with time paused, the result of [`Sched::auto_advance`].
    pub(crate) fn poll_deadline(&self) -> u64 {
        if self.reactor.clock.is_paused() {
            return self.auto_advance();
        }
        self.next_timer_when()
    }

    /// Virtual time's auto-advance, run by the M about to block in the poll (holding the poll,
    /// so nobody dispatches readiness meanwhile, and already counted idle): if nothing can run
    /// — no participant active, nothing queued, no blocking section, every P idle, no task
    /// waiting on a reactor source — and that held for the whole check (`gen` unchanged), move
    /// the paused clock to the earliest timer and return it (the poll then returns at once and
    /// its M fires the timers). Otherwise `u64::MAX`: sleep until woken (new work, I/O, or
    /// the last participant going idle: [`Sched::kick_auto_advance`]).
    fn auto_advance(&self) -> u64 {
        let clock = &self.reactor.clock;
        let seen = clock.participants();
        let quiet = Clock::active(seen) == 0
            && self.global.is_empty()
            && !self.rings_nonempty()
            && self.blocking.in_flight() == 0
            && self.npidle() == self.procs()
            && self.rescues_active() == 0
            && clock.io_waiters() == 0;
        if !quiet || clock.participants() != seen {
            return u64::MAX;
        }
        let next = self.next_timer_when();
        if next == u64::MAX || !clock.advance_to(next) {
            return u64::MAX;
        }
        next
    }

    /// The last participant went idle with time paused: make sure the poller looks (it may
    /// auto-advance) — break its poll, or, if nobody is in it, start an M that will be.
    pub(crate) fn kick_auto_advance(self: &Arc<Self>) {
        if self.reactor.is_blocked() {
            self.reactor.netpoll_break();
        } else {
            self.wakep();
        }
    }

    /// Fire the due timers of every P (Go's `checkTimersNoP`, for an M without a P).
    pub(crate) fn run_all_timers(&self) {
        let now = self.reactor.timer_now();
        for p in self.allp.iter() {
            if p.timers.when() <= now {
                p.timers.run(now);
            }
        }
    }

    // ---- shutdown -------------------------------------------------------------------------

    /// Stop every M, then drop every task exactly once: cancel each live task (its future is
    /// dropped), then release the queue entries. Ms still inside a poll after `timeout` are
    /// left to finish it; their task is cancelled when the poll returns.
    pub(crate) fn shutdown(self: &Arc<Self>, timeout: Option<Duration>) {
        if self.shutdown.swap(true, SeqCst) {
            return;
        }
        for m in self.idle.lock().midle.iter() {
            m.parker.unpark();
        }
        self.reactor.netpoll_break();
        self.sysmon.stop();
        // An M dropping its own runtime cannot wait for itself — whether it holds a P (a
        // task) or not (a blocking section, whose P was given up or retaken): it is counted
        // in `nthreads` either way, and exits when its poll returns and it sees the flag.
        let me = usize::from(context::is_m_of(self));
        // A timeout too long to add to an `Instant` waits for ever, as `None` does.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut guard = lock(&self.exit_lock);
        while self.nthreads.load(SeqCst) > me {
            match deadline {
                None => {
                    self.reactor.netpoll_break_force();
                    guard = self
                        .exit_cvar
                        .wait_timeout(guard, Duration::from_millis(100))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    self.reactor.netpoll_break_force();
                    guard = self
                        .exit_cvar
                        .wait_timeout(guard, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        drop(guard);
        if self.nthreads.load(SeqCst) == 0 {
            for h in std::mem::take(&mut *lock(&self.threads)) {
                let _ = h.join();
            }
        }
        for t in self.owned.close_and_drain() {
            // SAFETY: `close_and_drain` handed us each task's owned-list reference.
            unsafe { task::shutdown(t) };
        }
        // Tasks never polled are in no list, only in queues: cancel them there. (Pairs with
        // the fence in a remote spawn: a spawn we miss here sees the flag and drains itself.)
        fence(SeqCst);
        self.cancel_global_queue();
        for p in self.allp.iter() {
            p.runq.drain().into_iter().for_each(task::shutdown_queued);
            p.timers.clear();
        }
        // I/O futures still alive (held by other executors) see the runtime is gone.
        self.reactor.shutdown();
    }

    /// Cancel every task on the global queue (shutdown's sweep: a task never polled is in no
    /// list, so a queue is the only place to find it).
    pub(crate) fn cancel_global_queue(&self) {
        while let Some(t) = self.global.pop() {
            task::shutdown_queued(t);
        }
    }

    // ---- observability --------------------------------------------------------------------

    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        let all: Vec<ProcMetrics> = self
            .allp
            .iter()
            .map(|p| ProcMetrics {
                id: p.id,
                status: format!("{:?}", p.status()),
                schedtick: p.schedtick.load(Relaxed),
                polls: p.polls.load(Relaxed),
                runq_len: p.runq.len(),
                has_runnext: p.runq.has_runnext(),
                steals: p.steals.load(Relaxed),
                stolen_tasks: p.stolen_tasks.load(Relaxed),
                runq_overflows: p.overflows.load(Relaxed),
                fairness_picks: p.fairness_picks.load(Relaxed),
                tasks_spawned: self.owned.spawned(Some(p.id)),
            })
            .collect();
        let (tasks_completed, tasks_cancelled) = self.owned.finished();
        RuntimeMetrics {
            tasks_completed,
            tasks_cancelled,
            procs: self.procs(),
            threads: self.nthreads.load(Relaxed),
            idle_procs: self.idle.npidle(),
            idle_threads: self.nmidle.load(Relaxed),
            spinning_threads: self.idle.nmspinning(),
            live_tasks: self.owned.len(),
            tasks_spawned: self.owned.spawned_total(),
            global_queue_len: self.global.len(),
            polls: all.iter().map(|p| p.polls).sum(),
            steals: all.iter().map(|p| p.steals).sum(),
            stolen_tasks: all.iter().map(|p| p.stolen_tasks).sum(),
            runq_overflows: all.iter().map(|p| p.runq_overflows).sum(),
            fairness_picks: all.iter().map(|p| p.fairness_picks).sum(),
            blocking_sections: self.allp.iter().map(|p| p.syscalltick.load(Relaxed)).sum(),
            handoffs: self.allp.iter().map(|p| p.handoffs.load(Relaxed)).sum(),
            preemptions: self.allp.iter().map(|p| p.preemptions.load(Relaxed)).sum(),
            rescues: self.rescues_total.load(Relaxed),
            blocking_in_flight: self.blocking.in_flight(),
            blocking_waiting: self.blocking.waiting(),
            blocking_cap: self.blocking_cap(),
            sysmon_restarts: self.sysmon.restarts.load(Relaxed),
            timers: self.allp.iter().map(|p| p.timers.len()).sum(),
            io_sources: self.reactor.sources_len(),
            netpoll_polls: self.reactor.polls_total.load(Relaxed),
            netpoll_events: self.reactor.events_total.load(Relaxed),
            // Reserve Ps (stuck-P rescue) count in the sums above, not in this list.
            per_p: all.into_iter().take(self.procs()).collect(),
        }
    }

    pub(crate) fn record_steal(&self, p: usize, n: u32) {
        let pp = &self.allp[p];
        bump(&pp.steals);
        add(&pp.stolen_tasks, n as u64);
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
}
