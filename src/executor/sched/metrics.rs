//! The [`RuntimeMetrics`](crate::RuntimeMetrics) snapshot: racy reads of every counter.

use super::Sched;
use crate::executor::metrics::{ProcMetrics, RuntimeMetrics};
use crate::loom::sync::atomic::Ordering::*;

impl Sched {
    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        let all: Vec<ProcMetrics> = self
            .allp
            .iter()
            .map(|p| ProcMetrics {
                id: p.id,
                status: format!("{:?}", p.status()),
                schedtick: p.schedtick.get(),
                polls: p.polls.get(),
                runq_len: p.runq.len(),
                has_runnext: p.runq.has_runnext(),
                steals: p.steals.get(),
                stolen_tasks: p.stolen_tasks.get(),
                runq_overflows: p.overflows.get(),
                fairness_picks: p.fairness_picks.get(),
                tasks_spawned: self.owned.spawned(Some(p.id)),
            })
            .collect();
        let (tasks_completed, tasks_cancelled) = self.owned.finished();
        let live_tasks = self.owned.len();
        let states = self.task_states(live_tasks);
        RuntimeMetrics {
            tasks_completed,
            tasks_cancelled,
            procs: self.procs(),
            threads: self.nthreads.load(Relaxed),
            idle_procs: self.idle.npidle(),
            idle_threads: self.nmidle.load(Relaxed),
            spinning_threads: self.idle.nmspinning(),
            live_tasks,
            tasks_runnable: states.runnable,
            tasks_running: states.running,
            tasks_blocking: states.blocking,
            tasks_waiting: states.waiting,
            sched_latency: crate::executor::latency::sched_latency(self),
            tasks_spawned: self.owned.spawned_total(),
            global_queue_len: self.global.len(),
            polls: all.iter().map(|p| p.polls).sum(),
            steals: all.iter().map(|p| p.steals).sum(),
            stolen_tasks: all.iter().map(|p| p.stolen_tasks).sum(),
            runq_overflows: all.iter().map(|p| p.runq_overflows).sum(),
            fairness_picks: all.iter().map(|p| p.fairness_picks).sum(),
            blocking_sections: self.allp.iter().map(|p| p.syscalltick.get()).sum(),
            handoffs: self.allp.iter().map(|p| p.handoffs.load(Relaxed)).sum(),
            preemptions: self.allp.iter().map(|p| p.preemptions.load(Relaxed)).sum(),
            rescues: self.rescues_total.load(Relaxed),
            blocking_in_flight: self.blocking.in_flight(),
            blocking_waiting: self.blocking.waiting(),
            blocking_cap: self.blocking_cap(),
            sysmon_restarts: self.sysmon.restarts.load(Relaxed),
            timers: self.allp.iter().map(|p| p.timers.len()).sum(),
            io_sources: self.reactor.sources_len(),
            netpoll_polls: self.reactor.polls_total.load(Relaxed),
            netpoll_events: self.reactor.events_total.load(Relaxed),
            // Reserve Ps (stuck-P rescue) count in the sums above, not in this list.
            per_p: all.into_iter().take(self.procs()).collect(),
        }
    }
}
