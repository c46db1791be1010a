//! Timers: one 4-ary min-heap per P with lazy deletion (Go's `p.timers`).
//!
//! Why a heap and not a wheel: see the closing note of the reactor issue, and the timer
//! benchmarks against tokio's wheel in `benches/net_time.rs` (`timers_100k`,
//! `timers_cancel_1m`, `timers_cancel_pending_100k`; figures in BENCHMARKS.md) — adding is
//! O(log₄ n) with no allocation beyond the shared entry (none when a recycled one is at
//! hand), cancelling is O(1) (a state flip; the entry leaves the heap when it reaches the top
//! or at the next cleanup), and firing order is exact to the nanosecond, with no 1ms
//! rounding.
//!
//! Invariants:
//! - A timer entry is `Waiting` until exactly one of: the heap owner fires it (`Fired`, then
//!   its waker is woken), its `Sleep` is dropped/reset (`Cancelled`), or runtime shutdown
//!   wakes it (`Shut`). The transition is a CAS, so a timer is never both fired and
//!   cancelled, and the winner alone touches the waker from then on.
//! - `when` of a P caches the heap's earliest deadline (`u64::MAX` when empty) and is updated
//!   under the heap lock; anyone may read it to decide whether to look.
//! - Cancelled entries are counted; when they exceed a quarter of the heap it is rebuilt without
//!   them (Go's `adjusttimers`), so a million dropped timeouts give their memory back. The count
//!   (`deleted`) changes only by atomic read-modify-writes: `cancel` counts outside the heap
//!   lock, so a plain load/store elsewhere would lose its update.
//! - A cancel that wins drops the entry's waker at once: a dead timeout in the heap holds no
//!   reference on its task.
//! - Entries are recycled: a cancelled entry that leaves the heap (it surfaces in `run`, or
//!   `clean` drops it) after its `Sleep` let go of it — the heap's reference is the only one
//!   (`Arc::get_mut`) — goes to its P's pool, under the heap lock, up to [`pool_cap`]; `add`
//!   takes from the pool before it allocates. A timeout that is set and cancelled (hyper's
//!   header-read timer, `timeout` around a call that returns in time) then costs no
//!   allocation, and no free on another thread's malloc arena. An entry in the pool is
//!   `Waiting`, and nobody else can see it.

use crate::executor::task::atomic_waker::AtomicWaker;
use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use std::task::Waker;

const WAITING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;
/// Woken by runtime shutdown ([`Timers::clear`]) without firing: its `Sleep` stays pending.
const SHUT: u8 = 3;

/// Recycled entries kept per P (about 48 bytes each) beyond a quarter of its live timers:
/// a heap of n live timers cleans when n / 4 + 16 are cancelled, and the pool takes them all.
const POOL_MIN: usize = 64;

/// How many recycled entries a P with `live` timers keeps.
fn pool_cap(live: usize) -> usize {
    POOL_MIN + live / 4
}

/// The state shared by a `Sleep` and its heap entry.
pub(crate) struct TimerEntry {
    state: AtomicU8,
    waker: AtomicWaker,
    /// The P whose heap holds it (for cancellation accounting).
    p: usize,
}

impl TimerEntry {
    pub(crate) fn is_fired(&self) -> bool {
        self.state.load(Acquire) == FIRED
    }

    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// A `Sleep`'s poll: true if the timer fired; otherwise `waker` is registered so that the
    /// firing wakes it (registered before the re-check, so a firing in between is not lost).
    pub(crate) fn poll_fired(&self, waker: &Waker) -> bool {
        if self.is_fired() {
            return true;
        }
        self.register(waker);
        self.is_fired()
    }
}

struct HeapItem {
    when: u64,
    entry: Arc<TimerEntry>,
}

#[derive(Default)]
struct Heap {
    items: Vec<HeapItem>,
    /// Recycled entries (see the module docs), each unshared and `Waiting`.
    pool: Vec<Arc<TimerEntry>>,
}

impl Heap {
    fn push(&mut self, item: HeapItem) {
        self.items.push(item);
        self.sift_up(self.items.len() - 1);
    }

