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
//!
//! "Owner only" is a type: [`RunQueue::new`] returns the ring together with its one
//! [`RunqOwner`], and every producer-side method (`runqput`, `runqget`, `kick_runnext`, the
//! destination of `runqsteal`) takes `&mut RunqOwner`. The owner token lives in the P's owned
//! half (`p::PLocal`), which moves between Ms with the right to run the P, so the compiler
//! checks that only the M holding the P pushes. (Debug builds also check the token is this
//! ring's.) Everyone else — thieves, sysmon's rescue, shutdown — uses `&self` methods that only
//! consume from the head.

use super::schedule_impl::Notified;
use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering::*};
use std::marker::PhantomData;
use std::ptr;

/// The producer end of one [`RunQueue`]: the right to write its slots and `tail` and to take
/// its runnext as the owner. Not `Clone`: exactly one exists per ring.
#[derive(Debug)]
pub(crate) struct RunqOwner {
    /// Which ring this token belongs to (checked in debug builds).
    ring: u32,
}

/// Ring ids for the debug check that a token is used with its own ring.
static NEXT_RING: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

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

impl Entry for Notified {
    fn into_ptr(self) -> *mut () {
        self.into_raw().cast()
    }
    unsafe fn from_ptr(p: *mut ()) -> Notified {
        // SAFETY: per the trait contract.
        unsafe { Notified::from_raw(p.cast()) }
    }
}

pub(crate) type DefaultEntry = Notified;

