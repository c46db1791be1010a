//! The global run queue (Go's `sched.runq`): single tasks pushed lock-free, batches under a
//! lock.
//!
//! Two parts, because the traffic comes in two shapes:
//! - **Single tasks** — spawns and wakes from threads holding no P — go to `inbox`,
//!   crossbeam's lock-free `SegQueue`: a thread spawning 10,000 tasks from outside never
//!   waits for an M taking work out. (A lock here made `spawn_many_remote_idle` 1.45-1.56x
//!   slower: the spawner slept on the contended lock. One shared count of both parts, added
//!   to per push, still cost it 1.18x.)
//! - **Batches** — a full ring's overflow (`runqputslow`: half a ring and one), `injectglist`'s
//!   share of a netpoll or timer batch — go to `batches`, a deque under a lock: one
//!   acquisition and a copy, where the lock-free queue pays a compare-and-swap per task.
//!   Takers (`globrunqget`'s fair share) take a batch out under one acquisition, too. Go keeps
//!   this shape for all of it: `sched.runq` is a list under `sched.lock`.
//!
//! Invariants:
//! - `len` counts the batches' tasks; the inbox counts its own. A batch push adds to `len`
//!   (SeqCst) *after* its tasks are in the deque, and a taker subtracts after taking, so `len`
//!   can lag a push in flight (and dip below zero: tasks taken before their pusher counted
//!   them), never run ahead of what can be taken once the pushes in flight finish. A push of
//!   either kind is thus visible to `is_empty` (SeqCst loads of `len` and of the inbox's
//!   indices) before the pusher looks for idle Ps (`wakep_after_push`), and a parker's
//!   `is_empty` after it published itself idle sees every push that did not see it
//!   (WAKEUPS.md step 1).
//! - Nothing but the deque's own moves happens under the lock: a batch taken out goes to the
//!   caller's buffer, which files it in its ring after the lock is released.
//! - Order: each part is FIFO. A taker of several takes from both (up to half from the inbox
//!   first), so neither starves the other.
//! - Memory: the deque keeps its capacity between bursts, up to [`KEEP`] entries; a pop that
//!   empties a larger one gives the rest back. The inbox frees its blocks as it drains.
//!
//! Anyone may call anything. Under loom both parts are loom mutexes around deques, so the
//! models explore every push, pop and emptiness check as a synchronisation point.

use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicIsize, Ordering::SeqCst};
use crate::loom::sync::Mutex;
use std::collections::VecDeque;

/// Capacity `batches` keeps once empty again (entries; a word each).
const KEEP: usize = 4096;

#[cfg(not(loom))]
type Inbox<T> = crossbeam_queue::SegQueue<T>;

/// Under loom: a loom mutex around a deque, with the `SegQueue` calls used here.
#[cfg(loom)]
struct Inbox<T>(Mutex<VecDeque<T>>);

#[cfg(loom)]
impl<T> Inbox<T> {
    fn new() -> Inbox<T> {
        Inbox(Mutex::new(VecDeque::new()))
    }
    fn push(&self, value: T) {
        lock(&self.0).push_back(value);
    }
    fn pop(&self) -> Option<T> {
        lock(&self.0).pop_front()
    }
    fn is_empty(&self) -> bool {
        lock(&self.0).is_empty()
    }
    fn len(&self) -> usize {
        lock(&self.0).len()
    }
}

/// The global run queue; see the module docs.
pub(crate) struct GlobalQueue<T> {
    /// Tasks in `batches` (see the invariants: may lag a push, or dip below zero).
    len: AtomicIsize,
    inbox: Inbox<T>,
    batches: Mutex<VecDeque<T>>,
}

impl<T> GlobalQueue<T> {
    pub(crate) fn new() -> GlobalQueue<T> {
        GlobalQueue {
            len: AtomicIsize::new(0),
            inbox: Inbox::new(),
            batches: Mutex::new(VecDeque::new()),
        }
    }

    /// Append one task (lock-free; the inbox counts itself).
    pub(crate) fn push(&self, value: T) {
        self.inbox.push(value);
    }

    /// Append a batch, in order, under one acquisition.
    pub(crate) fn push_batch(&self, batch: &mut dyn Iterator<Item = T>) {
        let mut q = lock(&self.batches);
        let before = q.len();
        q.extend(batch);
        let added = q.len() - before;
        drop(q);
        self.len.fetch_add(added as isize, SeqCst);
    }

