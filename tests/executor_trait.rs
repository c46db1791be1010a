//! `executor_trait::{Executor, BlockingExecutor, FullExecutor}` for `gmp::Handle` (feature
//! `executor-trait`): spawn, block_on, spawn_blocking, cancel, and panics.
#![cfg(all(feature = "executor-trait", not(loom)))]

use executor_trait::{BlockingExecutor, Executor, FullExecutor};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(120);

fn with_deadline<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    support::with_deadline(DEADLINE, what, body)
}

/// Code written against the traits only, the way a library would use them.
fn run_library(exec: Arc<dyn FullExecutor + Send + Sync>) -> usize {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let e = exec.clone();
    exec.block_on(Box::pin(async move {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let c = c.clone();
                e.spawn(Box::pin(async move {
                    c.fetch_add(1, SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            std::pin::Pin::from(t).await;
        }
        let c2 = c.clone();
        e.spawn_blocking(Box::new(move || {
            // Real blocking work is fine here.
            std::thread::sleep(Duration::from_millis(1));
            c2.fetch_add(1000, SeqCst);
        }))
        .await;
    }));
    count.load(SeqCst)
}

#[test]
fn spawn_block_on_spawn_blocking() {
    with_deadline("executor-trait", || {
        let rt = gmp::Runtime::new().unwrap();
        let exec: Arc<dyn FullExecutor + Send + Sync> = Arc::new(rt.handle().clone());
        assert_eq!(run_library(exec), 1100);
    });
}

#[test]
fn spawned_task_runs_on_the_runtime() {
    with_deadline("spawn from outside", || {
        let rt = gmp::Runtime::new().unwrap();
        let handle = rt.handle().clone();
        let (tx, rx) = mpsc::channel();
        // Not awaited: dropping the task detaches it, it still runs.
        drop(Executor::spawn(
            &handle,
            Box::pin(async move {
                tx.send(gmp::Handle::try_current().is_ok()).unwrap();
            }),
        ));
        assert!(
            rx.recv_timeout(DEADLINE).unwrap(),
            "ran outside the runtime"
        );
    });
}

#[test]
fn cancel_pending_task() {
    with_deadline("cancel", || {
        let rt = gmp::Runtime::new().unwrap();
        let handle = rt.handle().clone();
        Executor::block_on(
            &handle,
            Box::pin({
                let handle = handle.clone();
                async move {
                    let pending = Executor::spawn(&handle, Box::pin(std::future::pending()));
                    assert_eq!(pending.cancel().await, None);
                    let done = Executor::spawn(&handle, Box::pin(async {}));
                    // Wait until it has finished, then cancelling reports its completion.
                    let (tx, rx) = futures::channel::oneshot::channel();
                    let _ = Executor::spawn(
                        &handle,
                        Box::pin(async move {
                            let _ = tx.send(());
                        }),
                    );
                    rx.await.unwrap();
                    let _ = done.cancel().await;
                }
            }),
        );
    });
}

#[test]
fn spawn_blocking_panic_resumes_in_awaiter() {
    with_deadline("panic", || {
        let rt = gmp::Runtime::new().unwrap();
        let handle = rt.handle().clone();
        let h = handle.clone();
        let res = rt.block_on(rt.spawn(async move {
            h.spawn_blocking(Box::new(|| panic!("boom"))).await;
        }));
        let err = res.unwrap_err();
        assert!(err.is_panic());
        // The runtime is still fine.
        let (tx, rx) = mpsc::channel();
        drop(Executor::spawn(
            &handle,
            Box::pin(async move { tx.send(1).unwrap() }),
        ));
        assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), 1);
    });
}
