//! sysmon: the monitor thread, which holds no P (Go's `sysmon`).
//!
//! Each cycle it sleeps 20µs; after 50 cycles in a row with nothing to do it doubles the sleep,
//! up to 10ms (1ms while a rescue is active, see [`BUSY_MAX_DELAY`]); when every P is idle it sleeps until an M acquires a P (or, while `procs`
//! follows the cgroup limit, for a second at a time). Per cycle:
//! - [`retake`](retake::retake): a P in the same blocking section for a whole cycle is taken
//!   from its M and handed to another (Go's syscall handoff), when that pays; a P running the
//!   same time slice for longer than `time_slice` gets its preempt flag set, which gmp's leaf
//!   futures honour ([`crate::coop`]) and which breaks runnext chains;
//! - [`rescue`]: a P whose M has been inside one poll for more than two slices, or for 200µs
//!   with its thread asleep in the kernel (an unmarked blocking call), while work queued behind
//!   it has nowhere to go, has that work moved out and a reserve P lent to run it (beyond Go,
//!   which preempts with a signal — Rust cannot);
//! - the netpoll fallback: if nobody polled for 10ms, poll without blocking and inject;
//! - timers that are due while no M is looking get an M (Go's `startm` for `timeSleepUntil`);
//!   those of a P whose poll is 200µs old while nobody is blocked in the poll, and any a
//!   millisecond overdue, sysmon fires itself;
//! - work queued while no M exists at all (the OS refused every thread) gets another try;
//! - [`procs`]: about once a second, the cgroup CPU limit is re-read and the runtime resized
//!   when the automatic `procs` it gives changed (while `procs` is automatic), and the CPU
//!   count that limits `wakep` is re-read (`IdleState::room`);
//! - the `GMPDEBUG` traces: `schedtrace`, the `dumpsignal` dump, and `leakcheck` (the tasks
//!   newly leaked, see `Handle::leaked_tasks`).
//!
//! Progress is measured per P from the counters the Ms publish (`schedtick`, `polls`,
//! `syscalltick`), never by a probe task.
//!
//! Under `--cfg loom` no sysmon thread starts ([`start`] does nothing): a model makes a
//! [`Sysmon`] with [`Sysmon::new`] and runs [`Sysmon::cycle`] — one cycle's work, without
//! the sleep — from a loom thread of its own, as often as it wants sysmon to look. There is
//! no timer slack to set and no `SIGUSR1` dump.

mod procs;
mod rescue;
mod retake;
#[cfg(not(loom))]
mod signal;

use crate::executor::p::{PStatus, P};
use crate::executor::sched::Sched;
use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicU64, Ordering::*};
use crate::loom::time::Instant;
use crate::TaskId;
use std::collections::HashSet;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

const MIN_DELAY: Duration = Duration::from_micros(20);
const MAX_DELAY: Duration = Duration::from_millis(10);
/// The longest sleep while a reserve P is lent (a poll is stuck or blocked right now): where
/// one poll blocked, more tend to follow (a handler that blocks, a pool of sync calls), and
/// sysmon's early rescue (`rescue::off_cpu`) is only as quick as its next look. With 10ms, a
/// 1ms ticker beside unmarked `thread::sleep` hogs was 6ms late at worst; with 1ms, 1.3-3.8ms.
/// Not while every P is merely busy: a thousand wakeups a second on a full 2-CPU machine cost
/// ping_pong and chained_spawn 3% (A B B A).
const BUSY_MAX_DELAY: Duration = Duration::from_millis(1);
/// Idle cycles before the sleep starts doubling.
const IDLE_CYCLES: u32 = 50;
/// sysmon fires a P's timers itself once they are this late.
const OVERDUE_NS: u64 = 1_000_000;
/// Netpoll fallback: poll if nobody has for this long.
const FORCE_POLL_NS: u64 = 10_000_000;

/// The message of a caught panic, if it is a string.
#[cfg_attr(loom, allow(dead_code))]
fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload")
}

