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
    /// Being polled inside a blocking section (`spawn_blocking`, `block_in_place`,
    /// `gmp::fs`), or finishing a poll whose blocking section had its P handed to another M.
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
/// Taken shard by shard from the owned-task list, each shard under its lock for a moment, then
/// from the Ms' records of the tasks in their first poll (a task enters the list only when its
/// first poll returns `Pending`): it never stops the runtime, and a task polled at least once
/// and alive for the whole dump is listed exactly once (the records are read first, and a
/// task moves from its record to the list only after entering the list). Tasks not polled
/// yet are counted in [`TaskDump::unpolled`]. Times
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
    /// not listed — a task enters the owned-task list only when its first poll returns
    /// `Pending`, which keeps spawning, and tasks finished by their first poll, free of shared
    /// locks.
    pub unpolled: usize,
}

pub(crate) fn dump(sched: &Sched) -> TaskDump {
    let now = sched.reactor.now_ns();
    // First the tasks in their first poll (in no list yet, counted among the unlisted), then
    // the list. Their records are on the Ps they run on, or in the lost list if that P was
    // handed off, read under that list's lock, under which records move there: none is seen
    // in both places. A first poll that returns `Pending` enters the list before its record is
    // emptied (`task::core`), so a task whose record is gone by the time we read it is in the
    // list by the time we read that; one we find in both is listed once.
    let lost = crate::loom::lock(&sched.lost_first_polls);
    let mut first_polls: Vec<_> = sched
        .allp
        .iter()
        .filter_map(|p| p.first_poll.read())
        .collect();
    first_polls.extend(lost.iter().copied());
    drop(lost);
    let unpolled = sched.owned.unpolled();
    let mut tasks = Vec::new();
    sched.owned.for_each(|h| {
        first_polls.retain(|t| t.id != h.id.as_u64());
        let snap = h.state.load();
        let state = if snap.is_running() {
            running_state(sched, h.id)
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
    let unpolled = unpolled.saturating_sub(first_polls.len());
    for t in first_polls {
        let id = TaskId::new(t.id);
        tasks.push(TaskInfo {
            id,
            state: running_state(sched, id),
            spawned_at: t.at,
            age: Duration::from_nanos(now.saturating_sub(t.born_ns)),
            in_state: Duration::from_nanos(now.saturating_sub(t.since)),
            polls: 1,
        });
    }
    TaskDump { tasks, unpolled }
}

/// A running task's state, from the P whose `curg` names it (the same rule as
/// `RuntimeMetrics::tasks_running`/`tasks_blocking`, see `executor::sched::states`): `Running`
/// on a `Running` P, else `Syscall` — its P is in a blocking section, or was handed off during
/// one (which clears the P's `curg`, so no P names the task). The P's `curg` is set before the
/// task's `RUNNING` bit and cleared after, so a task seen running is named by its P if it
/// has one.
fn running_state(sched: &Sched, id: TaskId) -> TaskState {
    match sched
        .allp
        .iter()
        .find(|p| p.curg_id.load(Relaxed) == id.as_u64())
        .map(|p| p.status())
    {
        Some(PStatus::Running) => TaskState::Running,
        _ => TaskState::Syscall,
    }
}

/// Tasks that can never run again (Go's leaked goroutines), from
/// [`Handle::leaked_tasks`](crate::Handle::leaked_tasks).
///
/// Each task is listed as a [`TaskInfo`] whose `state` is [`TaskState::Waiting`] and whose
/// `in_state` is how long it has been waiting. `Display` groups them by spawn location, the
/// group with the longest wait first, one line each:
///
/// ```text
/// 3 leaked tasks, 1 spawn locations
///        3 at src/main.rs:12:9  longest waiting 2.0s, oldest 2.1s, 6 polls, ids 4 5 9
/// ```
#[derive(Debug, Clone, Default)]
pub struct LeakReport {
    /// The leaked tasks, in no particular order.
    pub tasks: Vec<TaskInfo>,
}

/// The tasks of the owned list that satisfy the leak rule ([`Snapshot::is_leaked`]) on two
/// reads of their state word that agree (the fields in between are read between them).
///
/// [`Snapshot::is_leaked`]: crate::executor::task::state::Snapshot::is_leaked
pub(crate) fn leaked(sched: &Sched) -> LeakReport {
    let now = sched.reactor.now_ns();
    let mut tasks = Vec::new();
    sched.owned.for_each(|h| {
        let before = h.state.load();
        if !before.is_leaked() {
            return;
        }
        let since = h.state_since.load(Relaxed);
        let polls = h.polls();
        // A task woken, run, or handed a waker meanwhile changed its word: not reported. (One
        // load already is a consistent snapshot; the second makes the fields read between
        // them belong to the same wait.)
        if h.state.load() != before {
            return;
        }
        tasks.push(TaskInfo {
            id: h.id,
            state: TaskState::Waiting,
            spawned_at: h.spawned_at,
            age: Duration::from_nanos(now.saturating_sub(h.born_ns())),
            in_state: Duration::from_nanos(now.saturating_sub(since)),
            polls,
        });
    });
    LeakReport { tasks }
}

impl LeakReport {
    /// Number of leaked tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no task is leaked.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// True when the task `id` is listed.
    pub fn contains(&self, id: TaskId) -> bool {
        self.tasks.iter().any(|t| t.id == id)
    }

    /// Leaked tasks spawned at `file:line` (the file as `Location::file` gives it).
    pub fn count_at(&self, file: &str, line: u32) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.spawned_at.file() == file && t.spawned_at.line() == line)
            .count()
    }
}

/// Ids listed per spawn location in a [`LeakReport`]'s lines; the rest are counted.
const IDS_SHOWN: usize = 8;

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut groups: BTreeMap<(&str, u32, u32), Vec<&TaskInfo>> = BTreeMap::new();
        for t in &self.tasks {
            let at = t.spawned_at;
            groups
                .entry((at.file(), at.line(), at.column()))
                .or_default()
                .push(t);
        }
        let longest = |g: &[&TaskInfo]| g.iter().map(|t| t.in_state).max().unwrap_or_default();
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|(_, g)| std::cmp::Reverse(longest(g)));
        writeln!(
            f,
            "{} leaked tasks, {} spawn locations",
            self.tasks.len(),
            groups.len()
        )?;
        for ((file, line, col), mut g) in groups {
            g.sort_by_key(|t| t.id);
            let oldest = g.iter().map(|t| t.age).max().unwrap_or_default();
            let polls: u64 = g.iter().map(|t| t.polls as u64).sum();
            let mut ids: Vec<String> = g.iter().take(IDS_SHOWN).map(|t| t.id.to_string()).collect();
            if g.len() > IDS_SHOWN {
                ids.push(format!("(+{})", g.len() - IDS_SHOWN));
            }
            writeln!(
                f,
                "  {:>6} at {file}:{line}:{col}  longest waiting {:.1?}, oldest {:.1?}, {} polls, ids {}",
                g.len(),
                longest(&g),
                oldest,
                polls,
                ids.join(" "),
            )?;
        }
        Ok(())
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