pub(crate) struct RunQueue<T: Entry = DefaultEntry> {
    head: AtomicU32,
    tail: AtomicU32,
    runnext: AtomicPtr<()>,
    ring: Box<[AtomicPtr<()>]>,
    /// This ring's id, matched against its [`RunqOwner`]'s.
    id: u32,
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
    /// A new empty ring and its one owner token.
    pub(crate) fn new() -> (RunQueue<T>, RunqOwner) {
        let id = NEXT_RING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let q = RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            runnext: AtomicPtr::new(ptr::null_mut()),
            ring: (0..RUNQ_SIZE)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            id,
            _entries: PhantomData,
        };
        (q, RunqOwner { ring: id })
    }

    /// Debug builds: `owner` is this ring's token.
    #[inline(always)]
    fn check(&self, owner: &RunqOwner) {
        debug_assert_eq!(
            owner.ring, self.id,
            "runq: a P's owner token used on another P's ring"
        );
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

    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn has_runnext(&self) -> bool {
        !self.runnext.load(Acquire).is_null()
    }

    /// Go's `runqempty`: nothing in the ring and nothing in runnext. It never answers `true`
    /// spuriously while another thread is the owner putting and getting: the owner's
    /// `runqput(next)` moves the old runnext into the ring (bumping `tail`) and its next
    /// `runqget` may empty runnext, so a reader that saw `head == tail` before the kick-out
    /// and runnext empty after the get would miss the kicked task. As in Go, `tail` is read
    /// again after runnext and the answer taken only if it did not move (the model
    /// `loom_is_empty_during_kickout_and_get` checks it). One window remains, as narrow as
    /// the owner's own `kick_runnext` (a preempted chain moved to the back): between its swap
    /// and its push the task is in the owner's hands, and a `true` then is harmless — the
    /// owner is running and runs that task itself.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Acquire);
            let next = self.runnext.load(Acquire);
            if t == self.tail.load(Acquire) {
                return h == t && next.is_null();
            }
        }
    }

    /// Owner only: append `p` at the tail if the ring has room (given the `head` we read);
    /// hands `p` back when it is full.
    fn push_tail(&self, p: *mut (), h: u32) -> Result<(), *mut ()> {
        let t = self.tail.load(Relaxed);
        invariant!(
            t.wrapping_sub(h) <= RUNQ_SIZE as u32,
            "runqput: the ring holds more than its size"
        );
        if t.wrapping_sub(h) < RUNQ_SIZE as u32 {
            self.slot(t).store(p, Relaxed);
            self.tail.store(t.wrapping_add(1), Release);
            Ok(())
        } else {
            Err(p)
        }
    }

    /// Claim the entry at the ring's head (owner or any other thread).
    fn pop_head(&self) -> Option<T> {
        let mut h = self.head.load(Acquire);
        loop {
            let t = self.tail.load(Acquire);
            if t == h {
                return None;
            }
            let p = self.slot(h).load(Relaxed);
            match self
                .head
                .compare_exchange(h, h.wrapping_add(1), AcqRel, Acquire)
            {
                // SAFETY: slot h was claimed by our CAS.
                Ok(_) => return Some(unsafe { T::from_ptr(p) }),
                Err(actual) => h = actual,
            }
        }
    }

    /// Go's `runqput` (owner only). With `next`, the task goes to `runnext` and the task it
    /// displaces to the ring's tail. A full ring sends half of itself plus the task to
    /// `overflow` (Go's `runqputslow`) as one batch.
    pub(crate) fn runqput(
        &self,
        owner: &mut RunqOwner,
        task: T,
        next: bool,
        overflow: impl FnOnce(&mut dyn Iterator<Item = T>),
    ) -> Put {
        self.check(owner);
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
        match self.push_tail(task.into_ptr(), h) {
            Ok(()) => Put::Ring,
            // SAFETY: handed back unchanged by `push_tail`.
            Err(p) => self.runqputslow(unsafe { T::from_ptr(p) }, h, overflow),
        }
    }

    /// Move the oldest half of a full ring, then `task`, to the global queue in one batch. If a
    /// thief moved `head` meanwhile the ring has room again and the task goes there.
    #[cold]
    fn runqputslow(
        &self,
        task: T,
        mut h: u32,
        overflow: impl FnOnce(&mut dyn Iterator<Item = T>),
    ) -> Put {
        let n = (RUNQ_SIZE / 2) as u32;
        let mut task = task.into_ptr();
        loop {
            match self.push_tail(task, h) {
                Ok(()) => return Put::Ring,
                Err(p) => task = p,
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
            // SAFETY: the entry we were asked to put, never published.
            .chain(std::iter::once(unsafe { T::from_ptr(task) }));
        overflow(&mut batch);
        Put::Overflow
    }

    /// Owner only: move runnext to the ring's tail (a preempted chain goes to the back).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn kick_runnext(&self, owner: &mut RunqOwner) {
        self.check(owner);
        if self.runnext.load(Relaxed).is_null() {
            return;
        }
        let next = self.runnext.swap(ptr::null_mut(), AcqRel);
        if next.is_null() {
            return;
        }
        if self.push_tail(next, self.head.load(Acquire)).is_err() {
            // Ring full: leave it where it was.
            self.runnext.store(next, Release);
        }
    }

    /// Go's `runqget` (owner only): runnext first (the caller inherits the time slice), then the
    /// ring's head.
    pub(crate) fn runqget(&self, owner: &mut RunqOwner) -> Option<(T, bool)> {
        self.check(owner);
        if !self.runnext.load(Relaxed).is_null() {
            let next = self.runnext.swap(ptr::null_mut(), AcqRel);
            if !next.is_null() {
                // SAFETY: taken out of runnext by our swap.
                return Some((unsafe { T::from_ptr(next) }, true));
            }
        }
        self.pop_head().map(|t| (t, false))
    }

    /// Go's `runqgrab`: claim half (rounded up) of this ring for a thief and copy the tasks into
    /// `dst`'s ring starting at `dst`'s tail (slots no one else reads). With `steal_runnext`, an
    /// empty ring gives up its runnext instead, after `spare_runnext` had its say. Returns how
    /// many tasks were copied.
    fn runqgrab(
        &self,
        dst: &RunQueue<T>,
        dst_tail: u32,
        steal_runnext: bool,
        spare: impl Fn() -> bool,
    ) -> u32 {
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
        dst_owner: &mut RunqOwner,
        steal_runnext: bool,
        spare_runnext: impl Fn() -> bool,
    ) -> Option<(T, u32)> {
        dst.check(dst_owner);
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
        out.extend(std::iter::from_fn(|| self.pop_head()));
        out
    }
}

impl<T: Entry> Drop for RunQueue<T> {
    fn drop(&mut self) {
        drop(self.drain());
    }
}

#[cfg(loom)]
impl Entry for Box<usize> {
    fn into_ptr(self) -> *mut () {
        Box::into_raw(self).cast()
    }
    unsafe fn from_ptr(p: *mut ()) -> Box<usize> {
        // SAFETY: per the trait contract, `p` came from `Box::into_raw`.
        unsafe { Box::from_raw(p.cast()) }
    }
}

