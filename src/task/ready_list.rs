//! The notified list of a [`JoinSet`](super::JoinSet): which of its tasks have finished, in
//! the order they finished, so that `join_next` never polls a handle that has nothing to give.
//!
//! Every entry of the set has an [`EntryWaker`], registered as its task's join waker. When the
//! task completes, the runner wakes it, and the wake appends the entry's `(key, generation)` to
//! the list and wakes whoever waits in `join_next`. Invariants:
//! - An entry is in the list at most once: its `notified` flag is set (under the list's lock)
//!   by the wake that appends it and cleared by the set when it takes the entry out, *before*
//!   it polls the handle. A completion after that clear appends the entry again; one before it
//!   is seen by the poll (the join waker protocol re-checks completion after registering).
//! - The list holds plain `(key, generation)` pairs, never an `EntryWaker`: wakers live in the
//!   tasks and in the set, the list in both, so no reference cycle can keep a dropped set
//!   alive. A pair whose entry has gone (or whose key was reused: the generation differs) is
//!   skipped by the set.
//! - The set's waiter is stored under the same lock the wakes append under, so a completion
//!   is never missed between "the list is empty" and "register the waiter".

use crate::loom::lock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

/// What the set and its wakers share.
#[derive(Default)]
pub(super) struct ReadyList {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Finished entries, oldest completion first.
    ready: VecDeque<(usize, u64)>,
    /// The task waiting in `join_next`, if any.
    waiter: Option<Waker>,
}

impl ReadyList {
    /// The oldest finished entry; when there is none, `waiter` (if given) is woken by the next.
    pub(super) fn pop(&self, waiter: Option<&Waker>) -> Option<(usize, u64)> {
        let mut inner = lock(&self.inner);
        let next = inner.ready.pop_front();
        if next.is_none() {
            if let Some(w) = waiter {
                match &mut inner.waiter {
                    Some(old) if old.will_wake(w) => {}
                    slot => *slot = Some(w.clone()),
                }
            }
        }
        next
    }

    /// Forget every finished entry (the set dropped or detached them all).
    pub(super) fn clear(&self) {
        let mut inner = lock(&self.inner);
        inner.ready.clear();
        inner.waiter = None;
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        lock(&self.inner).ready.len()
    }
}

/// One entry's join waker: waking it reports the entry as finished.
pub(super) struct EntryWaker {
    list: Arc<ReadyList>,
    key: usize,
    generation: u64,
    /// In the list now (see the module's invariants).
    notified: AtomicBool,
}

impl EntryWaker {
    pub(super) fn new(list: Arc<ReadyList>, key: usize, generation: u64) -> EntryWaker {
        EntryWaker {
            list,
            key,
            generation,
            notified: AtomicBool::new(false),
        }
    }

    /// The set took the entry out of the list and is about to poll its handle.
    pub(super) fn clear_notified(&self) {
        self.notified.store(false, SeqCst);
    }

    /// Append the entry to the list (once) and wake the set's waiter.
    pub(super) fn notify(&self) {
        let waiter = {
            let mut inner = lock(&self.list.inner);
            if self.notified.swap(true, SeqCst) {
                return;
            }
            inner.ready.push_back((self.key, self.generation));
            inner.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.notify();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_out_in_wake_order_once_each() {
        let list = Arc::new(ReadyList::default());
        let a = Arc::new(EntryWaker::new(list.clone(), 0, 0));
        let b = Arc::new(EntryWaker::new(list.clone(), 1, 1));
        Waker::from(b.clone()).wake_by_ref();
        Waker::from(a.clone()).wake_by_ref();
        Waker::from(b.clone()).wake(); // already in the list: no second entry
        assert_eq!(list.len(), 2);
        assert_eq!(list.pop(None), Some((1, 1)));
        b.clear_notified();
        Waker::from(b.clone()).wake_by_ref(); // taken out: a new wake appends it again
        assert_eq!(list.pop(None), Some((0, 0)));
        assert_eq!(list.pop(None), Some((1, 1)));
        assert_eq!(list.pop(None), None);
    }

    #[test]
    fn waiter_is_woken_by_the_next_entry() {
        struct Flag(AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, SeqCst);
            }
        }
        let list = Arc::new(ReadyList::default());
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        assert_eq!(list.pop(Some(&Waker::from(flag.clone()))), None);
        assert!(!flag.0.load(SeqCst));
        EntryWaker::new(list.clone(), 3, 9).notify();
        assert!(flag.0.load(SeqCst));
        assert_eq!(list.pop(None), Some((3, 9)));
    }
}
