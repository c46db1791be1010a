//! M: an OS thread that runs Gs while it holds a P (Go's `m`, `mstart`, `schedule`,
//! `execute`, `findRunnable`, `stealWork`, `stopm`). [`MShared`] is the part of an M that
//! other threads touch; the loop's own state is private to its thread.
//!
//! The loop: `schedule()` asks `find_runnable()` for a G and polls it (`execute`), forever.
//! `find_runnable()` looks, in Go's order:
//! 1. every 61st schedtick, the global queue first (so it cannot starve behind local work);
//!    before that, a P's due timers (`checkTimers`), and a non-blocking network poll if
//!    nobody has polled for a millisecond (so busy Ms cannot starve I/O);
//! 2. the local runnext and ring (`runqget`);
//! 3. the global queue (`globrunqget`: a fair share, not just one);
//! 4. ready I/O (`netpoll(0)`, unless an M is blocked in the poll), after taking half of the
//!    ring of any P that has not started a task for 100 µs (`steal_backlog`: not in Go, see
//!    there);
//! 5. other Ps, by stealing half a ring (`runqsteal`; 4 rounds in random order, the last may
//!    take runnext) — only while fewer than half the busy Ps' worth of Ms already spin;
//! 6. it gives up its P, then looks again at the global queue (and, if it was the spinner, at
//!    every ring) so no wakeup is lost, and finally parks (`stopm`) until `startm` hands it a P.
//!
//! An M that found work while spinning stops spinning and calls `wakep()`, so wakeups chain
//! from one M to the next instead of stampeding.

mod steal;

use super::context::{self, NO_P};
use super::latency;
use super::p::{PLocal, PStatus, P};
use super::park::Parker;
use super::rng::FastRand;
use super::sched::{Release, Sched};
use super::sched_ref::SchedRef;
use super::schedule_impl::Notified;
use super::task;
use super::trace::{self, Kind};
use crate::loom::lock;
use crate::loom::sync::atomic::Ordering::{Relaxed, SeqCst};
use crate::loom::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize};
use crate::loom::sync::Mutex;
use crate::loom::time::Instant;
use std::cell::RefMut;
use std::sync::Arc;

/// Every this many schedticks an M looks at the global queue first (Go: 61, a prime, so the
/// check does not fall into lockstep with other periodic work).
const GLOBAL_CHECK_PERIOD: u64 = 61;

/// A busy M polls the network (on any call of `find_runnable`) if nobody has for this long.
const BUSY_POLL_INTERVAL_NS: u64 = 1_000_000;

/// The part of an M that other threads touch: its parker and its next P (Go's `m.nextp`).
pub(crate) struct MShared {
    pub(crate) id: usize,
    pub(crate) parker: Parker,
    pub(crate) nextp: Mutex<Option<(usize, bool)>>,
    /// The P held (`usize::MAX` for none) and whether spinning: published for scheddetail.
    pub(crate) p: AtomicUsize,
    pub(crate) spinning: AtomicBool,
    /// The M's kernel thread id (0 until its thread starts, or where the platform has none):
    /// sysmon reads the thread's scheduling times to tell a poll blocked in the kernel from
    /// one computing (`sysmon/rescue.rs`).
    pub(crate) tid: AtomicI32,
}

impl MShared {
    /// Take the P handed over by `startm`, with whether the M starts out spinning.
    pub(crate) fn take_nextp(&self) -> Option<(usize, bool)> {
        lock(&self.nextp).take()
    }
}

/// How [`M::poll_or_stopm`] ended.
enum OutOfWork<'s> {
    /// Readied by the poll, to run on the P taken after it.
    Run(Runnable<'s>),
    /// Look again: a P was taken (after the poll, or handed over by `startm`), or the
    /// poller stays the poller.
    Again,
    /// The runtime is shutting down.
    Shutdown,
}

/// A G `find_runnable` found, for `execute`.
struct Runnable<'s> {
    /// The P it runs on (the M's), already looked up.
    pp: &'s P,
    task: Notified,
    /// Taken from runnext: it inherits the running time slice.
    inherit: bool,
    /// `M::account` already ran for it (under the borrow of the owned half that found it).
    accounted: bool,
}