    fn pop(&mut self) -> Option<HeapItem> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.items[0], last);
        self.sift_down(0);
        Some(top)
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.items[i].when >= self.items[parent].when {
                break;
            }
            self.items.swap(i, parent);
            i = parent;
        }
    }

    /// Move item `i` down to its place. The items it passes move up one level each; it is
    /// compared by its deadline, read once, and swapped down level by level.
    fn sift_down(&mut self, mut i: usize) {
        let items = &mut self.items[..];
        let n = items.len();
        let when = items[i].when;
        loop {
            let first = 4 * i + 1;
            if first >= n {
                return;
            }
            let kids = &items[first..(first + 4).min(n)];
            let (mut min, mut min_when) = (0, kids[0].when);
            for (c, k) in kids.iter().enumerate().skip(1) {
                if k.when < min_when {
                    (min, min_when) = (c, k.when);
                }
            }
            if min_when >= when {
                return;
            }
            items.swap(i, first + min);
            i = first + min;
        }
    }

    fn when(&self) -> u64 {
        self.items.first().map_or(u64::MAX, |t| t.when)
    }

    /// Keep a cancelled entry that left the heap for reuse, if the heap's reference was the
    /// last one and the pool holds fewer than `cap`; otherwise just release the reference.
    fn recycle(&mut self, mut entry: Arc<TimerEntry>, cap: usize) {
        if self.pool.len() >= cap {
            return;
        }
        if let Some(e) = Arc::get_mut(&mut entry) {
            // Its waker cell is empty (the winning cancel took the waker), and `entry`
            // replaces the whole cell anyway.
            e.state = AtomicU8::new(WAITING);
            self.pool.push(entry);
        }
    }

    /// A `Waiting` entry for P `p` holding `waker`: a recycled one, or a new one.
    fn entry(&mut self, p: usize, waker: Waker) -> Arc<TimerEntry> {
        match self.pool.pop() {
            Some(mut entry) => {
                let e = Arc::get_mut(&mut entry).expect("a pooled timer entry is unshared");
                e.waker = AtomicWaker::with_waker(waker);
                e.p = p;
                entry
            }
            None => Arc::new(TimerEntry {
                state: AtomicU8::new(WAITING),
                waker: AtomicWaker::with_waker(waker),
                p,
            }),
        }
    }

    /// Drop cancelled entries (`deleted` of them, about) and re-heapify (Go's
    /// `adjusttimers`/`cleantimers`); returns how many were dropped.
    #[cold]
    #[inline(never)]
    fn clean(&mut self, deleted: usize) -> usize {
        let before = self.items.len();
        // The live timers, about (the count may lag a cancel in flight): sizes the pool.
        let cap = pool_cap(before.saturating_sub(deleted));
        // Order does not matter here: the heap is rebuilt below.
        let mut i = 0;
        while i < self.items.len() {
            if self.items[i].entry.state.load(Acquire) == WAITING {
                i += 1;
            } else {
                let item = self.items.swap_remove(i);
                self.recycle(item.entry, cap);
            }
        }
        // A heap that shrank keeps a pool to match.
        self.pool.truncate(cap);
        if self.pool.capacity() > 2 * cap {
            self.pool.shrink_to(cap);
        }
        let removed = before - self.items.len();
        if self.items.capacity() > 64 && self.items.len() < self.items.capacity() / 4 {
            self.items.shrink_to(self.items.len() * 2);
        }
        for i in (0..self.items.len()).rev() {
            self.sift_down(i);
        }
        removed
    }
}