/// Model checks of the ring (capacity 4 under loom). Each test accounts for every entry: each
/// value pushed is taken exactly once — by the owner, a thief, or the overflow batch.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::{Arc, Mutex};
    use loom::thread;

    fn no_overflow(_: &mut dyn Iterator<Item = Box<usize>>) {
        panic!("unexpected overflow");
    }

    /// Owner puts and gets while a thief steals half: nothing lost, nothing duplicated.
    /// WAKEUPS.md step 2 (owner vs thieves on a P's own queue).
    #[test]
    fn loom_put_get_steal() {
        loom::model(|| {
            let (victim, mut vo) = RunQueue::<Box<usize>>::new();
            let victim = Arc::new(victim);
            let v2 = victim.clone();
            let thief = thread::spawn(move || {
                let (mine, mut mo) = RunQueue::<Box<usize>>::new();
                let mut got = Vec::new();
                if let Some((t, _)) = v2.runqsteal(&mine, &mut mo, false, || false) {
                    got.push(*t);
                }
                while let Some((t, _)) = mine.runqget(&mut mo) {
                    got.push(*t);
                }
                got
            });
            for i in 0..3 {
                victim.runqput(&mut vo, Box::new(i), false, no_overflow);
            }
            let mut got = Vec::new();
            while let Some((t, _)) = victim.runqget(&mut vo) {
                got.push(*t);
            }
            got.extend(thief.join().unwrap());
            got.sort();
            assert_eq!(got, vec![0, 1, 2]);
        });
    }

    /// Two thieves race on one victim while its owner keeps consuming.
    /// WAKEUPS.md step 2 (owner vs thieves on a P's own queue).
    #[test]
    fn loom_two_thieves() {
        loom::model(|| {
            let (victim, mut vo) = RunQueue::<Box<usize>>::new();
            let victim = Arc::new(victim);
            for i in 0..4 {
                victim.runqput(&mut vo, Box::new(i), false, no_overflow);
            }
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let v = victim.clone();
                    thread::spawn(move || {
                        let (mine, mut mo) = RunQueue::<Box<usize>>::new();
                        let mut got = Vec::new();
                        if let Some((t, _)) = v.runqsteal(&mine, &mut mo, false, || false) {
                            got.push(*t);
                        }
                        while let Some((t, _)) = mine.runqget(&mut mo) {
                            got.push(*t);
                        }
                        got
                    })
                })
                .collect();
            let mut got = Vec::new();
            if let Some((t, _)) = victim.runqget(&mut vo) {
                got.push(*t);
            }
            for t in thieves {
                got.extend(t.join().unwrap());
            }
            got.extend(victim.drain().into_iter().map(|b| *b));
            got.sort();
            assert_eq!(got, vec![0, 1, 2, 3]);
        });
    }

    /// A full ring sends half plus the new entry to the overflow batch while a thief steals.
    /// WAKEUPS.md step 2 (owner vs thieves on a P's own queue).
    #[test]
    fn loom_overflow_vs_steal() {
        loom::model(|| {
            let (victim, mut vo) = RunQueue::<Box<usize>>::new();
            let victim = Arc::new(victim);
            for i in 0..RUNQ_SIZE {
                victim.runqput(&mut vo, Box::new(i), false, no_overflow);
            }
            let v2 = victim.clone();
            let thief = thread::spawn(move || {
                let (mine, mut mo) = RunQueue::<Box<usize>>::new();
                let mut got = Vec::new();
                if let Some((t, _)) = v2.runqsteal(&mine, &mut mo, false, || false) {
                    got.push(*t);
                }
                got.extend(mine.drain().into_iter().map(|b| *b));
                got
            });
            let global = Mutex::new(Vec::new());
            let put = victim.runqput(&mut vo, Box::new(RUNQ_SIZE), false, |batch| {
                global.lock().unwrap().extend(batch.map(|b| *b));
            });
            let mut got = thief.join().unwrap();
            if put == Put::Overflow {
                assert_eq!(global.lock().unwrap().len(), RUNQ_SIZE / 2 + 1);
            }
            got.extend(global.lock().unwrap().drain(..));
            got.extend(victim.drain().into_iter().map(|b| *b));
            got.sort();
            assert_eq!(got, (0..=RUNQ_SIZE).collect::<Vec<_>>());
        });
    }

    /// runnext: the owner's runqget races a last-round thief; exactly one of them gets it.
    /// WAKEUPS.md step 2 (owner vs thieves on a P's own queue).
    #[test]
    fn loom_runnext_steal_vs_get() {
        loom::model(|| {
            let (victim, mut vo) = RunQueue::<Box<usize>>::new();
            let victim = Arc::new(victim);
            victim.runqput(&mut vo, Box::new(7), true, no_overflow);
            let v2 = victim.clone();
            let thief = thread::spawn(move || {
                let (mine, mut mo) = RunQueue::<Box<usize>>::new();
                v2.runqsteal(&mine, &mut mo, true, || false)
                    .map(|(t, _)| *t)
            });
            let own = victim.runqget(&mut vo).map(|(t, inherit)| {
                assert!(inherit, "runnext inherits the time slice");
                *t
            });
            let stolen = thread_join(thief);
            assert_eq!(own.is_some() as u8 + stolen.is_some() as u8, 1);
        });
    }

    fn thread_join<T>(h: thread::JoinHandle<T>) -> T {
        h.join().unwrap()
    }

    /// A put into runnext displaces the old runnext into the ring; a thief may take either.
    /// WAKEUPS.md step 2 (owner vs thieves on a P's own queue).
    #[test]
    fn loom_runnext_kickout() {
        loom::model(|| {
            let (victim, mut vo) = RunQueue::<Box<usize>>::new();
            let victim = Arc::new(victim);
            victim.runqput(&mut vo, Box::new(1), true, no_overflow);
            let v2 = victim.clone();
            let thief = thread::spawn(move || {
                let (mine, mut mo) = RunQueue::<Box<usize>>::new();
                v2.runqsteal(&mine, &mut mo, true, || false)
                    .map(|(t, _)| *t)
            });
            // Ring when 1 was still in runnext, Runnext when the thief took it first.
            let put = victim.runqput(&mut vo, Box::new(2), true, no_overflow);
            assert!(matches!(put, Put::Ring | Put::Runnext));
            let mut got: Vec<usize> = thread_join(thief).into_iter().collect();
            got.extend(victim.drain().into_iter().map(|b| *b));
            got.sort();
            assert_eq!(got, vec![1, 2]);
        });
    }

    /// Go's `runqempty` race: the owner kicks runnext into the ring, then takes the new
    /// runnext; a reader that looked at `head == tail` before the kick-out and at runnext
    /// after the get must not answer "empty" — a task is queued throughout.
    /// WAKEUPS.md step 2 (owner vs thieves on a P's own queue).
    #[test]
    fn loom_is_empty_during_kickout_and_get() {
        loom::model(|| {
            let (q, mut qo) = RunQueue::<Box<usize>>::new();
            let q = Arc::new(q);
            q.runqput(&mut qo, Box::new(1), true, no_overflow);
            let q2 = q.clone();
            let reader = thread::spawn(move || assert!(!q2.is_empty(), "spurious empty"));
            q.runqput(&mut qo, Box::new(2), true, no_overflow);
            let (t, inherit) = q.runqget(&mut qo).unwrap();
            assert!(inherit && *t == 2);
            reader.join().unwrap();
            assert_eq!(
                q.drain().into_iter().map(|b| *b).collect::<Vec<_>>(),
                vec![1]
            );
        });
    }

    /// Stuck-P rescue: sysmon drains a P's ring and runnext from the thief side while the
    /// stuck M keeps pushing (runnext kick-outs included). Every entry ends up exactly once
    /// either in the drained batch or still in the queue.
    /// WAKEUPS.md step 7 (stuck-P rescue's drain).
    #[test]
    fn loom_rescue_drain_vs_owner_push() {
        loom::model(|| {
            let (q, mut qo) = RunQueue::<Box<usize>>::new();
            let q = Arc::new(q);
            q.runqput(&mut qo, Box::new(0), false, no_overflow);
            let q2 = q.clone();
            let sysmon =
                thread::spawn(move || q2.drain().into_iter().map(|b| *b).collect::<Vec<_>>());
            q.runqput(&mut qo, Box::new(1), true, no_overflow);
            q.runqput(&mut qo, Box::new(2), true, no_overflow);
            let mut got = sysmon.join().unwrap();
            got.extend(q.drain().into_iter().map(|b| *b));
            got.sort();
            assert_eq!(got, vec![0, 1, 2]);
        });
    }
}
