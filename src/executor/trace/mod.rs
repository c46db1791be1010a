//! The flight recorder (Go 1.25's `runtime/trace.FlightRecorder`, for the scheduler only): the
//! last few thousand scheduling events per P, kept in memory, written on demand as a Chrome
//! trace-event JSON file that Perfetto and `chrome://tracing` open.
//!
//! Off by default (see `BENCHMARKS.md`: a precise timestamp per event costs far more than the
//! 3% budget on the 1-P workloads). The slow paths are `#[cold]`, out of the hot loop's way. On with `Builder::flight_recorder(true)`, `GMPDEBUG=trace=1`,
//! or `GMPDEBUG=tracefile=PATH` (which also writes the file at shutdown and on the
//! `dumpsignal` SIGUSR1). Off, every hook is one load of [`Recorder::on`] and a branch, and no
//! ring is allocated.
//!
//! **Who writes what** (as `proc.go` states who may touch what):
//! - **A P's ring** ([`ring::OwnerRing`]) is written only by the M holding the P — the same
//!   rule as the ring's producer end — with a load and a store, no read-modify-write. Its
//!   events: task poll start and end (`M::execute`), spawn and wake onto the P
//!   (`Sched::spawn`, `Sched::ready`), steals by the P, unpark (`acquirep` after `stopm`),
//!   non-blocking netpoll results, blocking-section enter, and exit when the P was kept.
//!   The M id recorded is the P's `m` (its current owner).
//! - **The shared ring** ([`ring::SharedRing`]) takes events from threads that hold no P:
//!   sysmon (retake, handoff, preempt flag, rescue), an M parking (`stopm`) or back from a
//!   blocking section whose P was retaken, the blocking netpoll, spawns and wakes from
//!   foreign threads. Writers claim a slot with a `fetch_add`, then a CAS on the slot's
//!   sequence word; a writer that loses the slot drops its event (counted).
//! - **Readers** ([`snapshot::snapshot`], any thread, any time) never block a writer and never
//!   see a torn event: every slot is a seqlock of atomics (`ring`).
//!
//! A hook called by the wrong thread (a broken rule above) can only tear events, which readers
//! drop; it cannot corrupt memory: there is no `unsafe` here.
//!
//! Spawn sites are interned ([`sites`]): poll-start and spawn events carry the site's index.
//! Timestamps are the reactor's clock (ns since the runtime started).

pub(crate) mod chrome;
pub(crate) mod ring;
pub(crate) mod sites;
pub(crate) mod snapshot;

use super::p::P;
use super::sched::Sched;
use super::schedule_impl::Notified;
use crate::TaskId;
use ring::{OwnerRing, Ring, SharedRing};
use sites::{SiteCache, Sites};
use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;

/// Events kept per P.
const P_EVENTS: usize = 4096;
/// Events kept from threads without a P.
const SHARED_EVENTS: usize = 4096;

/// "None" in the 16-bit P and M fields of an event.
const NONE16: u64 = 0xFFFF;

/// What happened; the byte stored in an event is its discriminant (1..=14, 0 is an empty
/// slot).
pub(crate) use snapshot::TraceEventKind as Kind;

impl Kind {
    const ALL: [Kind; 14] = [
        Kind::PollStart,
        Kind::PollEnd,
        Kind::Spawn,
        Kind::Wake,
        Kind::Steal,
        Kind::Handoff,
        Kind::Retake,
        Kind::Preempt,
        Kind::Rescue,
        Kind::Park,
        Kind::Unpark,
        Kind::Netpoll,
        Kind::BlockingEnter,
        Kind::BlockingExit,
    ];

    fn from_u8(b: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(b).wrapping_sub(1)).copied()
    }
}

/// An event's packed word: kind (8 bits), P (16), M (16), argument (24, saturating).
fn pack(kind: Kind, p: Option<usize>, m: Option<usize>, arg: u64) -> u64 {
    let id16 = |x: Option<usize>| x.map_or(NONE16, |v| (v as u64).min(NONE16 - 1));
    kind as u64 | id16(p) << 8 | id16(m) << 24 | arg.min(0xFF_FFFF) << 40
}

/// The packed word, unpacked: kind, P, M, argument.
fn unpack(w: u64) -> Option<(Kind, Option<usize>, Option<usize>, u64)> {
    let id = |v: u64| (v != NONE16).then_some(v as usize);
    let kind = Kind::from_u8(w as u8)?;
    Some((kind, id((w >> 8) & NONE16), id((w >> 24) & NONE16), w >> 40))
}