/// One P's timers.
pub(crate) struct Timers {
    heap: Mutex<Heap>,
    /// Earliest deadline in the heap (Go's `timer0When`), `u64::MAX` when empty.
    when: AtomicU64,
    /// Cancelled entries still in the heap.
    deleted: AtomicUsize,
    /// Entries in the heap (for metrics).
    len: AtomicUsize,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            heap: Mutex::new(Heap::default()),
            when: AtomicU64::new(u64::MAX),
            deleted: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
        }
    }

    /// Earliest deadline, `u64::MAX` for none.
    #[inline]
    pub(crate) fn when(&self) -> u64 {
        self.when.load(SeqCst)
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// Add a timer firing at `when` (P `p` is this heap's P) that wakes `waker`. Returns the
    /// entry. The waker is in the entry before the heap publishes it, so the `Sleep` adding it
    /// need not register and re-check: a firing right after the push finds it.
    pub(crate) fn add(&self, p: usize, when: u64, waker: Waker) -> Arc<TimerEntry> {
        let mut heap = lock(&self.heap);
        self.clean_if_worth_it(&mut heap);
        let entry = heap.entry(p, waker);
        heap.push(HeapItem {
            when,
            entry: entry.clone(),
        });
        self.len.store(heap.items.len(), Relaxed);
        self.when.store(heap.when(), SeqCst);
        entry
    }

    /// Rebuild the heap without its cancelled entries once they are more than a quarter of
    /// it (and 16); the caller holds the heap lock. The check runs on every `add` and every
    /// firing `run`: inlined, with the cleaning itself out of line.
    #[inline(always)]
    fn clean_if_worth_it(&self, heap: &mut Heap) {
        let deleted = self.deleted.load(Relaxed);
        if deleted > heap.items.len() / 4 + 16 {
            let removed = heap.clean(deleted);
            self.deleted.fetch_sub(removed, Relaxed);
        }
    }

    /// Cancel a timer (its `Sleep` was dropped or reset). O(1): the entry stays in the heap
    /// until it surfaces or the heap is cleaned.
    ///
    /// Returns true if this call cancelled it: then it never fires and its waker is never woken
    /// by `run`. False if it had fired already (its waker is being or was woken: a spurious
    /// wake for a dropped `Sleep`, harmless), was cancelled before, or was woken by runtime
    /// shutdown (`clear`).
    pub(crate) fn cancel(&self, entry: &TimerEntry) -> bool {
        // Fired (a `Sleep` dropped after it completed, the common case) or cancelled already:
        // both are final, so the CAS below would fail. Leave the shared count alone.
        if entry.state.load(Acquire) != WAITING {
            return false;
        }
        // Counted before the CAS publishes the cancellation, so whoever later removes the entry
        // (it surfaces in `run`, or `clean` drops it) sees the count and never underflows it.
        self.deleted.fetch_add(1, Relaxed);
        if entry
            .state
            .compare_exchange(WAITING, CANCELLED, AcqRel, Acquire)
            .is_ok()
        {
            // It will never be woken: let go of the task now, not when the entry leaves the
            // heap (a dead timeout would keep a finished task's memory until a clean).
            // SAFETY: the waker cell of an entry is touched by its `Sleep` (this caller), by
            // `run` and `clear` only after their CAS out of WAITING wins (ours did), and by
            // the heap owner's `recycle` only once the `Sleep` let go: nobody else now.
            drop(unsafe { entry.waker.take_unsynced() });
            true
        } else {
            self.deleted.fetch_sub(1, Relaxed);
            false
        }
    }

    /// Fire every timer due at `now`; returns the next deadline (`u64::MAX` for none).
    pub(crate) fn run(&self, now: u64) -> u64 {
        if self.when() > now {
            return self.when();
        }
        let mut due = Vec::new();
        let next = {
            let mut heap = lock(&self.heap);
            while heap.when() <= now {
                let Some(item) = heap.pop() else { break };
                if item
                    .entry
                    .state
                    .compare_exchange(WAITING, FIRED, AcqRel, Acquire)
                    .is_ok()
                {
                    due.push(item.entry);
                } else {
                    // A cancelled entry surfaced: it no longer counts as deleted-in-heap. (An
                    // RMW: a `cancel` of another entry counts concurrently, outside the lock.)
                    self.deleted.fetch_sub(1, Relaxed);
                    let cap = pool_cap(heap.items.len());
                    heap.recycle(item.entry, cap);
                }
            }
            self.clean_if_worth_it(&mut heap);
            self.len.store(heap.items.len(), Relaxed);
            let next = heap.when();
            self.when.store(next, SeqCst);
            next
        };
        for entry in due {
            entry.waker.wake();
        }
        next
    }

    /// Drop every entry (runtime shutdown), waking the sleeps of those still waiting so they
    /// notice (marked `SHUT`, not fired: the sleep does not complete).
    pub(crate) fn clear(&self) {
        let items = {
            let mut heap = lock(&self.heap);
            heap.pool = Vec::new();
            std::mem::take(&mut heap.items)
        };
        self.when.store(u64::MAX, SeqCst);
        self.len.store(0, Relaxed);
        for item in items {
            // Cancelled ones have nobody to wake (and their cancel took the waker).
            if item
                .entry
                .state
                .compare_exchange(WAITING, SHUT, AcqRel, Acquire)
                .is_ok()
            {
                item.entry.waker.wake();
            }
        }
    }
}

