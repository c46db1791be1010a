//! Reading the flight recorder: [`TraceSnapshot`], the public view of the last events.

use super::unpack;
use crate::executor::sched::Sched;
use crate::TaskId;
use std::collections::HashMap;
use std::io;
use std::panic::Location;
use std::path::Path;
use std::time::Duration;

/// What a [`TraceEvent`] records. The meaning of [`TraceEvent::arg`] is given per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum TraceEventKind {
    /// A poll of `task` starts on `p` (Go's `execute`).
    PollStart = 1,
    /// That poll returned. Recorded without `p`'s ring when a blocking section in the poll
    /// lost the P (then `p` is where it started).
    PollEnd,
    /// `task` was spawned, onto `p` when spawned by a task running there.
    Spawn,
    /// `task` was woken (made runnable), onto `p` when woken by a task running there; `arg` 1
    /// for a yield (woken during its own poll).
    Wake,
    /// `p` stole `arg & 0xFF` tasks from P `arg >> 8` (`task` is the one it runs first: 0).
    Steal,
    /// sysmon (or a burst of blocking calls) handed `p` to another M (Go's `handoffp`).
    Handoff,
    /// sysmon retook `p` from an M in a blocking section (Go's `retake`).
    Retake,
    /// sysmon set `p`'s preempt flag: `task` has run a whole time slice.
    Preempt,
    /// sysmon's stuck-P rescue: `p` has been inside one poll of `task` for two slices with work
    /// queued behind it; that work was moved out and reserve P `arg` lent to run it.
    Rescue,
    /// M `m` parked on the idle list with no P (Go's `stopm`).
    Park,
    /// M `m` took P `p` after parking.
    Unpark,
    /// A network poll readied `arg` tasks (on `p` if the polling M held one).
    Netpoll,
    /// `task` entered a blocking section (`spawn_blocking`, `block_in_place`, `gmp::fs`) on `p`.
    BlockingEnter,
    /// The blocking section returned; `arg` 1 if the M kept its P, 0 if sysmon had taken it.
    BlockingExit,
}

impl TraceEventKind {
    /// A short lower-case name (`"poll"`, `"steal"`, `"rescue"`, ...), as in the JSON trace.
    pub fn name(self) -> &'static str {
        match self {
            TraceEventKind::PollStart => "poll",
            TraceEventKind::PollEnd => "poll end",
            TraceEventKind::Spawn => "spawn",
            TraceEventKind::Wake => "wake",
            TraceEventKind::Steal => "steal",
            TraceEventKind::Handoff => "handoff",
            TraceEventKind::Retake => "retake",
            TraceEventKind::Preempt => "preempt",
            TraceEventKind::Rescue => "rescue",
            TraceEventKind::Park => "park",
            TraceEventKind::Unpark => "unpark",
            TraceEventKind::Netpoll => "netpoll",
            TraceEventKind::BlockingEnter => "blocking",
            TraceEventKind::BlockingExit => "blocking end",
        }
    }
}

/// One scheduler event from the flight recorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceEvent {
    /// What happened.
    pub kind: TraceEventKind,
    /// When, since the runtime started.
    pub time: Duration,
    /// The task concerned, if any.
    pub task: Option<TaskId>,
    /// Where that task was spawned, when known: from the event itself (poll starts and
    /// spawns), from another event of the same task in the snapshot, or from the live tasks.
    pub spawned_at: Option<&'static Location<'static>>,
    /// The P concerned (index, as in `GMPDEBUG=scheddetail`), if any.
    pub p: Option<usize>,
    /// The M concerned (its id, as in scheddetail), if known.
    pub m: Option<usize>,
    /// A number whose meaning depends on `kind` (see [`TraceEventKind`]); 0 where none is
    /// given there.
    pub arg: u64,
}

