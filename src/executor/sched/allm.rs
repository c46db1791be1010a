//! The Ms (Go's `allm`, `sched.midle`): starting one (`newm`), parking one on the idle list
//! (`mput`) and reaping a spare one, counting them, and keeping enough of them for blocking
//! sections. At most `max_threads` Ms exist; past that, or when the OS refuses a thread, work
//! waits in queues and blocking sections wait for a slot.

use super::Sched;
use crate::executor::context;
use crate::executor::m::{self, MShared};
use crate::executor::park::Parker;
use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use std::sync::Arc;

impl Sched {
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

    /// Go's `newm`: a new OS thread that starts out holding P `p`, or (`None`) a spare M
    /// that parks on the idle list. The caller counted it in `nthreads`. False if the OS
    /// refused the thread.
    pub(super) fn newm(self: &Arc<Self>, p: Option<usize>, spinning: bool) -> bool {
        let id = self.next_mid.fetch_add(1, Relaxed);
        let shared = Arc::new(MShared {
            id,
            parker: Parker::new(),
            nextp: Mutex::new(None),
            p: AtomicUsize::new(p.unwrap_or(context::NO_P)),
            spinning: AtomicBool::new(spinning),
            tid: AtomicI32::new(0),
        });
        lock(&self.allm).push(shared.clone());
        // A new M is active until it first parks (`mput`).
        self.reactor.clock.active_inc();
        let sched = self.clone();
        let spawned = self
            .thread_builder(format!("{}-m{}", self.config.thread_name, id))
            .spawn(move || m::mstart(sched, shared, p, spinning));
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
                    crate::executor::wake::report_line(format!(
                        "gmp: the OS refused to start an M thread ({e}); work waits for the \
                         existing Ms"
                    ));
                }
                if let Some(p) = p {
                    let mut idle = self.idle.lock();
                    let died = self.pidleput(&mut idle, p);
                    drop(idle);
                    if died {
                        self.drain_dead(p);
                    }
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
    pub(crate) fn thread_builder(&self, name: String) -> crate::loom::thread::Builder {
        let b = crate::loom::thread::Builder::new().name(name);
        match self.config.stack_size {
            Some(n) => b.stack_size(n),
            None => b,
        }
    }

    /// Work is queued but no M exists to run it (every thread creation so far failed).
    pub(crate) fn work_without_m(&self) -> bool {
        self.nthreads.load(SeqCst) == 0 && !self.global.is_empty()
    }

    /// M `id`'s kernel thread id, if it lives and its thread has started (sysmon, for
    /// `platform::thread_cpu_ns`; takes the `allm` lock).
    pub(crate) fn m_tid(&self, id: usize) -> Option<libc::pid_t> {
        let tid = lock(&self.allm)
            .iter()
            .find(|m| m.id == id)?
            .tid
            .load(Relaxed);
        (tid != 0).then_some(tid)
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
}