/// A P's ring and its spawn-site cache (the P's owner only writes either).
struct PRing {
    ring: OwnerRing,
    sites: SiteCache,
}

/// The recorder of one runtime (in `Sched`).
pub(crate) struct Recorder {
    /// Recording at all: fixed at build time. Every hook tests it first.
    pub(crate) on: bool,
    /// One per entry of `allp` (reserve Ps included); empty when off.
    rings: Box<[PRing]>,
    shared: SharedRing,
    sites: Sites,
}

impl Recorder {
    /// A recorder for `nallp` Ps, recording if `on` (otherwise nothing is allocated).
    pub(crate) fn new(on: bool, nallp: usize) -> Recorder {
        let (per_p, shared, n) = if on {
            (P_EVENTS, SHARED_EVENTS, nallp)
        } else {
            (0, 0, 0)
        };
        Recorder {
            on,
            rings: (0..n)
                .map(|_| PRing {
                    ring: OwnerRing(Ring::new(per_p)),
                    sites: SiteCache::new(),
                })
                .collect(),
            shared: SharedRing {
                ring: Ring::new(shared),
                dropped: crate::loom::sync::atomic::AtomicU64::new(0),
            },
            sites: Sites::new(),
        }
    }
}

/// The P's current M, for events on its ring.
fn m_of(pp: &P) -> Option<usize> {
    let m = pp.m.load(Relaxed);
    (m != usize::MAX).then_some(m)
}

/// Record on P `p`'s ring; the M holding `p` only.
#[cold]
#[inline(never)]
fn on_p_slow(sched: &Sched, kind: Kind, p: usize, task: u64, arg: u64) {
    let Some(r) = sched.trace.rings.get(p) else {
        return;
    };
    let word = pack(kind, Some(p), m_of(&sched.allp[p]), arg);
    r.ring.write(sched.reactor.now_ns(), task, word);
}

/// Record on the shared ring; any thread.
#[cold]
#[inline(never)]
fn shared_slow(sched: &Sched, kind: Kind, p: Option<usize>, m: Option<usize>, task: u64, arg: u64) {
    let m = m.or_else(|| p.and_then(|p| sched.allp.get(p)).and_then(m_of));
    sched
        .trace
        .shared
        .write(sched.reactor.now_ns(), task, pack(kind, p, m, arg));
}

/// Event `kind` on P `p` (task id `task`, 0 for none), from the M holding `p`.
#[inline(always)]
pub(crate) fn on_p(sched: &Sched, kind: Kind, p: usize, task: u64, arg: u64) {
    if sched.trace.on {
        on_p_slow(sched, kind, p, task, arg);
    }
}

/// Event `kind` from a thread holding no P (sysmon, a P-less M, a foreign thread), about P
/// `p` and M `m` where known (`m` defaults to `p`'s current M).
#[inline(always)]
pub(crate) fn shared(
    sched: &Sched,
    kind: Kind,
    p: Option<usize>,
    m: Option<usize>,
    task: u64,
    arg: u64,
) {
    if sched.trace.on {
        shared_slow(sched, kind, p, m, task, arg);
    }
}

/// A poll of `task` starts on P `p` (its M holds `p`); names the task's spawn site. Returns
/// the task's id for [`poll_end`] (0 when off).
#[inline(always)]
pub(crate) fn poll_start(sched: &Sched, p: usize, task: &Notified) -> u64 {
    if sched.trace.on {
        poll_start_slow(sched, p, task.id().as_u64(), task.spawned_at())
    } else {
        0
    }
}

#[cold]
#[inline(never)]
fn poll_start_slow(sched: &Sched, p: usize, id: u64, at: &'static Location<'static>) -> u64 {
    if let Some(r) = sched.trace.rings.get(p) {
        let site = r.sites.get(&sched.trace.sites, at);
        let word = pack(Kind::PollStart, Some(p), m_of(&sched.allp[p]), site.into());
        r.ring.write(sched.reactor.now_ns(), id, word);
    }
    id
}

/// The poll of task `id` (from [`poll_start`], called only when that was not 0) that started
/// on P `p` returned, on M `m`; `kept` if the M still holds `p` (a blocking section in the poll
/// may have lost it: then the event goes to the shared ring).
#[cold]
#[inline(never)]
pub(crate) fn poll_end(sched: &Sched, p: usize, m: usize, id: u64, kept: bool) {
    if kept {
        on_p_slow(sched, Kind::PollEnd, p, id, 0);
    } else {
        shared_slow(sched, Kind::PollEnd, Some(p), Some(m), id, 0);
    }
}