/// The last events of a runtime's flight recorder, from
/// [`Handle::trace_snapshot`](crate::Handle::trace_snapshot), oldest first.
///
/// Taken without stopping anything: each P's ring is read while its M keeps writing, and an
/// event being written (or overwritten) during the read is left out and counted in
/// [`missed`](Self::missed), never returned half-written.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TraceSnapshot {
    /// Whether the recorder is on (`Builder::flight_recorder`, `GMPDEBUG=trace=1` or
    /// `GMPDEBUG=tracefile=PATH`); when off, `events` is empty.
    pub enabled: bool,
    /// The events, by time (ties in the order they were recorded on their ring).
    pub events: Vec<TraceEvent>,
    /// Events left out: being written during the read, or dropped because two threads
    /// without a P raced for one slot of the shared ring.
    pub missed: u64,
    /// The runtime's `procs` when the snapshot was taken.
    pub procs: usize,
    /// When the snapshot was taken, since the runtime started (after every event in it).
    pub taken_at: Duration,
}

impl TraceSnapshot {
    /// Write the events as Chrome trace-event JSON (the `traceEvents` format that Perfetto
    /// and `chrome://tracing` open): one track per P and one per M, each poll a slice named
    /// by its task's spawn site, instants for steals, handoffs, retakes, preempt flags,
    /// rescues, netpolls and parks.
    ///
    /// # Errors
    /// The writer's.
    pub fn write_chrome_json<W: io::Write>(&self, w: W) -> io::Result<()> {
        super::chrome::write(self, w)
    }

    /// [`write_chrome_json`](Self::write_chrome_json) into a file at `path`, created or
    /// truncated.
    ///
    /// # Errors
    /// The file system's, unchanged in kind, with the path in the message.
    pub fn write_file(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let file = std::fs::File::create(path).map_err(with_path)?;
        let mut w = io::BufWriter::new(file);
        self.write_chrome_json(&mut w).map_err(with_path)?;
        io::Write::flush(&mut w).map_err(with_path)
    }
}

/// Read every ring of `sched`'s recorder.
pub(crate) fn snapshot(sched: &Sched) -> TraceSnapshot {
    let rec = &sched.trace;
    let mut snap = TraceSnapshot {
        enabled: rec.on,
        procs: sched.procs(),
        taken_at: Duration::from_nanos(sched.reactor.now_ns()),
        ..TraceSnapshot::default()
    };
    if !rec.on {
        return snap;
    }
    // Ring by ring, each oldest first; the sort by time below is stable.
    let mut raws = Vec::new();
    for r in rec.rings.iter() {
        let (events, torn) = r.ring.0.read();
        raws.extend(events);
        snap.missed += torn as u64;
    }
    let (events, torn) = rec.shared.ring.read();
    raws.extend(events);
    snap.missed += torn as u64;
    raws.sort_by_key(|r| r.time_ns);

    let sites = rec.sites.all();
    let site = |i: u64| {
        (i > 0)
            .then(|| sites.get(i as usize - 1).copied())
            .flatten()
    };
    // Spawn sites by task: from the events that carry one, then from the live tasks.
    let mut by_task: HashMap<u64, &'static Location<'static>> = HashMap::new();
    for r in &raws {
        if let Some((TraceEventKind::PollStart | TraceEventKind::Spawn, _, _, arg)) = unpack(r.word)
        {
            if let Some(loc) = site(arg) {
                by_task.insert(r.task, loc);
            }
        }
    }
    sched.owned.for_each(|h| {
        by_task.entry(h.id.as_u64()).or_insert(h.spawned_at);
    });
    snap.events = raws
        .iter()
        .filter_map(|r| {
            let (kind, p, m, arg) = unpack(r.word)?;
            let task = (r.task != 0).then(|| TaskId::new(r.task));
            // Poll starts and spawns carry a site index: internal, resolved above.
            let arg = if matches!(kind, TraceEventKind::PollStart | TraceEventKind::Spawn) {
                0
            } else {
                arg
            };
            Some(TraceEvent {
                kind,
                time: Duration::from_nanos(r.time_ns),
                task,
                spawned_at: by_task.get(&r.task).copied(),
                p,
                m,
                arg,
            })
        })
        .collect();
    snap
}
