//! The record of a task in its first poll, for dumps: a task enters the owned-task list
//! (allgs) only when its first poll returns `Pending` (`owned`), so during that poll no list
//! shows it. Each P has one record (`P::first_poll`, reached through
//! `Schedule::first_poll_record`); the runtime keeps the records of first polls whose P was
//! handed off in a blocking section in a list of its own (`Sched::lost_first_polls`).
//!
//! Protocol:
//! - The runner fills the record of the P it polls on before the poll ([`FirstPoll::set`]),
//!   and empties it after ([`FirstPoll::clear_if`], a CAS on the task's id). The CAS fails
//!   only if the record was taken meanwhile: the P was handed off during a blocking section
//!   in the poll, and whoever handed it off moved the record to the lost list
//!   ([`FirstPoll::take`], under that list's lock, before the P could reach another M). The
//!   runner then removes its entry from that list, under the same lock, so it finds it there.
//!   A dump reads the Ps' records under that lock too, so a record on its way from a P to the
//!   list is seen in exactly one of the two.
//! - `id` is written last (release) and taken or cleared first; a reader loads it (acquire),
//!   then the rest, then `id` again, and keeps the record only if both loads agree and are
//!   non-zero. A record may still be torn if one first poll ends and the next starts in
//!   between (the reader then reports the new task's id with the old one's fields): dumps are
//!   racy reads anyway, exact only while nothing moves.
//! - `at` only ever holds a pointer made from a `&'static Location`, or null.

use crate::loom::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::loom::sync::atomic::{AtomicPtr, AtomicU64};
use std::panic::Location;
use std::ptr;

/// The task a P (or a runner) is polling for the first time, if any (see the module docs).
pub(crate) struct FirstPoll {
    /// The task's id; 0 when there is none.
    id: AtomicU64,
    /// Where it was spawned.
    at: AtomicPtr<Location<'static>>,
    /// When it was spawned (ns since the runtime's epoch, as `Header::born_ns`).
    born_ns: AtomicU64,
    /// When the poll started (the scheduler's coarse clock).
    since: AtomicU64,
}

/// A [`FirstPoll`] as read by a dump, or moved to the lost list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FirstPollInfo {
    pub(crate) id: u64,
    pub(crate) at: &'static Location<'static>,
    pub(crate) born_ns: u64,
    pub(crate) since: u64,
}

impl FirstPoll {
    pub(crate) fn new() -> FirstPoll {
        FirstPoll {
            id: AtomicU64::new(0),
            at: AtomicPtr::new(ptr::null_mut()),
            born_ns: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// The runner is about to poll task `id` for the first time.
    #[inline]
    pub(crate) fn set(&self, id: u64, at: &'static Location<'static>, born_ns: u64, since: u64) {
        self.at.store(ptr::from_ref(at).cast_mut(), Relaxed);
        self.born_ns.store(born_ns, Relaxed);
        self.since.store(since, Relaxed);
        self.id.store(id, Release);
    }

    /// Task `id`'s first poll returned: empty the record if it still names the task. False if
    /// it was taken meanwhile (moved to the lost list: see the module docs).
    #[inline]
    pub(crate) fn clear_if(&self, id: u64) -> bool {
        self.id.compare_exchange(id, 0, Relaxed, Relaxed).is_ok()
    }

    /// Take the record out (for the lost list), if there is one and it is not cleared first.
    pub(crate) fn take(&self) -> Option<FirstPollInfo> {
        let info = self.read()?;
        self.clear_if(info.id).then_some(info)
    }

    /// The record, if a first poll is under way (racy: see the module docs).
    pub(crate) fn read(&self) -> Option<FirstPollInfo> {
        let id = self.id.load(Acquire);
        if id == 0 {
            return None;
        }
        let at = self.at.load(Relaxed);
        let (born_ns, since) = (self.born_ns.load(Relaxed), self.since.load(Relaxed));
        if self.id.load(Acquire) != id || at.is_null() {
            return None;
        }
        // SAFETY: `at` is non-null, and every non-null value stored in it was made from a
        // `&'static Location` (`set` is the only writer): it points to a live, immutable
        // `Location` for the rest of the program.
        let at = unsafe { &*at };
        Some(FirstPollInfo {
            id,
            at,
            born_ns,
            since,
        })
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::loom::sync::{Arc, Mutex};
    use loom::thread;

    /// The protocol of the module docs, on one P: a runner's first poll (set, then clear or
    /// drop its entry from the lost list) races the hand-off of its P (take the record into
    /// the lost list, under the list's lock). Whatever the order, nothing is left behind — no
    /// record on the P, no entry in the lost list — and while the poll runs its record is in
    /// exactly one of the two places. Without the lock around `take` + push, loom finds the
    /// interleaving where the runner looks in the list before the entry is pushed (a stale
    /// entry that dumps would list for ever).
    #[test]
    fn loom_first_poll_end_vs_lost_p() {
        loom::model(|| {
            let at = Location::caller();
            let record = Arc::new(FirstPoll::new());
            let lost: Arc<Mutex<Vec<FirstPollInfo>>> = Arc::new(Mutex::new(Vec::new()));
            record.set(7, at, 0, 0);
            let handoff = {
                let (record, lost) = (record.clone(), lost.clone());
                thread::spawn(move || {
                    let mut list = crate::loom::lock(&lost);
                    if let Some(t) = record.take() {
                        list.push(t);
                    }
                })
            };
            // The poll is still running: a dump (which reads the P's record under the list's
            // lock) finds its record on the P or in the list, not both, and not neither.
            {
                let list = crate::loom::lock(&lost);
                let on_p = record.read().is_some();
                let listed = list.iter().any(|t| t.id == 7);
                assert!(
                    on_p != listed,
                    "a running first poll recorded twice, or not at all"
                );
            }
            // The poll returns.
            if !record.clear_if(7) {
                crate::loom::lock(&lost).retain(|t| t.id != 7);
            }
            handoff.join().unwrap();
            assert!(record.read().is_none(), "a record left on the P");
            assert!(crate::loom::lock(&lost).is_empty(), "a stale lost entry");
        });
    }
}
