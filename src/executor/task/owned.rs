//! The owned-task list (Go's `allgs`): every live task that has been polled, so shutdown can
//! reach the ones that sit in no queue (waiting on a waker), and observability can list them.
//!
//! Invariants:
//! - A task enters the list when its **first poll returns `Pending`**, by the M that polled
//!   it, into the shard of the P it was polled on, before the M gives up `RUNNING`. Until then
//!   its only homes are the queue entry spawn made (runnext, a ring, the global queue), where
//!   shutdown reaches it by draining the queues (`raw::shutdown_queued`), and then the M
//!   polling it; the first-poll record of the P it runs on ([`super::first_poll`]) shows it to
//!   dumps meanwhile. So a spawn takes
//!   no shared lock, a task that finishes in its first poll (a short spawned job, most of a
//!   `chained_spawn`) never takes one, and a task's entry is written and, usually, removed by
//!   the same P: no cache line of the list moves between cores for it.
//! - Each listed task's entry (one word) owns one reference. A task not yet listed holds that
//!   reference itself (`owned_key == UNLISTED`), so completing costs the same two references
//!   either way. Tasks cancelled before their first poll, and tasks whose first poll finished
//!   them, end unlisted.
//! - Sharded by P (a P's M is the only thread entering tasks into its shard; others only remove
//!   from it). Once closed (runtime shutdown), entering fails and the M cancels the task itself;
//!   and an M does not start the first poll of a task once the list is closed
//!   ([`OwnedTasks::is_closed`]), as it would not before a task could be listed.
//! - Counts: the shard counts tasks that entered and left it (under its lock); the per-P
//!   counters count spawns and the tasks that ended unlisted. Each P's counters are written
//!   only by the thread holding that P (`context::current_p`), the last slot (no P) atomically.

use super::core::Header;
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64};
use crate::loom::sync::Mutex;
use std::ptr::NonNull;

/// `owned_key` of a task that has not been entered yet (it holds the list's reference itself).
pub(crate) const UNLISTED: usize = usize::MAX;
/// `owned_key` is `shard << SLOT_BITS | slab key`.
const SLOT_BITS: u32 = 40;

struct Shard {
    tasks: TaskSlab,
    closed: bool,
    /// Tasks entered so far.
    entered: u64,
    /// Tasks that left the list completed (with output or panic), and cancelled.
    completed: u64,
    cancelled: u64,
}

/// A slab of task pointers at one word per slot (the `slab` crate's entries are two): an
/// occupied slot holds the header's address (8-aligned, so even and non-zero), a vacant one
/// `next_vacant << 1 | 1`. Freed slots are reused last-in first-out, so a P that enters and
/// removes tasks in turn keeps touching the same few cache lines.
struct TaskSlab {
    slots: Vec<usize>,
    /// First vacant slot, or `NO_SLOT`.
    vacant: usize,
    len: usize,
}

const NO_SLOT: usize = usize::MAX >> 1;

impl TaskSlab {
    fn new() -> TaskSlab {
        TaskSlab {
            slots: Vec::new(),
            vacant: NO_SLOT,
            len: 0,
        }
    }

    fn insert(&mut self, ptr: NonNull<Header>) -> usize {
        let addr = ptr.as_ptr() as usize;
        debug_assert_eq!(addr & 1, 0, "task headers are word-aligned");
        self.len += 1;
        if self.vacant == NO_SLOT {
            self.slots.push(addr);
            return self.slots.len() - 1;
        }
        let key = self.vacant;
        self.vacant = self.slots[key] >> 1;
        self.slots[key] = addr;
        key
    }

    /// Vacate slot `key` if it holds `ptr`.
    fn remove(&mut self, key: usize, ptr: NonNull<Header>) -> bool {
        match self.slots.get_mut(key) {
            Some(slot) if *slot == ptr.as_ptr() as usize => {
                *slot = self.vacant << 1 | 1;
                self.vacant = key;
                self.len -= 1;
                true
            }
            _ => false,
        }
    }

    fn iter(&self) -> impl Iterator<Item = NonNull<Header>> + '_ {
        self.slots.iter().filter_map(|&v| occupied(v))
    }

    fn drain(&mut self) -> impl Iterator<Item = NonNull<Header>> {
        self.vacant = NO_SLOT;
        self.len = 0;
        std::mem::take(&mut self.slots)
            .into_iter()
            .filter_map(occupied)
    }
}