struct M<'cx> {
    shared: Arc<MShared>,
    /// This thread's context, where the owned half of the P held lives.
    cx: &'cx context::Context,
    spinning: bool,
    rng: FastRand,
    /// Each P's schedtick as this M last saw it, and since when (for `steal_backlog`).
    seen: Vec<(u64, Instant)>,
}

/// Thread entry of an M started by `newm`, already owning P `p`, or a spare M (`None`) that
/// parks on the idle list until `startm` hands it a P.
pub(crate) fn mstart(sched: Arc<Sched>, shared: Arc<MShared>, p: Option<usize>, spinning: bool) {
    // The M blocked in the poll sleeps on a timerfd: keep its deadlines tight.
    crate::platform::set_timer_slack(10_000);
    shared.tid.store(crate::platform::gettid(), Relaxed);
    context::enter_worker(sched.clone());
    // tokio-compat: this M is in the tokio context for its whole life (left below, LIFO).
    let tokio = sched.config.tokio.enter();
    sched.config.hooks.thread_start();
    context::with_context(|cx| {
        let mut m = M {
            rng: FastRand::for_m(sched.config.rng_seed, shared.id),
            shared,
            cx,
            spinning,
            seen: vec![(u64::MAX, Instant::now()); sched.allp.len()],
        };
        let has_p = match p {
            Some(p) => {
                m.acquirep(&sched, p);
                true
            }
            None => m.stopm(&sched),
        };
        if has_p {
            m.schedule(&sched);
        }
        sched.config.hooks.thread_stop();
        tokio.leave();
        m.exit(&sched);
    })
}