impl TimerEntry {
    pub(crate) fn p(&self) -> usize {
        self.p
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn heap_fires_in_order_and_skips_cancelled() {
        let t = Timers::new();
        let mut entries = Vec::new();
        for w in [50u64, 10, 40, 20, 30, 60, 5] {
            entries.push((w, t.add(0, w, futures_task::noop_waker())));
        }
        // cancel 40
        t.cancel(&entries[2].1);
        assert_eq!(t.when(), 5);
        assert_eq!(t.run(25), 30);
        let fired: Vec<u64> = entries
            .iter()
            .filter(|(_, e)| e.is_fired())
            .map(|(w, _)| *w)
            .collect();
        assert_eq!(fired, vec![10, 20, 5]);
        assert_eq!(t.run(100), u64::MAX);
        assert!(!entries[2].1.is_fired());
        assert_eq!(t.len(), 0);
    }

    /// The 4-ary heap pops in deadline order, whatever the pushes (duplicates, runs, every
    /// heap size from 0 to 1,000 crossed on the way up and down).
    #[test]
    fn heap_pops_in_deadline_order() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % 500
        };
        let entry = Arc::new(TimerEntry {
            state: AtomicU8::new(WAITING),
            waker: AtomicWaker::new(),
            p: 0,
        });
        let mut heap = Heap::default();
        let mut model = Vec::new();
        for round in 0..4 {
            for _ in 0..1_000 {
                let when = next();
                model.push(when);
                heap.push(HeapItem {
                    when,
                    entry: entry.clone(),
                });
            }
            model.sort_unstable();
            // Pop all but a few each round, so the next round pushes onto a non-empty heap.
            let keep = round * 3;
            let popped: Vec<u64> = (0..model.len() - keep)
                .map(|_| heap.pop().expect("an item").when)
                .collect();
            assert_eq!(popped, model[..model.len() - keep], "round {round}");
            model.drain(..model.len() - keep);
            assert_eq!(heap.items.len(), keep);
        }
    }

    /// A cancel that wins drops the waker at once (the entry stays in the heap until it
    /// surfaces, holding no reference on the task), and the surfacing wakes nothing.
    #[test]
    fn a_cancelled_timer_lets_go_of_its_waker() {
        let t = Timers::new();
        let (count, waker) = crate::loom::counting_waker();
        let e = t.add(0, 100, waker);
        assert_eq!(
            std::sync::Arc::strong_count(&count),
            2,
            "the entry holds the waker"
        );
        assert!(t.cancel(&e));
        assert_eq!(
            std::sync::Arc::strong_count(&count),
            1,
            "a cancelled entry still holds its waker"
        );
        assert_eq!(t.len(), 1, "the entry stays in the heap until it surfaces");
        assert_eq!(t.run(200), u64::MAX);
        assert_eq!(count.0.load(SeqCst), 0, "a cancelled timer was woken");
    }

    /// A set-and-cancelled timeout is recycled: once its `Sleep` let go and the heap dropped
    /// it, the next `add` on that P gets the same allocation, waiting, with the new waker
    /// only; an entry its `Sleep` still holds is never reused.
    #[test]
    fn cancelled_entries_are_reused() {
        let t = Timers::new();
        let (old_count, old_waker) = crate::loom::counting_waker();
        let held = t.add(0, 10, futures_task::noop_waker());
        let dropped = t.add(0, 20, old_waker);
        let dropped_at = Arc::as_ptr(&dropped);
        assert!(t.cancel(&held));
        assert!(t.cancel(&dropped));
        drop(dropped);
        // Both surface; only the one nobody holds goes to the pool.
        assert_eq!(t.run(30), u64::MAX);
        assert_eq!(lock(&t.heap).pool.len(), 1);
        let (count, waker) = crate::loom::counting_waker();
        let reused = t.add(0, 40, waker);
        assert_eq!(
            Arc::as_ptr(&reused),
            dropped_at,
            "the pooled entry was not reused"
        );
        assert!(!Arc::ptr_eq(&reused, &held));
        assert!(!reused.is_fired());
        assert_eq!(t.run(50), u64::MAX);
        assert!(reused.is_fired());
        assert_eq!(
            count.0.load(SeqCst),
            1,
            "the reused entry did not wake its new waker"
        );
        assert_eq!(old_count.0.load(SeqCst), 0, "the old waker was woken");
        assert!(!held.is_fired(), "a held cancelled entry was reused");
        assert_eq!(t.deleted.load(SeqCst), 0);
    }

    /// Cleaning recycles too: a clean's worth of entries while timers live, and no more
    /// than `POOL_MIN` once the heap is empty.
    #[test]
    fn the_pool_is_bounded() {
        let t = Timers::new();
        let live: Vec<_> = (0..800u64)
            .map(|i| t.add(0, 1_000_000 + i, futures_task::noop_waker()))
            .collect();
        for e in (0..1_000u64)
            .map(|i| t.add(0, 1_000 + i, futures_task::noop_waker()))
            .collect::<Vec<_>>()
        {
            assert!(t.cancel(&e));
        }
        // The next add cleans the heap (1,000 unheld cancelled entries) and takes one.
        let _e = t.add(0, 1, futures_task::noop_waker());
        assert_eq!(t.len(), 801);
        assert_eq!(lock(&t.heap).pool.len(), pool_cap(800) - 1);
        for e in &live {
            assert!(t.cancel(e));
        }
        drop(live);
        // This add cleans again (one live timer left) and takes one.
        let _f = t.add(0, 2, futures_task::noop_waker());
        assert_eq!(t.len(), 2);
        let heap = lock(&t.heap);
        assert_eq!(heap.pool.len(), POOL_MIN - 1);
        assert!(heap.pool.capacity() <= 2 * POOL_MIN);
        drop(heap);
        assert_eq!(t.deleted.load(SeqCst), 0);
    }

    #[test]
    fn mass_cancellation_gives_memory_back() {
        let t = Timers::new();
        let entries: Vec<_> = (0..100_000u64)
            .map(|i| t.add(0, 1_000_000 + i, futures_task::noop_waker()))
            .collect();
        for e in &entries {
            t.cancel(e);
        }
        drop(entries);
        // The next add cleans the heap.
        let _e = t.add(0, 1, futures_task::noop_waker());
        assert_eq!(t.len(), 1);
        assert!(lock(&t.heap).items.capacity() < 1000);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::counting_waker;

    /// Cancelled entries still in the heap (what `deleted` must equal once nobody races).
    fn cancelled_in_heap(t: &Timers) -> usize {
        lock(&t.heap)
            .items
            .iter()
            .filter(|i| i.entry.state.load(SeqCst) == CANCELLED)
            .count()
    }

    /// A `Sleep` dropped (cancel) while the poller fires its timer: exactly one of them wins;
    /// a won cancel means the waker is never woken, a fire wakes it exactly once; the heap's
    /// reference is released either way and the deleted-count matches the heap.
    /// WAKEUPS.md step 5 (timers).
    #[test]
    fn loom_timer_cancel_vs_fire() {
        loom::model(|| {
            let t = Arc::new(Timers::new());
            // Born with its waker, as a `Sleep`'s first poll adds it.
            let (count, waker) = counting_waker();
            let e = t.add(0, 10, waker);
            let t2 = t.clone();
            let poller = loom::thread::spawn(move || {
                t2.run(20);
            });
            let cancelled = t.cancel(&e);
            let woken_at_cancel = count.0.load(SeqCst);
            poller.join().unwrap();
            let fired = e.is_fired();
            assert!(cancelled ^ fired, "exactly one of cancel and fire wins");
            if cancelled {
                assert_eq!(woken_at_cancel, 0);
                assert_eq!(count.0.load(SeqCst), 0, "a cancelled timer was woken");
            } else {
                assert_eq!(count.0.load(SeqCst), 1, "a fired timer is woken once");
            }
            assert_eq!(Arc::strong_count(&e), 1, "the heap still holds the entry");
            assert_eq!(t.len(), 0);
            assert_eq!(t.when(), u64::MAX);
            assert_eq!(t.deleted.load(SeqCst), cancelled_in_heap(&t));
        });
    }

    /// A `Sleep` polled (check, register, re-check) while its timer fires: the poll sees the
    /// firing or is woken for it. A timer fires at most once even with two pollers (a busy M's
    /// `checkTimers` and a thief's timer steal) running the heap at once.
    /// WAKEUPS.md step 5 (timers).
    #[test]
    fn loom_sleep_poll_vs_fire() {
        loom::model(|| {
            let t = Arc::new(Timers::new());
            let e = t.add(0, 10, futures_task::noop_waker());
            let (count, waker) = counting_waker();
            let (t2, t3) = (t.clone(), t.clone());
            let p1 = loom::thread::spawn(move || {
                t2.run(20);
            });
            let p2 = loom::thread::spawn(move || {
                t3.run(20);
            });
            let seen = e.poll_fired(&waker);
            p1.join().unwrap();
            p2.join().unwrap();
            assert!(e.is_fired());
            let woken = count.0.load(SeqCst);
            assert!(seen || woken == 1, "firing lost: not seen, not woken");
            assert!(woken <= 1, "fired twice");
            assert_eq!(Arc::strong_count(&e), 1);
        });
    }

    /// A `Sleep` dropped (cancel, then its reference released) while the poller fires or
    /// surfaces its entry, then a new timer added: if the entry was recycled, the new timer
    /// gets it only once nobody else holds it, and the old waker is never woken by the new
    /// timer's firing. WAKEUPS.md step 5 (timers).
    #[test]
    fn loom_recycled_entry_vs_fire() {
        loom::model(|| {
            let t = Arc::new(Timers::new());
            let (old, old_waker) = counting_waker();
            let e = t.add(0, 10, old_waker);
            let t2 = t.clone();
            let poller = loom::thread::spawn(move || {
                t2.run(20);
            });
            let cancelled = t.cancel(&e);
            drop(e);
            poller.join().unwrap();
            let old_wakes = old.0.load(SeqCst);
            assert_eq!(old_wakes, usize::from(!cancelled), "woken unless cancelled");
            let (new, new_waker) = counting_waker();
            let e2 = t.add(0, 30, new_waker);
            assert_eq!(Arc::strong_count(&e2), 2, "a reused entry was still shared");
            t.run(40);
            assert!(e2.is_fired());
            assert_eq!(new.0.load(SeqCst), 1);
            assert_eq!(
                old.0.load(SeqCst),
                old_wakes,
                "the old waker was woken again"
            );
            assert_eq!(t.deleted.load(SeqCst), 0);
        });
    }

    /// A `Sleep` dropped while runtime shutdown clears the heap: exactly one of them wins the
    /// entry; the waker is woken once if the shutdown won, never if the cancel did, and the
    /// cancel's unlocked take of the waker never overlaps the shutdown's wake (loom checks the
    /// cell's accesses). WAKEUPS.md step 5 (timers).
    #[test]
    fn loom_cancel_vs_shutdown_clear() {
        loom::model(|| {
            let t = Arc::new(Timers::new());
            let (count, waker) = counting_waker();
            let e = t.add(0, 10, waker);
            let t2 = t.clone();
            let shutdown = loom::thread::spawn(move || t2.clear());
            let cancelled = t.cancel(&e);
            shutdown.join().unwrap();
            assert_eq!(count.0.load(SeqCst), usize::from(!cancelled));
            assert!(!e.is_fired(), "shutdown fired a timer");
            assert_eq!(t.len(), 0);
        });
    }

    /// Cancel-accounting: a cancel racing the poller that pops an earlier cancelled entry (and
    /// updates `deleted`) is never lost, so lazy deletion keeps an exact count of the dead
    /// entries it must clean (memory is given back).
    /// WAKEUPS.md step 5 (timers).
    #[test]
    fn loom_cancel_vs_surfaced_cancelled() {
        loom::model(|| {
            let t = Arc::new(Timers::new());
            let early = t.add(0, 10, futures_task::noop_waker());
            let late = t.add(0, 100, futures_task::noop_waker());
            assert!(t.cancel(&early));
            let t2 = t.clone();
            let poller = loom::thread::spawn(move || {
                t2.run(20);
            });
            assert!(t.cancel(&late));
            poller.join().unwrap();
            assert_eq!(t.len(), 1);
            assert_eq!(t.deleted.load(SeqCst), cancelled_in_heap(&t));
            assert_eq!(t.deleted.load(SeqCst), 1);
            assert_eq!(Arc::strong_count(&early), 1);
        });
    }
}
