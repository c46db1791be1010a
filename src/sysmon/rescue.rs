//! Stuck-P rescue — beyond Go, which would preempt the goroutine with a signal.
//!
//! A task that never reaches an await (a CPU loop, `std::thread::sleep`, an unmarked blocking
//! call) keeps its M inside one poll; the preempt flag cannot reach it. If that P has work
//! queued behind it that no other M can take (no idle P, nobody spinning), sysmon:
//! 1. moves the P's queued tasks (ring and runnext) to the global queue — from the thief side of
//!    the ring, so the stuck M keeps sole use of its own ring as producer;
//! 2. lends a reserve P (there are `max_procs` of them) and starts an M on it to run that work.
//!
//! When the stuck poll returns, the reserve P is marked to retire: its M hands its queue to the
//! global queue and gives the P back. Every rescue is counted (`RuntimeMetrics::rescues`) and,
//! with `GMPDEBUG=stuck=1`, reported on stderr with the task's id, spawn location and how long
//! it had been running. `Builder::stuck_rescue(false)` turns it off.

use super::Sysmon;
use crate::executor::p::PStatus;
use crate::executor::trace::{self, Kind};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

pub(crate) fn rescue(sm: &mut Sysmon, now: u64) -> bool {
    let sched = sm.sched.clone();
    let slice = crate::reactor::saturating_ns(sched.config.time_slice);
    let mut acted = false;
    // Reserve Ps are watched too: a lent P can pick up another CPU hog from the queue.
    for i in 0..sched.allp.len() {
        let pp = &sched.allp[i];
        let w = &mut sm.watch[i];
        let polls = pp.polls.get();
        let in_poll = pp.status() == PStatus::Running && pp.curg_id.load(Relaxed) != 0;
        if w.polls != polls || !in_poll {
            w.polls = polls;
            w.pollwhen = now;
            w.rescued = false;
            if let Some(rp) = w.lent.take() {
                // The poll returned: withdraw the extra capacity.
                sched.allp[rp].retire.store(true, SeqCst);
                acted = true;
            }
            continue;
        }
        if now - w.pollwhen <= slice.saturating_mul(2) {
            continue;
        }
        let queued = !pp.runq.is_empty();
        if let Some(rp) = w.lent {
            if sched.allp[rp].status() == PStatus::Dead {
                // The lent P ran out of work and went back to the reserve; lend again below
                // if more work arrives while this P is still stuck.
                w.lent = None;
            }
        }
        if w.lent.is_some() {
            // Still stuck: keep its newly queued work flowing to the lent P.
            if queued {
                for t in pp.runq.drain() {
                    sched.inject(t);
                }
                acted = true;
            }
            continue;
        }
        let others_can_take = sched.npidle() > 0 || sched.nmspinning() > 0;
        let has_work = queued || !sched.global.is_empty();
        if !has_work || others_can_take {
            continue;
        }
        let Some(rp) = sched.activate_reserve() else {
            continue; // all reserve Ps lent
        };
        let moved = pp.runq.drain();
        let n = moved.len();
        for t in moved {
            sched.inject(t);
        }
        w.lent = Some(rp);
        trace::sysmon(&sched, Kind::Rescue, i, rp as u64);
        if !w.rescued {
            // Count and report once per stuck poll (the lent P may be returned and lent
            // again while it lasts).
            w.rescued = true;
            sched.rescues_total.fetch_add(1, Relaxed);
            if sched.config.debug.stuck {
                let id = pp.curg_id.load(Relaxed);
                let at = sched
                    .task_location(id)
                    .map_or_else(|| "unknown location".to_string(), |l| l.to_string());
                eprintln!(
                    "gmp: sysmon: P{i} stuck for {:.1}ms in task {id} (spawned at {at}); moved \
                     {n} queued task(s) to the global queue and lent reserve P{rp}",
                    (now - w.pollwhen) as f64 / 1e6
                );
            }
        }
        sched.startm(rp, false);
        acted = true;
    }
    acted
}
