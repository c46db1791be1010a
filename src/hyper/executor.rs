//! `GmpExecutor`: hyper's executor, backed by `gmp::spawn`.

use std::future::Future;

/// A [`hyper::rt::Executor`] that spawns each future as a gmp task with
/// [`gmp::spawn`](crate::spawn): on the current runtime, or else on the global one.
///
/// hyper needs one for HTTP/2 (each stream is a task) and for client connection pools.
///
/// ```
/// use hyper::rt::Executor;
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, rx) = std::sync::mpsc::channel();
///     gmp::hyper::GmpExecutor::new().execute(async move { tx.send(7).unwrap() });
///     assert_eq!(gmp::spawn_blocking(move || rx.recv().unwrap()).await.unwrap(), 7);
/// });
/// ```
#[non_exhaustive]
#[derive(Default, Debug, Clone, Copy)]
pub struct GmpExecutor {}

impl GmpExecutor {
    /// A new executor (it holds nothing: tasks go to the current runtime).
    pub fn new() -> Self {
        Self {}
    }
}

impl<F> hyper::rt::Executor<F> for GmpExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        // Detached: hyper keeps track of its own tasks.
        drop(crate::spawn(fut));
    }
}