/// The task in a slot's word, if the slot is occupied.
fn occupied(v: usize) -> Option<NonNull<Header>> {
    if v & 1 == 0 {
        NonNull::new(v as *mut Header)
    } else {
        None
    }
}

/// One shard per pair of cache lines, so that Ps entering tasks into their own shards never
/// share a line (a `Mutex<Shard>` is ~72 bytes).
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// A P's counters (see the module invariants), on their own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Counts {
    spawned: AtomicU64,
    /// Cancelled before their first poll (so never listed).
    cancelled: AtomicU64,
    /// Finished by their first poll (output or panic; so never listed).
    completed: AtomicU64,
}

pub(crate) struct OwnedTasks {
    shards: Box<[Padded]>,
    mask: usize,
    /// One per P, then one shared by threads holding no P.
    counts: Box<[Counts]>,
    /// Set by `close_and_drain` before it closes the shards: no first poll starts after it.
    closed: AtomicBool,
}

/// Add one to a counter: a plain load and store for the P's own slot (only its holder writes
/// it), an atomic add for the shared slot.
fn bump(c: &AtomicU64, shared: bool) {
    if shared {
        c.fetch_add(1, Relaxed);
    } else {
        // Only this counter's owner writes it (as the P owner counters, `p::OwnerCounter`).
        c.store(c.load(Relaxed) + 1, Relaxed);
    }
}

impl OwnedTasks {
    /// A list for `nallp` Ps (reserve Ps included).
    pub(crate) fn new(nallp: usize) -> OwnedTasks {
        let n = nallp.max(4).next_power_of_two();
        OwnedTasks {
            shards: (0..n)
                .map(|_| {
                    Padded(Mutex::new(Shard {
                        tasks: TaskSlab::new(),
                        closed: false,
                        entered: 0,
                        completed: 0,
                        cancelled: 0,
                    }))
                })
                .collect(),
            mask: n - 1,
            counts: (0..=nallp).map(|_| Counts::default()).collect(),
            closed: AtomicBool::new(false),
        }
    }

    /// The counters of P `p`, or the shared ones; and whether they are shared.
    fn counts(&self, p: Option<usize>) -> (&Counts, bool) {
        match p {
            Some(p) if p + 1 < self.counts.len() => (&self.counts[p], false),
            _ => (&self.counts[self.counts.len() - 1], true),
        }
    }

    /// Count a spawn by the holder of P `p` (or by a thread without one).
    pub(crate) fn note_spawn(&self, p: Option<usize>) {
        let (c, shared) = self.counts(p);
        bump(&c.spawned, shared);
    }

    /// True once shutdown has closed the list: the runner of a task not yet listed cancels it
    /// instead of starting its first poll. (A relaxed load of a word written once: a first
    /// poll that races the close is caught by `insert` failing afterwards.)
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// Enter a task whose first poll returned `Pending` into P `p`'s shard (the P it was
    /// polled on); false once the list is closed.
    ///
    /// The caller holds the task's `RUNNING` bit and `owned_key == UNLISTED`: the reference the
    /// task held for the list passes to the entry.
    pub(crate) fn insert(&self, ptr: NonNull<Header>, p: usize) -> bool {
        // SAFETY: the caller (the runner) holds a reference.
        let header = unsafe { ptr.as_ref() };
        let shard = p & self.mask;
        let mut guard = crate::loom::lock(&self.shards[shard].0);
        if guard.closed {
            return false;
        }
        let key = guard.tasks.insert(ptr);
        guard.entered += 1;
        drop(guard);
        assert!(
            key < 1 << SLOT_BITS,
            "gmp: more than 2^40 live tasks in one shard"
        );
        header.owned_key.store(shard << SLOT_BITS | key, Relaxed);
        true
    }

    /// A task finished (the caller holds `RUNNING`). True when the caller now holds the list's
    /// reference: the task was listed and is taken out, or was never listed. False when
    /// shutdown already drained it (and took that reference). Counted as completed or
    /// cancelled either way. `p` gives the P this thread holds; it is asked only for a task
    /// never listed (cancelled before its first poll, or finished by it), whose count goes to
    /// that P's counters: no lock.
    pub(crate) fn remove(
        &self,
        ptr: NonNull<Header>,
        cancelled: bool,
        p: impl FnOnce() -> Option<usize>,
    ) -> bool {
        // SAFETY: the caller holds a reference.
        let header = unsafe { ptr.as_ref() };
        let key = header.owned_key.load(Relaxed);
        if key == UNLISTED {
            let (c, shared) = self.counts(p());
            bump(
                if cancelled {
                    &c.cancelled
                } else {
                    &c.completed
                },
                shared,
            );
            return true;
        }
        let (shard, slot) = (key >> SLOT_BITS, key & ((1 << SLOT_BITS) - 1));
        let mut shard = crate::loom::lock(&self.shards[shard].0);
        if shard.tasks.remove(slot, ptr) {
            if cancelled {
                shard.cancelled += 1;
            } else {
                shard.completed += 1;
            }
            true
        } else {
            false
        }
    }

