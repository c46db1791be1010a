//! Helpers shared by the integration tests (`#[path = "support/mod.rs"] mod support;`; cargo
//! does not build files in a subdirectory of `tests/` as test targets).

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Run `body` on its own thread and fail if it does not finish within `limit`; a panic in
/// `body` is re-raised as it was.
pub fn with_deadline<T: Send + 'static>(
    limit: Duration,
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = body();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        // The body panicked: re-raise its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(_) => unreachable!(),
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung for {limit:?}"),
    }
}

/// Poll `cond` every millisecond until it holds, failing after `limit`.
#[allow(dead_code)] // not every test binary waits on a condition
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
