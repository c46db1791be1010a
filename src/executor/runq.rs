//! A P's local run queue: a bounded ring of 256 slots plus the `runnext` slot (Go's `p.runq`,
//! `p.runqhead`, `p.runqtail`, `p.runnext`).
//!
//! Invariants:
//! - Only the P's owner (the M holding the P) writes slots and `tail`; `tail` is published with
//!   release, so a consumer that reads `tail` with acquire sees every slot below it.
//! - Consumers (the owner in `runqget`, thieves in `runqgrab`) claim slots `[head, head+n)` with
//!   one CAS on `head`. A thief reads the slots *before* its CAS; the owner never rewrites a slot
//!   in `[head, head+256)`, so if the CAS succeeds the values it read were still the queued ones.
//!   Slots are `AtomicPtr`s, so a read racing the owner's rewrite of a slot that was already
//!   consumed is a plain atomic load whose value is discarded with the failed CAS — Go's
//!   copy-before-CAS, without the data race that would be undefined behaviour in Rust.
//! - `runnext` holds at most one task; the owner `swap`s it, a thief takes it by CAS and only in
//!   the last steal round.
//! - Every pointer in a slot or in `runnext` is a [`Notified`] that owns one task reference.

#[cfg(not(loom))]
use super::task::Notified;
use std::marker::PhantomData;
use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering::*};
use std::ptr;

/// Ring capacity (Go: 256). Shrunk under loom to keep the model small.
#[cfg(not(loom))]
pub(crate) const RUNQ_SIZE: usize = 256;
#[cfg(loom)]
pub(crate) const RUNQ_SIZE: usize = 4;

const MASK: u32 = RUNQ_SIZE as u32 - 1;

/// What a run queue holds: an owned pointer-sized entry (a task's queue reference; boxed
/// integers in the loom models).
pub(crate) trait Entry: Send {
    fn into_ptr(self) -> *mut ();
    /// # Safety
    /// `p` comes from `into_ptr` and is adopted exactly once.
    unsafe fn from_ptr(p: *mut ()) -> Self;
}

#[cfg(not(loom))]
impl Entry for Notified {
    fn into_ptr(self) -> *mut () {
        self.into_raw().cast()
    }
    unsafe fn from_ptr(p: *mut ()) -> Notified {
        // SAFETY: per the trait contract.
        unsafe { Notified::from_raw(p.cast()) }
    }
}

#[cfg(not(loom))]
pub(crate) type DefaultEntry = Notified;
#[cfg(loom)]
pub(crate) type DefaultEntry = Box<usize>;

pub(crate) struct RunQueue<T: Entry = DefaultEntry> {
    head: AtomicU32,
    tail: AtomicU32,
    runnext: AtomicPtr<()>,
    ring: Box<[AtomicPtr<()>]>,
    // Entries are `Send` and move between threads through the atomics; the queue is shared.
    _entries: PhantomData<fn(T) -> T>,
}

/// Where `runqput` left the task.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Put {
    /// Into an empty `runnext`: the owner runs it next; no reason to wake a peer.
    Runnext,
    /// Into the ring (possibly a task kicked out of runnext): stealable work, wake a peer.
    Ring,
    /// The ring was full: half of it plus the task went to the global queue as one batch.
    Overflow,
}

