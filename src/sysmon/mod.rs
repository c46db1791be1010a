//! sysmon: the monitor thread, which holds no P (Go's `sysmon`).
//!
//! Each cycle it sleeps 20µs; after 50 cycles in a row with nothing to do it doubles the sleep,
//! up to 10ms; when every P is idle it sleeps until an M acquires a P. Per cycle:
//! - [`retake`](retake::retake): a P in the same blocking section for a whole cycle is taken
//!   from its M and handed to another (Go's syscall handoff), when that pays; a P running the
//!   same time slice for longer than `time_slice` gets its preempt flag set, which gmp's leaf
//!   futures honour ([`crate::coop`]) and which breaks runnext chains;
//! - [`rescue`]: a P whose M has been inside one poll for more than two slices, while work
//!   queued behind it has nowhere to go, has that work moved out and a reserve P lent to run it
//!   (beyond Go, which preempts with a signal — Rust cannot);
//! - the netpoll fallback: if nobody polled for 10ms, poll without blocking and inject;
//! - timers that are due while no M is looking get an M (Go's `startm` for `timeSleepUntil`).
//!
//! Progress is measured per P from the counters the Ms publish (`schedtick`, `polls`,
//! `syscalltick`), never by a probe task.

mod rescue;
mod retake;

use crate::executor::park::Parker;
use crate::executor::sched::Sched;
use crate::loom::lock;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIN_DELAY: Duration = Duration::from_micros(20);
const MAX_DELAY: Duration = Duration::from_millis(10);
/// Idle cycles before the sleep starts doubling.
const IDLE_CYCLES: u32 = 50;
/// Netpoll fallback: poll if nobody has for this long.
const FORCE_POLL_NS: u64 = 10_000_000;

/// The handle the scheduler keeps on its sysmon thread.
pub(crate) struct SysmonHandle {
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    parker: Parker,
    /// Deep sleep: every P is idle; woken by `wake`.
    sleeping: AtomicBool,
}

impl SysmonHandle {
    pub(crate) fn new() -> SysmonHandle {
        SysmonHandle {
            thread: Mutex::new(None),
            parker: Parker::new(),
            sleeping: AtomicBool::new(false),
        }
    }

    /// A P went from idle to running: end a deep sleep.
    #[inline]
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) {
            self.parker.unpark();
        }
    }

    /// Stop and join (called at shutdown, with the shutdown flag already set).
    pub(crate) fn stop(&self) {
        self.parker.unpark();
        let handle = lock(&self.thread).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// Start the sysmon thread of `sched`.
pub(crate) fn start(sched: &Arc<Sched>) -> io::Result<()> {
    let s = sched.clone();
    let h = std::thread::Builder::new()
        .name(format!("{}-sysmon", sched.config.thread_name))
        .spawn(move || Sysmon::new(s).run())?;
    *lock(&sched.sysmon.thread) = Some(h);
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
}

pub(crate) struct Sysmon {
    pub(crate) sched: Arc<Sched>,
    pub(crate) watch: Vec<PWatch>,
    last_trace: Instant,
}

impl Sysmon {
    fn new(sched: Arc<Sched>) -> Sysmon {
        let n = sched.allp.len();
        Sysmon {
            sched,
            watch: vec![PWatch::default(); n],
            last_trace: Instant::now(),
        }
    }

    fn run(mut self) {
        let mut delay = MIN_DELAY;
        let mut idle = 0u32;
        let sched = self.sched.clone();
        while !sched.shutdown.load(SeqCst) {
            if idle == 0 {
                delay = MIN_DELAY;
            } else if idle > IDLE_CYCLES {
                delay = (delay * 2).min(MAX_DELAY);
            }
            sched.sysmon.parker.park_timeout(delay);
            if sched.shutdown.load(SeqCst) {
                break;
            }
            if self.all_idle() {
                self.deep_sleep();
                idle = 0;
                continue;
            }
            let now = sched.reactor.now_ns();
            let mut acted = false;
            acted |= self.netpoll_fallback(now);
            acted |= self.timers_due(now);
            acted |= retake::retake(&mut self, now);
            if sched.config.stuck_rescue {
                acted |= rescue::rescue(&mut self, now);
            }
            self.trace();
            if acted {
                idle = 0;
            } else {
                idle += 1;
            }
        }
    }

    /// Every P idle, none in a blocking section, nothing lent, no timer, no I/O source, no
    /// trace to print: nothing for sysmon to watch.
    fn all_idle(&self) -> bool {
        let s = &self.sched;
        s.npidle() == s.procs()
            && s.rescues_active() == 0
            && s.next_timer_when() == u64::MAX
            && !s.reactor.has_sources()
            && s.config.debug.schedtrace_ms.is_none()
    }

    fn deep_sleep(&self) {
        let s = &self.sched;
        s.sysmon.sleeping.store(true, SeqCst);
        // Re-check after publishing the sleep, so a P acquired meanwhile is not missed.
        while self.all_idle() && !s.shutdown.load(SeqCst) {
            s.sysmon.parker.park();
        }
        s.sysmon.sleeping.store(false, SeqCst);
    }

    /// Go: "poll network if not polled for more than 10ms".
    fn netpoll_fallback(&self, now: u64) -> bool {
        let r = &self.sched.reactor;
        if r.has_sources() && !r.is_blocked() && now > r.last_poll() + FORCE_POLL_NS {
            return r.poll_nonblocking() > 0;
        }
        false
    }

    /// A timer is due and no M is blocked in the poll to fire it: wake one.
    fn timers_due(&self, now: u64) -> bool {
        let s = &self.sched;
        if s.next_timer_when() <= now && !s.reactor.is_blocked() && s.npidle() > 0 {
            s.wakep();
            return true;
        }
        false
    }

    fn trace(&mut self) {
        let Some(ms) = self.sched.config.debug.schedtrace_ms else {
            return;
        };
        if self.last_trace.elapsed() >= Duration::from_millis(ms) {
            self.last_trace = Instant::now();
            eprint!("{}", crate::runtime::schedtrace(&self.sched));
        }
    }
}
