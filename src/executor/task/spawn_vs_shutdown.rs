//! The handshake between a spawn from outside the runtime and shutdown's queue drain (see
//! `Sched::spawn` and `Sched::shutdown`): a task spawned from outside is in no list until its
//! first poll, so either shutdown's drain pops it or the spawner sees the flag and drains the
//! queue itself. The queue is a count with the orderings of crossbeam's `SegQueue` (push
//! Release, pop Acquire); each pop that finds a task cancels it.
//!
//! Without the spawner's fence (its flag load Relaxed), loom finds the lost task.

use crate::loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::Arc;
use loom::thread;

struct World {
    queue: AtomicUsize,
    shutdown: AtomicBool,
    cancelled: AtomicUsize,
}

impl World {
    fn drain(&self) {
        while self
            .queue
            .fetch_update(AcqRel, Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            self.cancelled.fetch_add(1, Relaxed);
        }
    }
}

#[test]
fn loom_remote_spawn_vs_shutdown_drain_loses_no_task() {
    loom::model(|| {
        let w = Arc::new(World {
            queue: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            cancelled: AtomicUsize::new(0),
        });
        let spawner = {
            let w = w.clone();
            thread::spawn(move || {
                // `new_task`: refuse at once once shutdown is seen.
                if w.shutdown.load(Acquire) {
                    w.cancelled.fetch_add(1, Relaxed);
                    return;
                }
                // `inject`: push, then the SeqCst fence of `wakep_after_push`.
                w.queue.fetch_add(1, Release);
                fence(SeqCst);
                if w.shutdown.load(SeqCst) {
                    w.drain();
                }
            })
        };
        // `Sched::shutdown`: set the flag, ..., fence, drain the queues.
        w.shutdown.swap(true, SeqCst);
        fence(SeqCst);
        w.drain();
        spawner.join().unwrap();
        assert_eq!(
            w.cancelled.load(Relaxed),
            1,
            "the task was lost or cancelled twice"
        );
        assert_eq!(w.queue.load(Relaxed), 0);
    });
}