impl M<'_> {
    /// Go's `acquirep`: take P `p`'s owned half out of its slot (the P was handed to this M:
    /// by `startm`, `pidleget` or a reserve lent by rescue).
    fn acquirep(&mut self, sched: &Sched, p: usize) {
        debug_assert_eq!(self.pid(), NO_P, "acquirep: the M already holds a P");
        let pp = &sched.allp[p];
        // A reserve P comes `Running` (lent by rescue's CAS from `Dead`); any other is idle.
        invariant!(
            pp.status() == PStatus::Idle || p >= sched.max_procs(),
            "acquirep: P{p} is {:?}, not idle",
            pp.status()
        );
        self.cx.hold_p(pp.take_local());
        pp.set_status(PStatus::Running);
        pp.m.store(self.shared.id, Relaxed);
        self.shared.p.store(p, Relaxed);
        sched.tick_coarse_now();
        sched.sysmon.wake();
    }

    /// Go's `releasep`: the owned half of the P held, out of this M's hands. The caller puts
    /// it back in the P's slot before the P can be taken by anyone.
    fn releasep(&mut self) -> Box<PLocal> {
        // (the P's `m` is left as a hint of its last owner, as Go's `p.m` is cleared lazily)
        self.shared.p.store(NO_P, Relaxed);
        self.cx.drop_p().expect("releasep: the M holds no P")
    }

    /// The index of the P held, or `NO_P`.
    fn pid(&self) -> usize {
        self.cx.pid()
    }

    /// The owned half of the P held. Never kept across a poll or user code.
    fn local(&self) -> RefMut<'_, PLocal> {
        self.cx.local()
    }

    fn next_rand(&mut self) -> usize {
        self.rng.next()
    }

    /// Go's `schedule`: find a G, run it, repeat until the runtime shuts down.
    fn schedule(&mut self, sched: &Arc<Sched>) {
        while let Some(found) = self.find_runnable(sched) {
            if self.spinning {
                self.resetspinning(sched);
            }
            self.execute(sched, found);
        }
    }

    /// Go's `execute`: poll one G. A G taken from runnext inherits the running time slice (no
    /// schedtick bump, preempt flag kept), so a ping-pong chain shares one slice.
    ///
    /// If the P's owned half is no longer in this thread's context after the poll, a
    /// blocking section in it left the P in its slot and sysmon handed it to another M.
    fn execute(&mut self, sched: &Arc<Sched>, found: Runnable<'_>) {
        let Runnable {
            pp,
            task,
            inherit,
            accounted,
        } = found;
        let p = pp.id;
        if !accounted {
            Self::account(sched, pp, &mut self.local(), &task, inherit);
        }
        let traced = trace::poll_start(sched, p, &task);
        task.run(p, SchedRef::borrowed(sched));
        if traced != 0 {
            trace::poll_end(sched, p, self.shared.id, traced, self.pid() == p);
        }
        if self.pid() == p {
            pp.clear_curg();
        } else {
            // sysmon handed our P to another M during a blocking section.
            self.shared.p.store(NO_P, Relaxed);
            sched.lost_p_poll_returned();
        }
    }

    /// `execute`'s bookkeeping before the poll, with the P's owned half in hand: count the
    /// poll, start a new time slice unless the G inherits the running one, record the G as
    /// the P's current one (for dumps and sysmon), and time its wait if it is sampled.
    #[inline(always)]
    fn account(sched: &Sched, pp: &P, local: &mut PLocal, task: &Notified, inherit: bool) {
        pp.polls.bump(local);
        if !inherit {
            pp.schedtick.bump(local);
            pp.clear_preempt();
        }
        pp.set_curg(local, task.id().as_u64());
        latency::on_execute(sched, pp, local, task);
    }

    /// The P held carries `retire`: a reserve P lent by stuck-P rescue is no longer needed,
    /// or a resize shrank the runtime below this P (`sched/resize.rs`). Hand its queue to the
    /// global queue and give it back (a real P only if it is still above `procs` under the
    /// idle lock: a grow may have revived it); the loop then finds another P or parks.
    ///
    /// Cold and out of line: `find_runnable` reaches it only after a resize or a rescue; the
    /// hot loop pays only the `retire` load it always made (1-P yield probe: +1 instruction
    /// per poll, BENCHMARKS.md).
    #[cold]
    #[inline(never)]
    fn retire_p(&mut self, sched: &Arc<Sched>) {
        let local = self.releasep();
        let p = local.id;
        let pp = &sched.allp[p];
        if p < sched.max_procs() {
            if let Some(local) = sched.retire_running_p(local) {
                self.shared.p.store(p, Relaxed);
                self.cx.hold_p(local);
                return;
            }
        } else {
            for t in pp.runq.drain() {
                sched.inject(t);
            }
            pp.retire.store(false, SeqCst);
            pp.put_local(sched, local);
            sched.return_reserve(p);
        }
        if self.spinning {
            // A spinner leaving without its P: the loop's top next takes an idle P if there
            // is one, else every P is held by an M that will look at the queues (WAKEUPS.md
            // step 9). (`stopm` would otherwise overwrite the flag and leak the count.)
            self.spinning = false;
            self.shared.spinning.store(false, Relaxed);
            sched.stop_spinning();
        }
        if p < sched.max_procs() {
            sched.drain_dead(p);
        }
    }

    fn become_spinning(&mut self, sched: &Sched) {
        self.spinning = true;
        self.shared.spinning.store(true, Relaxed);
        sched.become_spinning();
    }

    /// Found work while spinning: stop, and let another M spin in our place (chained wakeup).
    fn resetspinning(&mut self, sched: &Arc<Sched>) {
        self.spinning = false;
        self.shared.spinning.store(false, Relaxed);
        sched.stop_spinning();
        sched.wakep();
    }

    /// A G found anywhere but the local ring, to run on the P held now: a new time slice,
    /// bookkeeping still to do.
    #[inline]
    fn fresh<'s>(&self, sched: &'s Sched, task: Notified) -> Runnable<'s> {
        Runnable {
            pp: &sched.allp[self.pid()],
            task,
            inherit: false,
            accounted: false,
        }
    }

    /// Go's `findRunnable`. `None` means the runtime is shutting down.
    fn find_runnable<'s>(&mut self, sched: &'s Arc<Sched>) -> Option<Runnable<'s>> {
        loop {
            if sched.shutdown.load(Relaxed) {
                return None;
            }
            // Without a P (a blocking section lost it, or a reserve P went back): take an
            // idle one (Go's `exitsyscall0`), else end as an M out of work does.
            if self.pid() == NO_P {
                match sched.pidleget_locked() {
                    Some(p) => self.acquirep(sched, p),
                    None => match self.poll_or_stopm(sched, false) {
                        OutOfWork::Run(r) => return Some(r),
                        OutOfWork::Again => continue,
                        OutOfWork::Shutdown => return None,
                    },
                }
            }
            let p = self.pid();
            let pp = &sched.allp[p];
            if pp.retire.load(Relaxed) {
                self.retire_p(sched);
                continue;
            }
            // The slice is used up: break a runnext chain (Go's inheritTime ends at a
            // preemption) and let the global queue go first.
            if pp.preempt_requested() {
                pp.clear_preempt();
                pp.runq.kick_runnext(&mut self.local().runq);
                let mut local = self.local();
                if let Some(t) = sched.globrunqget(&mut local, 1) {
                    pp.fairness_picks.bump(&mut local);
                    return Some(self.fresh(sched, t));
                }
            }
            // Go's checkTimers: fire this P's due timers; run the first task they ready.
            if pp.timers.when() != u64::MAX {
                let now = sched.reactor.timer_now();
                if pp.timers.when() <= now {
                    if let Some(t) = self.ready_list(sched, || {
                        pp.timers.run(now);
                    }) {
                        return Some(self.fresh(sched, t));
                    }
                }
            }
            // Busy Ms never run out of local work, so they also make sure the poll is not
            // starved: if nobody polled for a while, poll now (sysmon covers Ms stuck in a
            // poll). The coarse clock makes the check a couple of relaxed loads. What it
            // readies queues behind our local work.
            if sched.reactor.has_sources()
                && sched.coarse_now() > sched.reactor.last_poll() + BUSY_POLL_INTERVAL_NS
                && !sched.reactor.is_blocked()
            {
                let list = context::collect_ready(sched, || {
                    sched.reactor.poll_nonblocking();
                });
                trace::netpoll(sched, Some(p), self.shared.id, list.len());
                sched.injectglist(list.into_iter(), Some(&mut self.local()));
            }
            if pp.polls.get() % GLOBAL_CHECK_PERIOD == 0 && !sched.global.is_empty() {
                let mut local = self.local();
                if let Some(t) = sched.globrunqget(&mut local, 1) {
                    pp.fairness_picks.bump(&mut local);
                    return Some(self.fresh(sched, t));
                }
            }
            // The common case: the next G is local. Its bookkeeping is done here, under the
            // one borrow of the owned half that found it.
            {
                let mut local = self.local();
                if let Some((task, inherit)) = pp.runq.runqget(&mut local.runq) {
                    Self::account(sched, pp, &mut local, &task, inherit);
                    return Some(Runnable {
                        pp,
                        task,
                        inherit,
                        accounted: true,
                    });
                }
            }
            if !sched.global.is_empty() {
                if let Some(t) = sched.globrunqget(&mut self.local(), 0) {
                    return Some(self.fresh(sched, t));
                }
            }
            // Go's netpoll(0): ready I/O, without blocking, unless an M is blocked in the poll
            // (it sees the events itself). Run the first task it readies. But a backlog on
            // another P comes first (see `steal_backlog`).
            if sched.reactor.has_sources() && !sched.reactor.is_blocked() {
                if let Some(t) = self.steal_backlog(sched) {
                    return Some(self.fresh(sched, t));
                }
                let m = self.shared.id;
                if let Some(t) = self.ready_list(sched, || {
                    let n = sched.reactor.poll_nonblocking();
                    trace::netpoll(sched, Some(p), m, n);
                }) {
                    return Some(self.fresh(sched, t));
                }
            }
            if self.spinning || sched.may_spin() {
                if !self.spinning {
                    self.become_spinning(sched);
                }
                if let Some(t) = self.steal_work(sched) {
                    return Some(self.fresh(sched, t));
                }
            }

            // Nothing anywhere: give up the P (its owned half goes back to its slot before the
            // P is published idle), unless the global queue has work or a spinner is wanted.
            let local = self.releasep();
            match sched.give_up_p(local, self.spinning) {
                Release::Global(local) => {
                    self.shared.p.store(p, Relaxed);
                    self.cx.hold_p(local);
                    if let Some(t) = sched.globrunqget(&mut self.local(), 0) {
                        return Some(self.fresh(sched, t));
                    }
                    continue;
                }
                Release::Spin(local) => {
                    self.shared.p.store(p, Relaxed);
                    self.cx.hold_p(local);
                    self.become_spinning(sched);
                    continue;
                }
                Release::Released => {}
            }

            // The delicate dance: stop spinning, then look again after publishing the P as
            // idle (`IdleState::recheck`).
            let was_spinning = self.spinning;
            if self.spinning {
                self.spinning = false;
                self.shared.spinning.store(false, Relaxed);
            }
            if let Some(p) = sched.recheck(was_spinning) {
                self.acquirep(sched, p);
                if was_spinning {
                    self.become_spinning(sched);
                }
                continue;
            }
            match self.poll_or_stopm(sched, was_spinning) {
                OutOfWork::Run(r) => return Some(r),
                OutOfWork::Again => {}
                OutOfWork::Shutdown => return None,
            }
        }
    }

    /// The end of the search for an M that holds no P and found nothing: one such M blocks
    /// in the poll until I/O, the earliest timer, or a break (Go's `netpoll(delay)` after
    /// `releasep`), then takes a P for what it readied; any other parks (`stopm`).
    ///
    /// Every M that ends up without a P comes here: one that gave up its P in
    /// `find_runnable`, one whose blocking section lost its P, one that gave back a reserve
    /// P. A poller that finds no P after its poll parks, as Go's does (`stopm`), unless a
    /// poll is known stuck (a reserve P lent): then it polls again (the loop's top tries for
    /// a P first), since Go's Ps are never held by a call the runtime cannot see and gmp's
    /// can be. Before, the last two kinds of M parked at once, and so did every poller
    /// without a P: once every P was held by a poll that does not return (unmarked blocking
    /// calls), nobody could be left in the poll, and due timers waited for sysmon to fire
    /// them 1 ms late.
    fn poll_or_stopm<'s>(&mut self, sched: &'s Arc<Sched>, was_spinning: bool) -> OutOfWork<'s> {
        let mut polled = false;
        // While a poll is known stuck (a reserve P lent), wait out a non-blocking poll
        // rather than park: the busy Ms that would poll may not come back.
        let patient = sched.rescues_active() > 0;
        let parked = sched.config.hooks.park();
        let list = context::collect_ready(sched, || {
            if sched
                .reactor
                .poll_blocking(|| sched.poll_deadline(), patient)
                .is_some()
            {
                polled = true;
                sched.run_all_timers();
            }
        });
        drop(parked);
        trace::netpoll(sched, None, self.shared.id, list.len());
        if polled {
            if sched.shutdown.load(Relaxed) {
                sched.drop_poll_claim();
                return OutOfWork::Shutdown;
            }
            // Go: take an idle P, run the first readied task on it, `injectglist` the
            // rest — one readied task costs no wakeup at all. If every P is busy, the
            // tasks go to the global queue for the Ms that hold one.
            // A `startm` that broke the poll for a spinning M (a `wakep`) makes this M that
            // spinner; busy with readied I/O instead, it passes the job on (as a spinner
            // that found work does: `resetspinning`).
            if let (Some(p), claimed_spinning) = sched.pidleget_after_poll() {
                self.acquirep(sched, p);
                if let Some(t) = self.run_first(sched, list) {
                    if claimed_spinning {
                        sched.wakep();
                    }
                    return OutOfWork::Run(self.fresh(sched, t));
                }
                if was_spinning || claimed_spinning {
                    self.become_spinning(sched);
                }
                return OutOfWork::Again;
            }
            // No P: what it readied goes to the global queue. If Ms hold every P normally,
            // they take it and poll without blocking (Go parks here, and so does gmp). But
            // while a poll is known stuck (a reserve P lent), the held Ps may not come back
            // to poll: stay the poller. For readied work `injectglist` has kicked sysmon,
            // whose rescue's `startm` breaks this poll to hand this M a reserve P.
            sched.injectglist(list.into_iter(), None);
            if sched.rescues_active() > 0 {
                return OutOfWork::Again;
            }
        }
        if self.stopm(sched) {
            OutOfWork::Again
        } else {
            OutOfWork::Shutdown
        }
    }

    /// Run `f` (a non-blocking poll, a timer run) on our P, collecting the tasks it readies
    /// (Go's netpoll `gList`): the first is returned to run now, the rest go out through
    /// `injectglist`.
    fn ready_list(&mut self, sched: &Arc<Sched>, f: impl FnOnce()) -> Option<Notified> {
        let list = context::collect_ready(sched, f);
        self.run_first(sched, list)
    }

    /// Of a list of readied tasks, return the first to run now on our P and hand out the rest
    /// with `injectglist` (Go's `findRunnable` after netpoll).
    fn run_first(&mut self, sched: &Arc<Sched>, list: Vec<Notified>) -> Option<Notified> {
        let mut list = list.into_iter();
        let first = list.next()?;
        sched.injectglist(list, Some(&mut self.local()));
        Some(first)
    }

    /// Go's `stopm`: park on the idle M list until `startm` hands over a P. False on shutdown.
    ///
    /// A spare M — beyond `procs` + 1, e.g. left over from a burst of blocking calls — that
    /// stays parked for the keep-alive period leaves the idle list and its thread exits.
    fn stopm(&mut self, sched: &Arc<Sched>) -> bool {
        sched.mput(&self.shared);
        trace::shared(sched, Kind::Park, None, Some(self.shared.id), 0, 0);
        let _parked = sched.config.hooks.park();
        loop {
            if let Some((p, spinning)) = self.shared.take_nextp() {
                self.acquirep(sched, p);
                trace::on_p(sched, Kind::Unpark, p, 0, 0);
                self.spinning = spinning;
                self.shared.spinning.store(spinning, Relaxed);
                return true;
            }
            if sched.shutdown.load(SeqCst) {
                return false;
            }
            // Only a spare M waits with a timeout. A kept one parks until woken: with a tiny
            // keep-alive, a timed park would return at once and the idle M would spin.
            let spare = sched.nthreads() > sched.procs() + 1;
            let woken = if spare {
                self.shared.parker.park_timeout(sched.config.keep_alive)
            } else {
                self.shared.parker.park();
                true
            };
            // Still on the idle list means no `startm` popped us, so no P is on its way: leave.
            // (Off the list, a `startm` is handing us a P: the loop's top takes it. This must
            // not take `nextp` here: a P taken and dropped would be lost, and an M parked off
            // the list is one that shutdown cannot wake.)
            if !woken && sched.nthreads() > sched.procs() + 1 && sched.unmput(&self.shared) {
                return false;
            }
        }
    }

    fn exit(mut self, sched: &Sched) {
        if self.pid() != NO_P {
            let local = self.releasep();
            let pp = &sched.allp[local.id];
            // Shutting down: cancel what is left (a task never polled is in no list, so
            // shutdown could reach it only through a queue), the global queue's too, since
            // a local spawn of ours may have overflowed there after shutdown's drain.
            pp.runq.drain().into_iter().for_each(task::shutdown_queued);
            if sched.shutdown.load(SeqCst) {
                sched.cancel_global_queue();
            }
            pp.put_local(sched, local);
            pp.set_status(PStatus::Dead);
        }
        if self.spinning {
            sched.stop_spinning();
        }
        sched.m_gone(&self.shared);
    }
}
