//! The owned-task list (Go's `allgs`): every live task, so shutdown can reach the ones that sit
//! in no queue (waiting on a waker), and observability can count them.
//!
//! Sharded by task id so that spawning and completing on different Ps rarely share a lock. Each
//! entry owns one reference on its task. Once closed (runtime shutdown), inserts fail and the
//! spawner cancels the new task itself.

use super::core::Header;
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::Mutex;
use slab::Slab;
use std::ptr::NonNull;

struct Shard {
    tasks: Slab<TaskPtr>,
    closed: bool,
    /// Tasks that left the list completed (with output or panic), and cancelled.
    completed: u64,
    cancelled: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct TaskPtr(NonNull<Header>);
// SAFETY: a pointer to a task header, whose shared state is synchronised by its atomics.
unsafe impl Send for TaskPtr {}

/// One shard per pair of cache lines, so that Ps spawning and completing into different
/// shards never share a line (a `Mutex<Shard>` is ~72 bytes).
#[repr(align(128))]
struct Padded(Mutex<Shard>);

pub(crate) struct OwnedTasks {
    shards: Box<[Padded]>,
    mask: usize,
}

impl OwnedTasks {
    pub(crate) fn new(procs: usize) -> OwnedTasks {
        let n = (procs * 4).next_power_of_two().min(256);
        OwnedTasks {
            shards: (0..n)
                .map(|_| {
                    Padded(Mutex::new(Shard {
                        tasks: Slab::new(),
                        closed: false,
                        completed: 0,
                        cancelled: 0,
                    }))
                })
                .collect(),
            mask: n - 1,
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        &self.shards[header.id.0 as usize & self.mask].0
    }

    /// Enter a new task; false once the list is closed.
    pub(crate) fn insert(&self, ptr: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference.
        let header = unsafe { ptr.as_ref() };
        let mut shard = crate::loom::lock(self.shard(header));
        if shard.closed {
            return false;
        }
        let key = shard.tasks.insert(TaskPtr(ptr));
        header.owned_key.store(key, Relaxed);
        true
    }

    /// Remove a finished task; true when it was still listed (its list reference passes to
    /// the caller). Counted as completed or cancelled, under the shard lock already taken.
    pub(crate) fn remove(&self, ptr: NonNull<Header>, cancelled: bool) -> bool {
        // SAFETY: the caller holds a reference.
        let header = unsafe { ptr.as_ref() };
        let key = header.owned_key.load(Relaxed);
        if key == usize::MAX {
            return false;
        }
        let mut shard = crate::loom::lock(self.shard(header));
        if shard.tasks.get(key) == Some(&TaskPtr(ptr)) {
            shard.tasks.remove(key);
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
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = crate::loom::lock(&shard.0);
            shard.closed = true;
            out.extend(shard.tasks.drain().map(|t| t.0));
        }
        out
    }

    /// Number of live tasks.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| crate::loom::lock(&s.0).tasks.len())
            .sum()
    }

    /// Tasks completed and cancelled so far.
    pub(crate) fn finished(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(c, x), s| {
            let s = crate::loom::lock(&s.0);
            (c + s.completed, x + s.cancelled)
        })
    }

    /// Visit every live task under its shard lock (for task dumps).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for shard in self.shards.iter() {
            let shard = crate::loom::lock(&shard.0);
            for (_, t) in shard.tasks.iter() {
                // SAFETY: listed tasks are alive: the list holds a reference.
                f(unsafe { t.0.as_ref() });
            }
        }
    }
}
