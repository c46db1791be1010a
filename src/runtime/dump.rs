//! Task dump (Go's goroutine profile): every live task, for hunting leaks and stalls.

use crate::executor::p::PStatus;
use crate::executor::sched::Sched;
use crate::TaskId;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// What a task is doing (Go's G states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// In a run queue, waiting for an M.
    Runnable,
    /// Being polled by an M.
    Running,
    /// Being polled, inside a blocking section (`spawn_blocking`, `block_in_place`).
    Syscall,
    /// Returned `Pending` and waits for a wake.
    Waiting,
}

/// One live task in a [`TaskDump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id.
    pub id: TaskId,
    /// What it is doing.
    pub state: TaskState,
    /// Where it was spawned (`#[track_caller]` on every spawn function).
    pub spawned_at: &'static Location<'static>,
    /// Time since it was spawned. The spawn time is kept in units of about 16.8 ms (2^24 ns),
    /// rounded down, so this may be up to that much too long, and it is never less than
    /// `in_state`. Tasks spawned after the runtime has run about 2.28 years (2^56 ns) count
    /// their age from that mark: too long rather than wrapped around.
    pub age: Duration,
    /// Time in its current state (on the coarse clock, no further rounding).
    pub in_state: Duration,
    /// Times it has been polled (saturating at 2^30 - 1).
    pub polls: u32,
}

/// Every task alive during [`Handle::dump`](crate::Handle::dump).
///
/// Taken shard by shard from the owned-task list, each shard under its lock for a moment: it
/// never stops the runtime, and a task polled at least once and alive for the whole dump is
/// listed exactly once. Tasks not polled yet are counted in [`TaskDump::unpolled`]. Times
/// come from a coarse clock (ticked by sysmon, 20µs–10ms); ages are further rounded to about
/// 16.8 ms (see [`TaskInfo::age`]).
///
/// `Display` groups the tasks by spawn location, groups with the longest-waiting task first:
///
/// ```text
/// 1000 tasks, 2 locations
///   1000 at src/main.rs:12:9  (Waiting: 1000)  longest in state 2.0s, age 2.0s
/// ```
#[derive(Debug, Clone)]
pub struct TaskDump {
    /// The tasks, in no particular order.
    pub tasks: Vec<TaskInfo>,
    /// Tasks spawned and not polled yet: they sit in run queues (Runnable) and are counted,
    /// not listed — a task enters the owned-task list at its first poll, which keeps spawning
    /// free of shared locks.
    pub unpolled: usize,
}

pub(crate) fn dump(sched: &Sched) -> TaskDump {
    let now = sched.reactor.now_ns();
    // Running tasks and the state of the P they run on (Syscall when in a blocking section).
    let running: Vec<(u64, PStatus)> = sched
        .allp
        .iter()
        .map(|p| (p.curg_id.load(Relaxed), p.status()))
        .filter(|(id, _)| *id != 0)
        .collect();
    let mut tasks = Vec::new();
    sched.owned.for_each(|h| {
        let snap = h.state.load();
        let state = if snap.is_running() {
            match running.iter().find(|(id, _)| *id == h.id.as_u64()) {
                Some((_, PStatus::Syscall)) => TaskState::Syscall,
                _ => TaskState::Running,
            }
        } else if snap.is_notified() {
            TaskState::Runnable
        } else {
            TaskState::Waiting
        };
        let since = h.state_since.load(Relaxed);
        tasks.push(TaskInfo {
            id: h.id,
            state,
            spawned_at: h.spawned_at,
            age: Duration::from_nanos(now.saturating_sub(h.born_ns())),
            in_state: Duration::from_nanos(now.saturating_sub(since)),
            polls: h.polls(),
        });
    });
    TaskDump {
        tasks,
        unpolled: sched.owned.unpolled(),
    }
}

impl TaskDump {
    /// Number of tasks listed.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no task was alive.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Tasks spawned at `file:line` (the file as `Location::file` gives it).
    pub fn count_at(&self, file: &str, line: u32) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.spawned_at.file() == file && t.spawned_at.line() == line)
            .count()
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Group<'a> {
            tasks: Vec<&'a TaskInfo>,
            states: BTreeMap<TaskState, usize>,
            longest: Duration,
        }
        let mut groups: BTreeMap<(&str, u32, u32), Group<'_>> = BTreeMap::new();
        for t in &self.tasks {
            let g = groups
                .entry((
                    t.spawned_at.file(),
                    t.spawned_at.line(),
                    t.spawned_at.column(),
                ))
                .or_insert_with(|| Group {
                    tasks: Vec::new(),
                    states: BTreeMap::new(),
                    longest: Duration::ZERO,
                });
            g.tasks.push(t);
            *g.states.entry(t.state).or_default() += 1;
            g.longest = g.longest.max(t.in_state);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.1.longest));
        writeln!(
            f,
            "{} tasks, {} spawn locations",
            self.tasks.len(),
            groups.len()
        )?;
        if self.unpolled > 0 {
            writeln!(f, "  and {} runnable tasks not polled yet", self.unpolled)?;
        }
        for ((file, line, col), g) in groups {
            let states: Vec<String> = g
                .states
                .iter()
                .map(|(s, n)| format!("{s:?}: {n}"))
                .collect();
            let oldest = g.tasks.iter().map(|t| t.age).max().unwrap_or_default();
            let polls: u64 = g.tasks.iter().map(|t| t.polls as u64).sum();
            writeln!(
                f,
                "  {:>6} at {file}:{line}:{col}  ({})  longest in state {:.1?}, oldest {:.1?}, {} polls",
                g.tasks.len(),
                states.join(", "),
                g.longest,
                oldest,
                polls,
            )?;
        }
        Ok(())
    }
}
