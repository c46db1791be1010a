//! `JoinSet`: a collection of spawned tasks, joined in the order they finish.
//!
//! The set owns each task's [`JoinHandle`] in a slab, next to that entry's
//! [`EntryWaker`](super::ready_list::EntryWaker), which is registered as the task's join
//! waker when the task enters the set. A completing task wakes it, which appends the entry to
//! the set's [`ReadyList`]; `join_next` takes entries from there and reads their output.
//! Invariants:
//! - `join_next` polls only handles the list names (finished tasks, plus the rare stale pair),
//!   never every handle: joining n tasks costs O(n) polls in all, not O(n²).
//! - Completion order is real: entries leave the list in the order their tasks' completions
//!   woke them.
//! - Every task in the set is either in `entries` or already handed out; dropping the set
//!   aborts every task still in it (their futures are dropped by the runtime, exactly once,
//!   like any abort), and `detach_all` lets them run on unobserved.
//! - An entry's key can be reused after it leaves; the generation stored beside it tells a
//!   stale list pair from the new entry.

use super::ready_list::{EntryWaker, ReadyList};
use crate::executor::task::{AbortHandle, JoinError, JoinHandle, TaskId};
use crate::runtime::Handle;
use slab::Slab;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A set of tasks spawned onto gmp, awaited in the order they finish (tokio's `JoinSet`).
///
/// All tasks must have the same output type `T`. Dropping the set aborts every task still in
/// it; [`detach_all`](Self::detach_all) lets them run on instead.
///
/// ```
/// use gmp::task::JoinSet;
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut sum = 0;
///     while let Some(res) = set.join_next().await {
///         sum += res.unwrap();
///     }
///     assert_eq!(sum, 285);
/// });
/// ```
pub struct JoinSet<T> {
    entries: Slab<Entry<T>>,
    list: Arc<ReadyList>,
    next_generation: u64,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    /// `notify` as a `Waker` (the same allocation as `state`).
    waker: Waker,
    state: Arc<EntryWaker>,
    generation: u64,
}

impl<T> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set: gmp::task::JoinSet<()> = gmp::task::JoinSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: Slab::new(),
            list: Arc::new(ReadyList::default()),
            next_generation: 0,
        }
    }

    /// The number of tasks in the set, finished or not (a finished task leaves when joined).
    ///
    /// ```
    /// let mut set = gmp::task::JoinSet::new();
    /// set.spawn(async {});
    /// assert_eq!(set.len(), 1);
    /// # gmp::block_on(set.join_all());
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the set holds no task.
    ///
    /// ```
    /// let set: gmp::task::JoinSet<u8> = Default::default();
    /// assert!(set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add a task by its handle: register this entry's waker as the task's join waker.
    fn insert(&mut self, mut handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let generation = self.next_generation;
        self.next_generation += 1;
        let entry = self.entries.vacant_entry();
        let state = Arc::new(EntryWaker::new(self.list.clone(), entry.key(), generation));
        let waker = Waker::from(state.clone());
        let done = handle.set_join_waker(&waker);
        entry.insert(Entry {
            handle,
            waker,
            state: state.clone(),
            generation,
        });
        if done {
            // Finished before its waker was in place: report it ourselves.
            state.notify();
        }
        abort
    }

    /// Spawn `task` on the current runtime (else on the global one, as [`gmp::spawn`] does)
    /// and add it to the set. The returned [`AbortHandle`] can cancel it remotely.
    ///
    /// [`gmp::spawn`]: crate::spawn
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     let abort = set.spawn(std::future::pending::<()>());
    ///     abort.abort();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn(task))
    }

    /// Spawn `task` on the runtime of `handle` and add it to the set.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let mut set = gmp::task::JoinSet::new();
    /// set.spawn_on(async { 3 }, rt.handle());
    /// assert_eq!(rt.block_on(set.join_all()), vec![3]);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, task: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(task))
    }

    /// Run the blocking closure `f` with [`gmp::spawn_blocking`](crate::spawn_blocking) and
    /// add it to the set. Aborting it has an effect only before it starts: a running closure
    /// cannot be interrupted.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let out = rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     set.spawn_blocking(|| std::thread::current().name().map(str::to_owned));
    ///     set.join_next().await.unwrap().unwrap()
    /// });
    /// assert!(out.is_some());
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn_blocking(f))
    }

    /// [`spawn_blocking`](Self::spawn_blocking) on the runtime of `handle`.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let mut set = gmp::task::JoinSet::new();
    /// set.spawn_blocking_on(|| 2 + 2, rt.handle());
    /// assert_eq!(rt.block_on(set.join_all()), vec![4]);
    /// ```
    #[track_caller]
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let task = crate::executor::syscall::BlockingTask::new(f);
        self.insert(handle.sched.spawn(task, Location::caller()))
    }

    /// Wait for the next task to finish and return its output; `None` at once when the set is
    /// empty. Tasks come back in the order they finished. Cancel-safe: if the returned future
    /// is dropped before it completes, no task is lost from the set.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     set.spawn(async { panic!("boom") });
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_panic());
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// [`join_next`](Self::join_next), with the finished task's id.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     let id = set.spawn(async { 1 }).id();
    ///     assert_eq!(set.join_next_with_id().await.unwrap().unwrap(), (id, 1));
    /// });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<Result<(TaskId, T), JoinError>> {
        poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// The output of a task that has already finished, without waiting; `None` when no task
    /// in the set has finished (or the set is empty).
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     set.spawn(async { 7 });
    ///     let out = loop {
    ///         match set.try_join_next() {
    ///             Some(res) => break res.unwrap(),
    ///             None => gmp::yield_now().await, // not finished yet
    ///         }
    ///     };
    ///     assert_eq!(out, 7);
    ///     assert!(set.try_join_next().is_none());
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id().map(|r| r.map(|(_, t)| t))
    }

    /// [`try_join_next`](Self::try_join_next), with the finished task's id.
    ///
    /// ```
    /// let mut set: gmp::task::JoinSet<()> = gmp::task::JoinSet::new();
    /// assert!(set.try_join_next_with_id().is_none());
    /// ```
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(TaskId, T), JoinError>> {
        loop {
            let (key, generation) = self.list.pop(None)?;
            if let Poll::Ready(out) = self.poll_entry(key, generation) {
                return Some(out);
            }
        }
    }

    /// Poll for the next finished task (the building block of
    /// [`join_next`](Self::join_next)): `Ready(None)` when the set is empty, `Pending` (with
    /// `cx`'s waker registered) when no task has finished yet.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     set.spawn(async { "done" });
    ///     let out = poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert_eq!(out.unwrap().unwrap(), "done");
    /// });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|o| o.map(|r| r.map(|(_, t)| t)))
    }

    /// [`poll_join_next`](Self::poll_join_next), with the finished task's id.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     let id = set.spawn(async {}).id();
    ///     let (got, ()) = poll_fn(|cx| set.poll_join_next_with_id(cx)).await.unwrap().unwrap();
    ///     assert_eq!(got, id);
    /// });
    /// ```
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(TaskId, T), JoinError>>> {
        if self.entries.is_empty() {
            return Poll::Ready(None);
        }
        // One cooperative-yield check for the set (not one per handle polled below).
        std::task::ready!(crate::coop::poll_proceed(cx));
        loop {
            let Some((key, generation)) = self.list.pop(Some(cx.waker())) else {
                return Poll::Pending;
            };
            if let Poll::Ready(out) = self.poll_entry(key, generation) {
                return Poll::Ready(Some(out));
            }
        }
    }

    /// Read the output of entry `key` if it is still the entry of `generation` and its task
    /// has finished; the entry leaves the set then.
    fn poll_entry(&mut self, key: usize, generation: u64) -> Poll<Result<(TaskId, T), JoinError>> {
        let Some(entry) = self
            .entries
            .get_mut(key)
            .filter(|e| e.generation == generation)
        else {
            return Poll::Pending; // stale: that entry already left
        };
        // Out of the list from here on: a completion after this appends it again.
        entry.state.clear_notified();
        let out = std::task::ready!(entry.handle.poll_output(&entry.waker));
        let id = entry.handle.id();
        drop(self.entries.remove(key));
        Poll::Ready(out.map(|t| (id, t)))
    }

    /// Wait for every task and return their outputs in the order they finished.
    ///
    /// # Panics
    /// If a task panicked, its panic is resumed here (the remaining tasks are aborted when the
    /// set drops); if a task was cancelled, this panics with the `JoinError`. Use
    /// [`join_next`](Self::join_next) to handle failures one by one.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// let mut out = rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     for i in 0..3 {
    ///         set.spawn(async move { i });
    ///     }
    ///     set.join_all().await
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![0, 1, 2]);
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(t) => out.push(t),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("{e}"),
            }
        }
        out
    }

    /// Abort every task in the set. They stay in it: `join_next` returns each one's outcome
    /// (a cancellation, or its output if it finished first).
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.abort_all();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        for (_, e) in self.entries.iter() {
            e.handle.abort();
        }
    }

    /// Abort every task and wait until all of them have ended (their futures are dropped by
    /// then); the set is empty afterwards.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// use std::sync::Arc;
    /// struct CountDrop(Arc<AtomicUsize>);
    /// impl Drop for CountDrop {
    ///     fn drop(&mut self) {
    ///         self.0.fetch_add(1, SeqCst);
    ///     }
    /// }
    /// let rt = gmp::Runtime::new().unwrap();
    /// let dropped = Arc::new(AtomicUsize::new(0));
    /// rt.block_on(async {
    ///     let mut set = gmp::task::JoinSet::new();
    ///     for _ in 0..5 {
    ///         let guard = CountDrop(dropped.clone());
    ///         set.spawn(async move {
    ///             let _guard = guard;
    ///             std::future::pending::<()>().await
    ///         });
    ///     }
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    /// });
    /// assert_eq!(dropped.load(SeqCst), 5);
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Remove every task from the set without aborting it: they run on, their outputs dropped.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (tx, rx) = std::sync::mpsc::channel();
    ///     let mut set = gmp::task::JoinSet::new();
    ///     set.spawn(async move { tx.send(1).unwrap() });
    ///     set.detach_all();
    ///     assert!(set.is_empty());
    ///     drop(set); // does not abort the detached task
    ///     gmp::spawn_blocking(move || assert_eq!(rx.recv().unwrap(), 1)).await.unwrap();
    /// });
    /// ```
    pub fn detach_all(&mut self) {
        self.entries.clear();
        self.list.clear();
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
        self.detach_all();
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

/// Spawn every future of the iterator into the set (as [`JoinSet::spawn`]).
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut set = gmp::task::JoinSet::new();
///     set.extend((0..4).map(|i| async move { i }));
///     assert_eq!(set.len(), 4);
///     set.shutdown().await;
/// });
/// ```
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for f in iter {
            self.spawn(f);
        }
    }
}

