//! `executor_trait::{Executor, BlockingExecutor, FullExecutor}` for [`Handle`] (feature
//! `executor-trait`), so libraries written against the executor-trait crate (lapin, …) can run
//! their tasks on gmp.
//!
//! ```
//! use executor_trait::{BlockingExecutor, Executor};
//! let rt = gmp::Runtime::new().unwrap();
//! let handle = rt.handle().clone();
//! let (tx, rx) = std::sync::mpsc::channel();
//! // Through the traits (`Handle`'s inherent `spawn`/`block_on` would win otherwise).
//! let task = Executor::spawn(&handle, Box::pin(async move { tx.send(1).unwrap() }));
//! let h = handle.clone();
//! Executor::block_on(&handle, Box::pin(async move {
//!     std::pin::Pin::from(task).await; // `Box<dyn Task>` is not `Unpin`
//!     h.spawn_blocking(Box::new(move || assert_eq!(rx.recv().unwrap(), 1))).await;
//! }));
//! ```

use super::Handle;
use crate::executor::syscall::BlockingTask;
use crate::executor::task::JoinHandle;
use async_trait::async_trait;
use std::future::Future;
use std::panic::{resume_unwind, Location};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// A spawned task as an [`executor_trait::Task`]: awaiting it waits for the task (a panic in
/// the task resumes in the awaiter), dropping it detaches the task, `cancel` aborts it.
struct GmpTask(JoinHandle<()>);

impl Future for GmpTask {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match ready!(Pin::new(&mut self.0).poll(cx)) {
            Ok(()) => Poll::Ready(()),
            Err(e) if e.is_panic() => resume_unwind(e.into_panic()),
            // Cancelled: only `cancel` aborts (it consumes the task) or the runtime shut down.
            Err(_) => Poll::Ready(()),
        }
    }
}

#[async_trait(?Send)]
impl executor_trait::Task for GmpTask {
    /// `Some(())` if the task had finished before it could be cancelled, `None` if it was.
    async fn cancel(self: Box<Self>) -> Option<()> {
        self.0.abort();
        match self.0.await {
            Ok(()) => Some(()),
            Err(e) if e.is_panic() => resume_unwind(e.into_panic()),
            Err(_) => None,
        }
    }
}

/// `block_on` is [`Handle::block_on`]; `spawn` is [`Handle::spawn`]; `spawn_local` is not
/// supported (gmp tasks move between Ms) and hands the future back in the error.
impl executor_trait::Executor for Handle {
    fn block_on(&self, f: Pin<Box<dyn Future<Output = ()>>>) {
        Handle::block_on(self, f)
    }

    #[track_caller]
    fn spawn(&self, f: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn executor_trait::Task> {
        Box::new(GmpTask(self.sched.spawn(f, Location::caller())))
    }
}

/// Runs the closure in a blocking section on this runtime, like
/// [`gmp::spawn_blocking`](crate::spawn_blocking). A panic in the closure resumes in the
/// awaiter.
#[async_trait]
impl executor_trait::BlockingExecutor for Handle {
    async fn spawn_blocking(&self, f: Box<dyn FnOnce() + Send + 'static>) {
        let task = self.sched.spawn(BlockingTask::new(f), Location::caller());
        if let Err(e) = task.await {
            if e.is_panic() {
                resume_unwind(e.into_panic());
            }
        }
    }
}

impl executor_trait::FullExecutor for Handle {}
