//! Shutdown: stop every M, then drop every task exactly once (owned list, then queues), and
//! close the reactor so I/O futures held elsewhere see the runtime is gone.

use super::Sched;
use crate::executor::context;
use crate::executor::task::{self};
use crate::loom::lock;
use crate::loom::sync::atomic::{fence, Ordering::*};
use crate::loom::time::Instant;
use std::sync::Arc;
use std::time::Duration;

impl Sched {
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
        // GMPDEBUG=tracefile: the Ms are stopped, the tasks not dropped yet (their spawn
        // sites still resolve).
        crate::executor::trace::write_tracefile(self);
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
        // No M counts on a P from here on but one still inside a poll, which folds its P
        // when it puts it back: the population's count becomes the remote one alone.
        crate::executor::sched_ref::SchedRefs::fold_all(self);
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
}