    /// Take one task (the inbox's oldest, else the batches').
    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        if let Some(t) = self.inbox.pop() {
            return Some(t);
        }
        let t = lock(&self.batches).pop_front()?;
        self.len.fetch_sub(1, SeqCst);
        Some(t)
    }

    /// Take a task and append up to `n - 1` more to `out`, in order: up to half from the
    /// inbox (at least one), then the batches under one acquisition of their lock, then the
    /// inbox again to fill. Nothing else happens under the lock. `None` when both are empty.
    /// (No emptiness check first: its one caller, `globrunqget`, has just read `len`; on an
    /// empty queue this costs two failed inbox pops and a load.)
    pub(crate) fn pop_batch(&self, n: usize, out: &mut Vec<T>) -> Option<T> {
        let n = n.max(1);
        let start = out.len();
        self.take_inbox(n.div_ceil(2), out);
        let have = out.len() - start;
        if have < n && self.len.load(SeqCst) > 0 {
            let mut q = lock(&self.batches);
            let k = (n - have).min(q.len());
            out.extend(q.drain(..k));
            if q.is_empty() && q.capacity() > KEEP {
                q.shrink_to(KEEP);
            }
            drop(q);
            self.len.fetch_sub(k as isize, SeqCst);
        }
        let have = out.len() - start;
        if have < n {
            self.take_inbox(n - have, out);
        }
        if out.len() == start {
            return None;
        }
        // The first taken goes to the caller to run; the rest stay in `out`, in order.
        Some(out.remove(start))
    }

    /// Move up to `k` inbox tasks to `out` (lock-free pops).
    fn take_inbox(&self, k: usize, out: &mut Vec<T>) {
        for _ in 0..k {
            match self.inbox.pop() {
                Some(t) => out.push(t),
                None => break,
            }
        }
    }

    /// True when no task is queued, or the only ones are still being pushed (no lock).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(SeqCst) <= 0 && self.inbox.is_empty()
    }

    /// Tasks queued (a snapshot; 0 while the count dips below zero).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(SeqCst).max(0) as usize + self.inbox.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn both_parts_are_taken_in_order_and_counted() {
        let q = GlobalQueue::new();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
        q.push(100);
        q.push(101);
        q.push_batch(&mut (0..6));
        assert_eq!(q.len(), 8);
        let mut rest = Vec::new();
        // Half of four from the inbox, then the batches.
        assert_eq!(q.pop_batch(4, &mut rest), Some(100));
        assert_eq!(rest, [101, 0, 1]);
        assert_eq!(q.len(), 4);
        rest.clear();
        // More asked for than there are: all of them.
        assert_eq!(q.pop_batch(100, &mut rest), Some(2));
        assert_eq!(rest, [3, 4, 5]);
        assert!(q.is_empty());
        rest.clear();
        assert_eq!(q.pop_batch(3, &mut rest), None);
        assert!(rest.is_empty());
        q.push_batch(&mut (7..8));
        q.push(9);
        assert_eq!(q.pop(), Some(9));
        assert_eq!(q.pop(), Some(7));
        assert_eq!(q.pop(), None);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn neither_part_starves() {
        let q = GlobalQueue::new();
        q.push_batch(&mut (0..1000));
        let mut rest = Vec::new();
        for i in 0..100 {
            q.push(10_000 + i);
            let first = q.pop_batch(2, &mut rest).expect("a task");
            rest.push(first);
        }
        let (inbox, batches) = rest.iter().partition::<Vec<i32>, _>(|&&t| t >= 10_000);
        assert!(!inbox.is_empty() && !batches.is_empty());
    }

    #[test]
    fn emptied_batches_give_capacity_back() {
        let q = GlobalQueue::new();
        q.push_batch(&mut (0..100_000usize));
        assert_eq!(q.len(), 100_000);
        let (mut n, mut rest) = (0, Vec::new());
        while q.pop_batch(128, &mut rest).is_some() {
            n += 1 + rest.len();
            rest.clear();
        }
        assert_eq!(n, 100_000);
        assert!(lock(&q.batches).capacity() <= KEEP);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;

    /// A single push and a batch push racing a batch pop: every task is taken exactly once, and
    /// once the pushers are done the count says what is left (`is_empty` is never true while a
    /// finished push's task is still queued). WAKEUPS.md step 1 relies on the second.
    #[test]
    fn loom_global_queue_pushes_vs_batch_pop() {
        loom::model(|| {
            let q = Arc::new(GlobalQueue::new());
            let (q1, q2) = (q.clone(), q.clone());
            let single = loom::thread::spawn(move || q1.push(1u32));
            let batch = loom::thread::spawn(move || q2.push_batch(&mut (2..4u32)));
            let mut got = Vec::new();
            if let Some(t) = q.pop_batch(2, &mut got) {
                got.push(t);
            }
            single.join().unwrap();
            batch.join().unwrap();
            let left = q.len();
            assert_eq!(got.len() + left, 3, "the count after the pushes");
            assert_eq!(q.is_empty(), left == 0);
            while let Some(t) = q.pop() {
                got.push(t);
            }
            got.sort_unstable();
            assert_eq!(got, [1, 2, 3], "a task lost or taken twice");
            assert!(q.is_empty());
            assert_eq!(q.len(), 0);
        });
    }
}