/// `task` was woken: onto P `p` by the M holding it, or (`None`) from a thread without one.
#[inline(always)]
pub(crate) fn wake(sched: &Sched, p: Option<usize>, task: &Notified, is_yield: bool) {
    if sched.trace.on {
        let (id, y) = (task.id().as_u64(), u64::from(is_yield));
        match p {
            Some(p) => on_p_slow(sched, Kind::Wake, p, id, y),
            None => shared_slow(sched, Kind::Wake, None, None, id, y),
        }
    }
}

/// A network poll by M `m` readied `n` tasks: on P `p` if the M holds it. Nothing for 0.
#[inline(always)]
pub(crate) fn netpoll(sched: &Sched, p: Option<usize>, m: usize, n: usize) {
    if sched.trace.on && n > 0 {
        match p {
            Some(p) => on_p_slow(sched, Kind::Netpoll, p, 0, n as u64),
            None => shared_slow(sched, Kind::Netpoll, None, Some(m), 0, n as u64),
        }
    }
}

/// The task running on P `p` enters a blocking section (its M still holds `p`).
#[inline(always)]
pub(crate) fn blocking_enter(sched: &Sched, p: usize) {
    if sched.trace.on {
        let task = sched.allp[p].curg_id.load(Relaxed);
        on_p_slow(sched, Kind::BlockingEnter, p, task, 0);
    }
}

/// A blocking section entered on P `p` returned: `kept` if its M took `p` back (then it holds
/// it again and writes its ring), else the event goes to the shared ring.
#[inline(always)]
pub(crate) fn blocking_exit(sched: &Sched, p: usize, kept: bool) {
    if !sched.trace.on {
    } else if kept {
        let task = sched.allp[p].curg_id.load(Relaxed);
        on_p_slow(sched, Kind::BlockingExit, p, task, 1);
    } else {
        shared_slow(sched, Kind::BlockingExit, Some(p), None, 0, 0);
    }
}

/// An event of sysmon about P `p` (retake, handoff, preempt, rescue), naming the task running
/// there.
pub(crate) fn sysmon(sched: &Sched, kind: Kind, p: usize, arg: u64) {
    if sched.trace.on {
        let task = sched.allp[p].curg_id.load(Relaxed);
        shared_slow(sched, kind, Some(p), None, task, arg);
    }
}

/// Task `id` spawned at `at`, onto the P this thread holds (by its M) or from a thread
/// without one.
#[inline(always)]
pub(crate) fn spawn(sched: &Sched, id: TaskId, at: &'static Location<'static>) {
    if sched.trace.on {
        spawn_slow(sched, id.as_u64(), at);
    }
}

#[cold]
#[inline(never)]
fn spawn_slow(sched: &Sched, id: u64, at: &'static Location<'static>) {
    let p = crate::executor::context::current_p(sched);
    match p.and_then(|p| sched.trace.rings.get(p).map(|r| (p, r))) {
        Some((p, r)) => {
            let site = r.sites.get(&sched.trace.sites, at);
            on_p_slow(sched, Kind::Spawn, p, id, site.into());
        }
        None => {
            let site = sched.trace.sites.intern(at);
            shared_slow(sched, Kind::Spawn, None, None, id, site.into());
        }
    }
}

/// Write the trace to `GMPDEBUG=tracefile=PATH`, if set: at shutdown and on the dump signal.
/// A failure is one line on stderr (never a panic: this runs in `Drop` and in sysmon).
pub(crate) fn write_tracefile(sched: &Sched) {
    let Some(path) = sched.config.debug.tracefile.as_deref() else {
        return;
    };
    if let Err(e) = snapshot::snapshot(sched).write_file(path) {
        crate::executor::wake::report_line(format!(
            "gmp: GMPDEBUG=tracefile: cannot write the trace to {path:?}: {e}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        for kind in Kind::ALL {
            let w = pack(kind, Some(3), None, 1 << 30);
            assert_eq!(unpack(w), Some((kind, Some(3), None, 0xFF_FFFF)));
            let w = pack(kind, None, Some(70_000), 5);
            assert_eq!(unpack(w), Some((kind, None, Some(0xFFFE), 5)));
        }
        assert_eq!(unpack(0), None);
    }
}
