//! Go's `retake`: syscall handoff and time-slice preemption.

use super::Sysmon;
use crate::executor::p::PStatus;
use crate::executor::trace::{self, Kind};
use std::sync::atomic::Ordering::Relaxed;

/// A P idle in a blocking section longer than this is retaken even with no work queued
/// (Go: 10ms), so its M's return takes the slow path and the P's accounting stays honest.
const SYSCALL_RETAKE_NS: u64 = 10_000_000;

/// One pass over the Ps; returns true if it retook a P or set a preempt flag.
pub(crate) fn retake(sm: &mut Sysmon, now: u64) -> bool {
    let sched = sm.sched.clone();
    let slice = crate::reactor::saturating_ns(sched.config.time_slice);
    let mut acted = false;
    for (i, pp) in sched.allp.iter().enumerate() {
        let w = &mut sm.watch[i];
        match pp.status() {
            PStatus::Running => {
                let t = pp.schedtick.get();
                if w.schedtick != t {
                    w.schedtick = t;
                    w.schedwhen = now;
                } else if now - w.schedwhen >= slice
                    && pp.curg_id.load(Relaxed) != 0
                    && !pp.preempt_requested()
                {
                    // Same slice for too long: ask the task (or runnext chain) to yield.
                    pp.request_preempt();
                    trace::sysmon(&sched, Kind::Preempt, i, 0);
                    w.schedwhen = now;
                    acted = true;
                }
            }
            PStatus::Syscall => {
                let t = pp.syscalltick.get();
                if w.syscalltick != t {
                    // A new blocking section since we last looked: give it one cycle.
                    w.syscalltick = t;
                    w.syscallwhen = now;
                    continue;
                }
                // Retake only when it pays: there is work the P could run, or nobody else is
                // looking for work, or the section is long anyway.
                let work = !pp.runq.is_empty()
                    || !sched.global.is_empty()
                    || pp.timers.when() <= sched.reactor.timer_now();
                let lookers = sched.nmspinning() > 0 || sched.room();
                if !work && lookers && now - w.syscallwhen < SYSCALL_RETAKE_NS {
                    continue;
                }
                if pp.status.cas(PStatus::Syscall, PStatus::Idle) {
                    trace::sysmon(&sched, Kind::Retake, i, 0);
                    pp.last_handoff.store(now, Relaxed);
                    sched.handoff_from_syscall(i);
                    acted = true;
                }
            }
            PStatus::Idle | PStatus::Dead => {}
        }
    }
    acted
}