    /// Close every shard and take all tasks out; each returned pointer carries its list reference.
    pub(crate) fn close_and_drain(&self) -> Vec<NonNull<Header>> {
        self.closed.store(true, Relaxed);
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = crate::loom::lock(&shard.0);
            shard.closed = true;
            out.extend(shard.tasks.drain());
        }
        out
    }

    /// Tasks spawned by the holder of P `p` (or by threads without one).
    pub(crate) fn spawned(&self, p: Option<usize>) -> u64 {
        self.counts(p).0.spawned.load(Relaxed)
    }

    /// Tasks spawned, by anyone.
    pub(crate) fn spawned_total(&self) -> u64 {
        self.counts.iter().map(|c| c.spawned.load(Relaxed)).sum()
    }

    /// Tasks spawned and not listed: never polled (they sit in run queues), or in their first
    /// poll (the Ms' first-poll records show those). The per-P counters are read without a
    /// lock, so a snapshot taken while tasks move can be off by the few in flight.
    pub(crate) fn unpolled(&self) -> usize {
        let entered: u64 = self
            .shards
            .iter()
            .map(|s| crate::loom::lock(&s.0).entered)
            .sum();
        self.unpolled_given(entered)
    }

    fn unpolled_given(&self, entered: u64) -> usize {
        let (mut spawned, mut gone) = (0u64, entered);
        for c in self.counts.iter() {
            spawned += c.spawned.load(Relaxed);
            gone += c.cancelled.load(Relaxed) + c.completed.load(Relaxed);
        }
        spawned.saturating_sub(gone) as usize
    }

    /// Number of live tasks: the listed ones plus those not listed yet (see [`Self::unpolled`]).
    pub(crate) fn len(&self) -> usize {
        let (listed, entered) = self.shards.iter().fold((0, 0), |(n, e), s| {
            let s = crate::loom::lock(&s.0);
            (n + s.tasks.len, e + s.entered)
        });
        listed + self.unpolled_given(entered)
    }

    /// Tasks completed and cancelled so far.
    pub(crate) fn finished(&self) -> (u64, u64) {
        let (done, cancelled) = self.counts.iter().fold((0, 0), |(c, x), n| {
            (c + n.completed.load(Relaxed), x + n.cancelled.load(Relaxed))
        });
        self.shards.iter().fold((done, cancelled), |(c, x), s| {
            let s = crate::loom::lock(&s.0);
            (c + s.completed, x + s.cancelled)
        })
    }

    /// Visit every listed task under its shard lock (for task dumps).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for shard in self.shards.iter() {
            let shard = crate::loom::lock(&shard.0);
            for t in shard.tasks.iter() {
                // SAFETY: listed tasks are alive: the list holds a reference.
                f(unsafe { t.as_ref() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_slab_reuses_vacant_slots_and_lists_the_occupied() {
        // Addresses only (never dereferenced): word-aligned, as headers are.
        let p = |n: usize| NonNull::new((n * 64) as *mut Header).unwrap();
        let mut s = TaskSlab::new();
        let keys: Vec<usize> = (1..=4).map(|n| s.insert(p(n))).collect();
        assert_eq!(keys, [0, 1, 2, 3]);
        assert!(s.remove(1, p(2)));
        assert!(!s.remove(1, p(2)), "already vacant");
        assert!(!s.remove(0, p(2)), "another task's slot");
        assert!(!s.remove(9, p(1)), "out of range");
        assert!(s.remove(3, p(4)));
        assert_eq!(s.len, 2);
        assert_eq!(s.insert(p(5)), 3, "last vacated first");
        assert_eq!(s.insert(p(6)), 1);
        assert_eq!(s.insert(p(7)), 4);
        let mut listed: Vec<usize> = s.iter().map(|t| t.as_ptr() as usize / 64).collect();
        listed.sort();
        assert_eq!(listed, [1, 3, 5, 6, 7]);
        assert_eq!(s.drain().count(), 5);
        assert_eq!((s.len, s.iter().count()), (0, 0));
        assert_eq!(s.insert(p(8)), 0);
    }
}