/// Start the sysmon thread of `sched`.
#[cfg(not(loom))]
pub(crate) fn start(sched: &Arc<Sched>) -> io::Result<()> {
    if sched.config.debug.dumpsignal {
        signal::install();
    }
    let s = sched.clone();
    let h = sched
        .thread_builder(format!("{}-sysmon", sched.config.thread_name))
        .spawn(move || Sysmon::new(s).run())
        .map_err(|e| {
            let size = match sched.config.stack_size {
                Some(n) => format!("thread_stack_size({n})"),
                None => "the default stack size".to_string(),
            };
            io::Error::new(
                e.kind(),
                format!("gmp: the OS refused to start the sysmon thread with {size}: {e}"),
            )
        })?;
    *lock(&sched.sysmon.thread) = Some(h);
    Ok(())
}

/// Under loom no sysmon thread starts: a model runs [`Sysmon::cycle`] on a thread of its own.
#[cfg(loom)]
pub(crate) fn start(_sched: &Arc<Sched>) -> io::Result<()> {
    Ok(())
}

/// What sysmon remembers about a P between cycles (Go's `sysmontick`).
#[derive(Clone, Copy, Default)]
pub(crate) struct PWatch {
    pub(crate) schedtick: u64,
    pub(crate) schedwhen: u64,
    pub(crate) syscalltick: u64,
    pub(crate) syscallwhen: u64,
    pub(crate) polls: u64,
    pub(crate) pollwhen: u64,
    /// The reserve P lent to this P's stuck work, while lent.
    pub(crate) lent: Option<usize>,
    /// A rescue was counted (and reported) for the current stuck poll.
    pub(crate) rescued: bool,
    /// For the current poll, once it is old enough to be looked at: when sysmon last read its
    /// M's CPU clock, and the reading (`rescue::off_cpu`).
    pub(crate) cpu_seen: Option<(u64, u64)>,
}

pub(crate) struct Sysmon {
    pub(crate) sched: Arc<Sched>,
    pub(crate) watch: Vec<PWatch>,
    last_trace: Instant,
    last_leakcheck: Instant,
    /// Leaked tasks already reported by `GMPDEBUG=leakcheck` (and still leaked at the last
    /// check): at most the number of leaked tasks alive.
    leaks_reported: HashSet<TaskId>,
    /// When [`procs::follow_cgroup`] last re-read the cgroup limit (sysmon's clock, ns), and
    /// the problem it last reported.
    procs_checked_at: u64,
    procs_problem: Option<String>,
    /// When [`procs::follow_cpus`] last re-read the CPU count (sysmon's clock, ns), and what
    /// it read (the count at `build` before the first look).
    cpus_checked_at: u64,
    cpus_seen: usize,
}

impl Sysmon {
    /// sysmon's state for `sched`, fresh (what its thread starts with; under loom, what a
    /// model drives with [`Sysmon::cycle`]).
    pub(crate) fn new(sched: Arc<Sched>) -> Sysmon {
        let n = sched.allp.len();
        let cpus = sched.cpus();
        Sysmon {
            sched,
            watch: vec![PWatch::default(); n],
            last_trace: Instant::now(),
            last_leakcheck: Instant::now(),
            leaks_reported: HashSet::new(),
            procs_checked_at: 0,
            cpus_checked_at: 0,
            cpus_seen: cpus,
            procs_problem: None,
        }
    }

