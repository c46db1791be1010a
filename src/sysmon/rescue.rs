//! Stuck-P rescue — beyond Go, which would preempt the goroutine with a signal.
//!
//! A task that never reaches an await (a CPU loop, `std::thread::sleep`, an unmarked blocking
//! call) keeps its M inside one poll; the preempt flag cannot reach it. If that P has work
//! queued behind it that no other M can take (no idle P, or none a CPU is free for: see
//! `IdleState::room`; nobody spinning), sysmon:
//! 1. moves the P's queued tasks (ring and runnext) to the global queue — from the thief side of
//!    the ring, so the stuck M keeps sole use of its own ring as producer;
//! 2. lends a reserve P (there are `max_procs` of them) and starts an M on it to run that work.
//!
//! A poll counts as stuck after two time slices, or sooner when it is blocked in the kernel: an
//! unmarked blocking call (`std::thread::sleep`, a sync driver's read, a contended lock) is
//! what Go would see as a syscall and hand off at sysmon's next look. gmp cannot see the call,
//! so it looks at the M's thread instead (Linux): a poll at least [`OFFCPU_MIN_AGE`] old whose
//! M gained less than a quarter of the last [`OFFCPU_WINDOW`] or more in CPU time (its thread
//! CPU clock) and is asleep or blocked now (state `S`/`D`, not `R`) is off the CPU by its own
//! doing. A CPU hog descheduled by the kernel is runnable (`R`), so it still gets its two
//! slices. The thread is looked at only for a poll that old with work behind it that nobody
//! else can take, so a busy runtime never pays.
//!
//! When the stuck poll returns, the reserve P is marked to retire: its M hands its queue to the
//! global queue and gives the P back. Every rescue is counted (`RuntimeMetrics::rescues`) and,
//! with `GMPDEBUG=stuck=1`, reported on stderr with the task's id, spawn location and how long
//! it had been running. `Builder::stuck_rescue(false)` turns it off.

use super::{PWatch, Sysmon};
use crate::executor::p::{PStatus, P};
use crate::executor::sched::Sched;
use crate::executor::trace::{self, Kind};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

/// A poll younger than this is never taken for blocked (Go hands a syscall off after 20µs at
/// the soonest, if there is work; a reserve P costs a thread wakeup, so gmp waits longer).
pub(crate) const OFFCPU_MIN_AGE: u64 = 200_000;

/// The shortest span over which an M's scheduling times are compared (sysmon looks every
/// 20µs or more).
const OFFCPU_WINDOW: u64 = 100_000;

/// Whether P `pp`'s M, in one poll since sysmon's watch began, is off the CPU by its own doing:
/// since the last reading at least [`OFFCPU_WINDOW`] ago it gained less than a quarter of
/// that in CPU time, and it sleeps now. The first call for a poll only takes a reading. False
/// where the platform has no per-thread CPU clock.
fn off_cpu(sched: &Sched, pp: &P, w: &mut PWatch, now: u64) -> bool {
    if w.cpu_seen
        .is_some_and(|(then, _)| now - then < OFFCPU_WINDOW)
    {
        return false;
    }
    let Some(tid) = sched.m_tid(pp.m.load(Relaxed)) else {
        return false;
    };
    let Some(cpu) = crate::platform::thread_cpu_ns(tid) else {
        return false;
    };
    let before = w.cpu_seen.replace((now, cpu));
    before
        .is_some_and(|(then, cpu_then)| cpu.saturating_sub(cpu_then).saturating_mul(4) < now - then)
        && crate::platform::thread_sleeping(tid) == Some(true)
}

/// Whether P `pp`'s M is inside a poll (of the task `curg_id` names) right now.
pub(super) fn in_poll(pp: &P) -> bool {
    pp.status() == PStatus::Running && pp.curg_id.load(Relaxed) != 0
}

pub(crate) fn rescue(sm: &mut Sysmon, now: u64) -> bool {
    let sched = sm.sched.clone();
    let slice = crate::reactor::saturating_ns(sched.config.time_slice);
    let mut acted = false;
    // Reserve Ps are watched too: a lent P can pick up another CPU hog from the queue.
    for i in 0..sched.allp.len() {
        let pp = &sched.allp[i];
        let w = &mut sm.watch[i];
        let polls = pp.polls.get();
        if w.polls != polls || !in_poll(pp) {
            w.polls = polls;
            w.pollwhen = now;
            w.rescued = false;
            w.cpu_seen = None;
            if let Some(rp) = w.lent.take() {
                // The poll returned: withdraw the extra capacity.
                sched.allp[rp].retire.store(true, SeqCst);
                acted = true;
            }
            continue;
        }
        // A young poll costs sysmon nothing more: not even a look at its P's ring, a line
        // the P's M writes all the time.
        let age = now - w.pollwhen;
        let slices_up = age > slice.saturating_mul(2);
        if !slices_up && age < OFFCPU_MIN_AGE {
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
        // Work behind the poll (or in the global queue) that no spinner or M started on an
        // idle P can take (with more Ps than CPUs, `wakep` starts none once the held Ps fill
        // the CPUs: `IdleState::room`).
        let stranded =
            (queued || !sched.global.is_empty()) && !sched.room() && sched.nmspinning() == 0;
        if !slices_up {
            // Early only for a poll blocked in the kernel, with work that has nowhere to go.
            if w.lent.is_some() || !stranded {
                continue;
            }
            // Work waits: keep sysmon's shortest sleep while it looks (backed off, its next
            // look could be 10ms away).
            acted = true;
            if !off_cpu(&sched, pp, w, now) {
                continue;
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
        if !stranded {
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

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// More Ps than CPUs, and the CPUs taken by a task that never yields: a task spawned then
    /// starts no M (`IdleState::room`), so only sysmon can run it — it must see the work as
    /// stranded although Ps are idle, and rescue it. Without that, the task would never run
    /// and the hog would spin forever.
    #[test]
    fn work_behind_a_hog_on_every_cpu_is_rescued_though_ps_are_idle() {
        let rt = crate::Runtime::builder().procs(4).build().unwrap();
        // One CPU, whatever the machine has: one hog fills it.
        rt.handle().sched.set_cpus(1);
        let (hogging, done) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (h, d) = (hogging.clone(), done.clone());
        let hog = rt.spawn(async move {
            h.store(true, SeqCst);
            // No await until the other task ran (or the test gave up).
            let give_up = Instant::now() + Duration::from_secs(30);
            while !d.load(SeqCst) && Instant::now() < give_up {
                std::hint::spin_loop();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !hogging.load(SeqCst) {
            assert!(Instant::now() < deadline, "the hog never started");
            std::thread::yield_now();
        }
        let d = done.clone();
        let task = rt.spawn(async move { d.store(true, SeqCst) });
        while !done.load(SeqCst) {
            assert!(
                Instant::now() < deadline,
                "the task spawned behind the hog never ran: 3 idle Ps, but no M may start"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        rt.block_on(async {
            task.await.unwrap();
            hog.await.unwrap();
        });
        assert!(
            rt.handle().metrics().rescues >= 1,
            "sysmon did not rescue it"
        );
    }
}