/// Collect futures into a set, spawning each (as [`JoinSet::spawn`]).
///
/// ```
/// use gmp::task::JoinSet;
/// let rt = gmp::Runtime::new().unwrap();
/// let mut out = rt.block_on(async {
///     let set: JoinSet<_> = (0..4).map(|i| async move { i * 10 }).collect();
///     set.join_all().await
/// });
/// out.sort();
/// assert_eq!(out, vec![0, 10, 20, 30]);
/// ```
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Several finished tasks wait in the set at once and come back in the order they
    /// finished: each release waits until the set has been told of the previous completion
    /// (its ready list grew), so the finishing order is known exactly.
    #[test]
    fn finished_tasks_come_back_in_finishing_order() {
        const N: usize = 200;
        let rt = crate::Runtime::builder().procs(2).build().unwrap();
        rt.block_on(async {
            let mut set = JoinSet::new();
            let mut senders = Vec::new();
            for i in 0..N {
                let (tx, rx) = futures::channel::oneshot::channel::<()>();
                senders.push(Some(tx));
                set.spawn(async move {
                    rx.await.unwrap();
                    i
                });
            }
            // Release in reverse spawn order, one completion at a time.
            let order: Vec<usize> = (0..N).rev().collect();
            for (k, &i) in order.iter().enumerate() {
                senders[i].take().unwrap().send(()).unwrap();
                let start = Instant::now();
                while set.list.len() < k + 1 {
                    assert!(
                        start.elapsed() < Duration::from_secs(30),
                        "task {i} never ended"
                    );
                    std::thread::yield_now();
                }
            }
            for &i in &order {
                assert_eq!(set.try_join_next().unwrap().unwrap(), i);
            }
            assert!(set.is_empty());
        });
    }

    /// A key reused after its entry left is not mistaken for the old entry.
    #[test]
    fn stale_pairs_are_skipped() {
        let rt = crate::Runtime::builder().procs(1).build().unwrap();
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { 1 });
            assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
            // A pair naming key 0 of the old generation, then a new entry at key 0.
            EntryWaker::new(set.list.clone(), 0, 0).notify();
            let (tx, rx) = futures::channel::oneshot::channel::<u8>();
            set.spawn(async move { rx.await.unwrap() });
            assert!(
                set.try_join_next().is_none(),
                "the stale pair joined a running task"
            );
            tx.send(2).unwrap();
            assert_eq!(set.join_next().await.unwrap().unwrap(), 2);
        });
    }
}