    /// sysmon's thread body. A panic in a cycle (a bug in gmp) must never leave the runtime
    /// without its monitor — no handoff, no rescue, no netpoll fallback, silently. It is
    /// caught, counted (`RuntimeMetrics::sysmon_restarts`), reported once on stderr, and
    /// sysmon starts over with fresh per-P state, after a pause that doubles with each panic
    /// in a row (1ms up to 1s), so a panic that repeats every cycle cannot burn a CPU.
    #[cfg_attr(loom, allow(dead_code))]
    fn run(mut self) {
        crate::platform::set_timer_slack(1_000);
        let mut pause = Duration::from_millis(1);
        loop {
            let cycles = AtomicU64::new(0);
            let run = std::panic::catch_unwind(AssertUnwindSafe(|| self.run_cycles(&cycles)));
            let Err(panic) = run else {
                return; // shutdown
            };
            let sched = &self.sched;
            let n = sched.sysmon.restarts.fetch_add(1, SeqCst) + 1;
            if n == 1 {
                crate::executor::wake::report_line(format!(
                    "gmp: sysmon panicked ({}); restarted it. This is a bug in gmp: please \
                     report it",
                    panic_message(&*panic)
                ));
            }
            if sched.shutdown.load(SeqCst) {
                return;
            }
            self.watch = vec![PWatch::default(); sched.allp.len()];
            if cycles.load(Relaxed) > 0 {
                pause = Duration::from_millis(1);
            }
            sched.sysmon.parker.park_timeout(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    #[cfg_attr(loom, allow(dead_code))]
    fn run_cycles(&mut self, cycles: &AtomicU64) {
        let mut delay = MIN_DELAY;
        let mut idle = 0u32;
        let sched = self.sched.clone();
        while !sched.shutdown.load(SeqCst) {
            if sched.sysmon.kicked.swap(false, SeqCst) {
                idle = 0;
            }
            let max = if sched.rescues_active() > 0 {
                BUSY_MAX_DELAY
            } else {
                MAX_DELAY
            };
            if idle == 0 {
                delay = MIN_DELAY;
            } else if idle > IDLE_CYCLES {
                delay = (delay * 2).min(max);
            }
            delay = delay.min(max);
            sched.sysmon.backed_off.store(delay > MIN_DELAY, Relaxed);
            sched.sysmon.parker.park_timeout(delay);
            if sched.shutdown.load(SeqCst) {
                break;
            }
            if self.all_idle() {
                self.deep_sleep();
                idle = 0;
                continue;
            }
            #[cfg(test)]
            if sched
                .sysmon
                .inject_panics
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                panic!("an injected sysmon panic");
            }
            let acted = self.cycle();
            cycles.fetch_add(1, Relaxed);
            if acted {
                idle = 0;
            } else {
                idle += 1;
            }
        }
    }

    /// One cycle's work, without the sleep before it: the netpoll fallback, overdue and due
    /// timers, a retry for work with no M, [`retake`](retake::retake) (handoff of Ps in long
    /// blocking sections, preemption requests), stuck-P [`rescue`] if enabled, the trace.
    /// True if it acted (the loop then keeps its shortest sleep). The thread skips it while
    /// [`Sysmon::all_idle`] (it sleeps deeply instead); a loom model may call it at any time.
    pub(crate) fn cycle(&mut self) -> bool {
        let now = self.sched.reactor.now_ns();
        self.sched.tick_coarse_now();
        let mut acted = false;
        acted |= self.netpoll_fallback(now);
        // Timers run on the timer clock. Paused, only the auto-advance and `advance`
        // move it, and they fire what they make due themselves, in deadline order.
        if !self.sched.reactor.clock.is_paused() {
            let tnow = self.sched.reactor.timer_now();
            acted |= self.timers_overdue(tnow);
            acted |= self.timers_behind_polls(tnow, now);
            acted |= self.timers_due(tnow);
        }
        self.no_m_for_work();
        acted |= retake::retake(self, now);
        if self.sched.config.stuck_rescue {
            acted |= rescue::rescue(self, now);
        }
        acted |= procs::follow_cgroup(self, now);
        procs::follow_cpus(self, now);
        self.trace();
        acted
    }

    /// Every P idle, none in a blocking section, nothing lent, no timer, no I/O source, no
    /// trace to print: nothing for sysmon to watch.
    pub(crate) fn all_idle(&self) -> bool {
        let s = &self.sched;
        s.npidle() == s.procs()
            && s.rescues_active() == 0
            && s.next_timer_when() == u64::MAX
            && !s.reactor.has_sources()
            && s.config.debug.schedtrace_ms.is_none()
            && s.config.debug.leakcheck_ms.is_none()
            && !s.config.debug.dumpsignal
            && !s.work_without_m()
    }

    #[cfg_attr(loom, allow(dead_code))]
    fn deep_sleep(&mut self) {
        let s = self.sched.clone();
        s.sysmon.sleeping.store(true, SeqCst);
        // Re-check after publishing the sleep, so a P acquired meanwhile is not missed.
        while self.all_idle() && !s.shutdown.load(SeqCst) {
            if s.auto_procs.load(Relaxed) {
                // Following the cgroup limit: look once a second even while idle.
                s.sysmon.parker.park_timeout(procs::PERIOD);
                procs::follow_cgroup(self, s.reactor.now_ns());
            } else {
                s.sysmon.parker.park();
            }
        }
        s.sysmon.sleeping.store(false, SeqCst);
    }

    /// Go: "poll network if not polled for more than 10ms".
    fn netpoll_fallback(&self, now: u64) -> bool {
        let r = &self.sched.reactor;
        if r.has_sources() && !r.is_blocked() && now > r.last_poll().saturating_add(FORCE_POLL_NS) {
            return r.poll_nonblocking() > 0;
        }
        false
    }

    /// Fire timers overdue by more than a millisecond: their P's M is stuck in a long poll or
    /// a blocking section and cannot (the woken tasks go to the global queue, where other Ms —
    /// or a reserve P, if every P is stuck — pick them up).
    fn timers_overdue(&self, now: u64) -> bool {
        now.checked_sub(OVERDUE_NS)
            .is_some_and(|by| self.fire_timers(now, by, |_, _| true))
    }

    /// Fire the due timers of each P whose M has been inside one poll for at least
    /// [`rescue::OFFCPU_MIN_AGE`] (as of sysmon's last look) while no M is blocked in the
    /// poll: nobody else would fire them before they are a millisecond overdue (the P's M
    /// looks at them between polls; Ms out of work steal them, but every other M may be
    /// parked). What they ready goes to the global queue, where this cycle's rescue finds
    /// it stranded if no other M can take it.
    ///
    /// The case: every P held by a poll blocked in an unmarked call, the M that was in the
    /// poll gone to run work on a lent P and blocked in turn. A 1 ms ticker beside three
    /// `thread::sleep` hogs on 2 Ps (`tail_latency` (c)) had a tick 1.5-1.7 ms late now and
    /// then that way (the flight recorder showed it).
    fn timers_behind_polls(&self, tnow: u64, now: u64) -> bool {
        if self.sched.reactor.is_blocked() {
            return false;
        }
        self.fire_timers(tnow, tnow, |pp, w| {
            rescue::in_poll(pp)
                && pp.polls.get() == w.polls
                && now.saturating_sub(w.pollwhen) >= rescue::OFFCPU_MIN_AGE
        })
    }

    /// Run the timers of each P that `pick` chooses (given the P and sysmon's watch on it)
    /// and whose earliest is due by `by` (the timer clock, ns; `now` is what they run at).
    /// True if any ran.
    fn fire_timers(&self, now: u64, by: u64, pick: impl Fn(&P, &PWatch) -> bool) -> bool {
        let mut fired = false;
        for (p, _) in self
            .sched
            .allp
            .iter()
            .zip(&self.watch)
            .filter(|(p, w)| pick(p, w))
        {
            if p.timers.when() <= by {
                p.timers.run(now);
                fired = true;
            }
        }
        fired
    }

    /// Every attempt to start an M failed (the OS refused the thread) and work is queued: try
    /// again. Not counted as acting, so sysmon backs off to one attempt per 10ms; the failure
    /// was reported once.
    fn no_m_for_work(&self) {
        if self.sched.work_without_m() {
            self.sched.wakep();
        }
    }

    /// A timer is due and no M is blocked in the poll to fire it: wake one. With more Ps than
    /// CPUs and the held Ps filling the CPUs, `wakep` starts no M (`IdleState::room`), and
    /// the Ms on the CPUs look at other Ps' timers only when they run out of work: fire the
    /// idle Ps' due timers here instead (what they ready goes to the global queue).
    fn timers_due(&self, now: u64) -> bool {
        let s = &self.sched;
        if s.next_timer_when() <= now && !s.reactor.is_blocked() && s.npidle() > 0 {
            if s.room() {
                s.wakep();
            } else {
                self.fire_timers(now, now, |p, _| p.status() == PStatus::Idle);
            }
            return true;
        }
        false
    }

    fn trace(&mut self) {
        #[cfg(not(loom))]
        if self.sched.config.debug.dumpsignal && signal::take_request() {
            let dump = crate::runtime::dump(&self.sched);
            eprint!("{}{dump}", crate::runtime::schedtrace(&self.sched, true));
            crate::executor::trace::write_tracefile(&self.sched);
        }
        self.leakcheck();
        let Some(ms) = self.sched.config.debug.schedtrace_ms else {
            return;
        };
        if self.last_trace.elapsed() >= Duration::from_millis(ms) {
            self.last_trace = Instant::now();
            let detail = self.sched.config.debug.scheddetail;
            eprint!("{}", crate::runtime::schedtrace(&self.sched, detail));
        }
    }

    /// `GMPDEBUG=leakcheck=N`: every N ms, print the leaked tasks not reported before, grouped
    /// by spawn location (one write, so the lines stay together). Only ids still leaked are
    /// remembered: a leaked task leaves the set once it is gone (aborted, shut down).
    fn leakcheck(&mut self) {
        let Some(ms) = self.sched.config.debug.leakcheck_ms else {
            return;
        };
        if self.last_leakcheck.elapsed() < Duration::from_millis(ms) {
            return;
        }
        self.last_leakcheck = Instant::now();
        let mut report = crate::runtime::leaked(&self.sched);
        let old = std::mem::take(&mut self.leaks_reported);
        self.leaks_reported = report.tasks.iter().map(|t| t.id).collect();
        report.tasks.retain(|t| !old.contains(&t.id));
        if !report.is_empty() {
            eprint!("gmp: leakcheck: new {report}");
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;
    use std::time::{Duration, Instant};

    /// A panic in sysmon is caught and counted, and sysmon carries on: it still hands off a P
    /// stuck in a blocking section afterwards.
    #[test]
    fn a_sysmon_panic_restarts_sysmon() {
        let rt = crate::Runtime::builder().procs(1).build().unwrap();
        let sched = rt.handle().sched.clone();
        sched.sysmon.inject_panics.store(1, SeqCst);
        // Keep sysmon out of its deep sleep so that it cycles (and panics) now.
        let _t = rt.spawn(async { crate::time::sleep(Duration::from_secs(60)).await });
        let start = Instant::now();
        while sched.sysmon.restarts.load(SeqCst) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "sysmon never panicked"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // One P, stuck for 200ms in a blocking call with work queued behind it: only a live
        // sysmon hands that P to another M.
        let ran = rt.block_on(async {
            let blocker = crate::spawn(async {
                crate::block_in_place(|| std::thread::sleep(Duration::from_millis(200)))
            });
            let behind = crate::spawn(async { Instant::now() });
            let t0 = Instant::now();
            let at = behind.await.unwrap();
            blocker.await.unwrap();
            at.duration_since(t0)
        });
        assert!(
            ran < Duration::from_millis(150),
            "the queued task waited {ran:?}: sysmon did not hand the P off"
        );
        let m = rt.handle().metrics();
        assert_eq!(m.sysmon_restarts, 1);
        assert!(m.handoffs >= 1);
    }
}