impl<T: Entry> RunQueue<T> {
    pub(crate) fn new() -> RunQueue<T> {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            runnext: AtomicPtr::new(ptr::null_mut()),
            ring: (0..RUNQ_SIZE)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            _entries: PhantomData,
        }
    }

    fn slot(&self, i: u32) -> &AtomicPtr<()> {
        &self.ring[(i & MASK) as usize]
    }

    /// Tasks in the ring (runnext excluded); a racy snapshot for anyone but the owner.
    pub(crate) fn len(&self) -> usize {
        let h = self.head.load(Acquire);
        let t = self.tail.load(Acquire);
        (t.wrapping_sub(h) as usize).min(RUNQ_SIZE)
    }

    pub(crate) fn has_runnext(&self) -> bool {
        !self.runnext.load(Acquire).is_null()
    }

    /// Go's `runqempty`: nothing in the ring and nothing in runnext.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0 && !self.has_runnext()
    }

    /// Go's `runqput` (owner only). With `next`, the task goes to `runnext` and the task it
    /// displaces to the ring's tail. A full ring sends half of itself plus the task to
    /// `overflow` (Go's `runqputslow`) as one batch.
    pub(crate) fn runqput(
        &self,
        task: T,
        next: bool,
        overflow: impl FnOnce(&mut dyn Iterator<Item = T>),
    ) -> Put {
        let mut task = task;
        if next {
            let old = self.runnext.swap(task.into_ptr(), AcqRel);
            if old.is_null() {
                return Put::Runnext;
            }
            // SAFETY: a non-null runnext is a queue entry we now own.
            task = unsafe { T::from_ptr(old) };
        }
        let h = self.head.load(Acquire);
        let t = self.tail.load(Relaxed);
        if t.wrapping_sub(h) < RUNQ_SIZE as u32 {
            self.slot(t).store(task.into_ptr(), Relaxed);
            self.tail.store(t.wrapping_add(1), Release);
            return Put::Ring;
        }
        self.runqputslow(task, h, t, overflow)
    }

    /// Move the oldest half of a full ring, then `task`, to the global queue in one batch. If a
    /// thief moved `head` meanwhile the ring has room again and the task goes there.
    #[cold]
    fn runqputslow(
        &self,
        task: T,
        mut h: u32,
        t: u32,
        overflow: impl FnOnce(&mut dyn Iterator<Item = T>),
    ) -> Put {
        let n = (RUNQ_SIZE / 2) as u32;
        loop {
            if t.wrapping_sub(h) < RUNQ_SIZE as u32 {
                self.slot(t).store(task.into_ptr(), Relaxed);
                self.tail.store(t.wrapping_add(1), Release);
                return Put::Ring;
            }
            match self
                .head
                .compare_exchange(h, h.wrapping_add(n), AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => h = actual,
            }
        }
        // Slots [h, h+n) are ours now; only the owner (us) ever rewrites them.
        let mut batch = (0..n)
            .map(|i| {
                let p = self.slot(h.wrapping_add(i)).load(Relaxed);
                // SAFETY: claimed by our CAS on head; each holds a queue entry.
                unsafe { T::from_ptr(p) }
            })
            .chain(std::iter::once(task));
        overflow(&mut batch);
        Put::Overflow
    }

    /// Go's `runqget` (owner only): runnext first (the caller inherits the time slice), then the
    /// ring's head.
    pub(crate) fn runqget(&self) -> Option<(T, bool)> {
        if !self.runnext.load(Relaxed).is_null() {
            let next = self.runnext.swap(ptr::null_mut(), AcqRel);
            if !next.is_null() {
                // SAFETY: taken out of runnext by our swap.
                return Some((unsafe { T::from_ptr(next) }, true));
            }
        }
        let mut h = self.head.load(Acquire);
        loop {
            let t = self.tail.load(Relaxed);
            if t == h {
                return None;
            }
            let p = self.slot(h).load(Relaxed);
            match self
                .head
                .compare_exchange(h, h.wrapping_add(1), AcqRel, Acquire)
            {
                // SAFETY: slot h was claimed by our CAS.
                Ok(_) => return Some((unsafe { T::from_ptr(p) }, false)),
                Err(actual) => h = actual,
            }
        }
    }

    /// Go's `runqgrab`: claim half (rounded up) of this ring for a thief and copy the tasks into
    /// `dst`'s ring starting at `dst`'s tail (slots no one else reads). With `steal_runnext`, an
    /// empty ring gives up its runnext instead, after `spare_runnext` had its say. Returns how
    /// many tasks were copied.
    fn runqgrab(&self, dst: &RunQueue<T>, dst_tail: u32, steal_runnext: bool, spare: impl Fn() -> bool) -> u32 {
        let mut h = self.head.load(Acquire);
        loop {
            let t = self.tail.load(Acquire);
            let n = t.wrapping_sub(h);
            let n = n - n / 2;
            if n == 0 {
                if steal_runnext {
                    let next = self.runnext.load(Acquire);
                    if !next.is_null()
                        && !spare()
                        && self
                            .runnext
                            .compare_exchange(next, ptr::null_mut(), AcqRel, Acquire)
                            .is_ok()
                    {
                        dst.slot(dst_tail).store(next, Relaxed);
                        return 1;
                    }
                }
                return 0;
            }
            if n > (RUNQ_SIZE / 2) as u32 {
                // Read head and tail inconsistently; try again.
                h = self.head.load(Acquire);
                continue;
            }
            for i in 0..n {
                let p = self.slot(h.wrapping_add(i)).load(Relaxed);
                dst.slot(dst_tail.wrapping_add(i)).store(p, Relaxed);
            }
            match self
                .head
                .compare_exchange(h, h.wrapping_add(n), AcqRel, Acquire)
            {
                Ok(_) => return n,
                Err(actual) => h = actual,
            }
        }
    }

    /// Go's `runqsteal` (called by `dst`'s owner): steal half of `self` into `dst` and return
    /// one task to run. `spare_runnext` returns true to leave the victim's runnext alone.
    pub(crate) fn runqsteal(
        &self,
        dst: &RunQueue<T>,
        steal_runnext: bool,
        spare_runnext: impl Fn() -> bool,
    ) -> Option<(T, u32)> {
        let t = dst.tail.load(Relaxed);
        let n = self.runqgrab(dst, t, steal_runnext, spare_runnext);
        if n == 0 {
            return None;
        }
        let last = t.wrapping_add(n - 1);
        let p = dst.slot(last).load(Relaxed);
        // SAFETY: slot `last` was filled by our grab with a queue entry we own.
        let task = unsafe { T::from_ptr(p) };
        if n > 1 {
            dst.tail.store(last, Release);
        }
        Some((task, n))
    }

    /// Take every queued task out (any thread; used at shutdown).
    pub(crate) fn drain(&self) -> Vec<T> {
        let mut out = Vec::new();
        let next = self.runnext.swap(ptr::null_mut(), AcqRel);
        if !next.is_null() {
            // SAFETY: taken out of runnext by our swap.
            out.push(unsafe { T::from_ptr(next) });
        }
        let mut h = self.head.load(Acquire);
        loop {
            let t = self.tail.load(Acquire);
            if t == h {
                return out;
            }
            let p = self.slot(h).load(Relaxed);
            match self
                .head
                .compare_exchange(h, h.wrapping_add(1), AcqRel, Acquire)
            {
                // SAFETY: slot h was claimed by our CAS.
                Ok(_) => out.push(unsafe { T::from_ptr(p) }),
                Err(actual) => h = actual,
            }
        }
    }
}

impl<T: Entry> Drop for RunQueue<T> {
    fn drop(&mut self) {
        drop(self.drain());
    }
}
