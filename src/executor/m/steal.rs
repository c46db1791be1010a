//! An M looking for work on other Ps: Go's `stealWork` (half a ring, in random order, the
//! victim's runnext and due timers in the last round), and gmp's `steal_backlog` (take a
//! stale backlog before polling the network). Called from `find_runnable` only, by the M
//! holding a P; thieves take from the victim's ring head (`runqsteal`), never its tail.

use super::M;
use crate::executor::p::PStatus;
use crate::executor::sched::Sched;
use crate::executor::schedule_impl::Notified;
use crate::executor::trace::{self, Kind};
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::time::Instant;
use std::sync::Arc;
use std::time::Duration;

/// A P whose schedtick has not moved for this long while its ring holds tasks is stolen from
/// before polling the network ([`M::steal_backlog`]): far longer than a typical poll (µs),
/// far shorter than a kernel time slice (ms).
const STALE: Duration = Duration::from_micros(100);

/// How long a thief gives a running victim to pick up its own runnext before stealing it (Go
/// sleeps ~3µs: a channel handoff takes ~50ns, so this is generous).
const RUNNEXT_GRACE: Duration = Duration::from_micros(3);

impl M<'_> {
    /// Go's `stealWork`: 4 rounds over the other Ps in random order; the last round may also
    /// take a victim's runnext.
    pub(super) fn steal_work(&mut self, sched: &Arc<Sched>) -> Option<Notified> {
        // Reserve Ps (stuck-P rescue) are victims too while lent, and Ps a resize shrank away
        // while their M has not yet stopped them (a dead P's ring is empty: skipped below; its
        // timers are still stolen, which is one of the ways they fire).
        let n = sched.allp.len();
        if n == 1 {
            return None;
        }
        let me = self.pid();
        let mine = &sched.allp[me];
        for round in 0..4 {
            let last = round == 3;
            let mut i = self.next_rand() % n;
            let stride = sched.coprimes[self.next_rand() % sched.coprimes.len()];
            for _ in 0..n {
                if sched.shutdown.load(Relaxed) {
                    return None;
                }
                let victim = &sched.allp[i];
                i = (i + stride) % n;
                if victim.id == me {
                    continue;
                }
                // Go steals timers: in the last round, run the victim's due timers (their
                // tasks are readied onto our P).
                if last && victim.timers.when() != u64::MAX {
                    let now = sched.reactor.timer_now();
                    if victim.timers.when() <= now {
                        if let Some(t) = self.ready_list(sched, || {
                            victim.timers.run(now);
                        }) {
                            return Some(t);
                        }
                    }
                }
                // An idle P's ring is empty, unless its M lost it in a blocking section; a dead
                // P's is empty too.
                if matches!(victim.status(), PStatus::Idle | PStatus::Dead)
                    && victim.runq.is_empty()
                {
                    continue;
                }
                let spare = || {
                    // Give a running victim a moment to run its runnext itself.
                    if victim.status() != PStatus::Running {
                        return false;
                    }
                    // Under loom time stands still: let the victim run instead of spinning.
                    #[cfg(loom)]
                    crate::loom::thread::yield_now();
                    #[cfg(not(loom))]
                    {
                        let start = Instant::now();
                        while start.elapsed() < RUNNEXT_GRACE {
                            std::hint::spin_loop();
                        }
                    }
                    false
                };
                let mut local = self.local();
                if let Some((t, k)) =
                    victim
                        .runq
                        .runqsteal(&mine.runq, &mut local.runq, last, spare)
                {
                    sched.record_steal(&mut local, k);
                    trace::on_p(
                        sched,
                        Kind::Steal,
                        me,
                        0,
                        (victim.id as u64) << 8 | k as u64,
                    );
                    return Some(t);
                }
            }
        }
        None
    }

    /// Before netpoll(0): take half of another P's ring if that P has not started a task for
    /// [`STALE`] while its ring waits (its M descheduled by the kernel, or inside one long
    /// poll). Not in Go, which polls first: when the Ms outnumber the free CPUs (a load
    /// generator on the same cores, a busy container), the kernel deschedules an M for
    /// milliseconds with its ring full, and while the other Ms keep finding fresh I/O nobody
    /// steals that older work (sysmon's stuck-P rescue waits for a whole time slice). A P
    /// that is making progress is left alone: stealing from it would only move its tasks, and
    /// their sockets' cache lines, to another core. Each M remembers every P's schedtick and
    /// when it changed; the check costs a load or two per P, and one clock read when some
    /// other ring holds tasks. Measured (hyper server, 2 Ps, `wrk -c50` on the same 2 CPUs,
    /// 14 interleaved runs each): p99 5.2-5.6 ms before, 4.2 ms after (tokio 4.3 ms).
    pub(super) fn steal_backlog(&mut self, sched: &Arc<Sched>) -> Option<Notified> {
        let n = sched.allp.len();
        if n == 1 {
            return None;
        }
        let mut now = None;
        let start = self.next_rand() % n;
        for k in 0..n {
            let v = (start + k) % n;
            let victim = &sched.allp[v];
            if v == self.pid() || victim.runq.is_empty() {
                continue;
            }
            let tick = victim.polls.get();
            let now = *now.get_or_insert_with(Instant::now);
            let seen = &mut self.seen[v];
            if seen.0 != tick {
                *seen = (tick, now);
                continue;
            }
            if now.duration_since(seen.1) < STALE {
                continue;
            }
            let mine = &sched.allp[self.pid()];
            let mut local = self.local();
            if let Some((t, k)) = victim
                .runq
                .runqsteal(&mine.runq, &mut local.runq, false, || false)
            {
                sched.record_steal(&mut local, k);
                trace::on_p(sched, Kind::Steal, local.id, 0, (v as u64) << 8 | k as u64);
                return Some(t);
            }
        }
        None
    }
}
