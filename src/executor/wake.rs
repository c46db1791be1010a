//! Waking a waker that may belong to another executor.
//!
//! gmp wakes wakers it did not make — a `JoinHandle`, a timer or a socket polled by a foreign
//! executor — from its Ms and sysmon. A panic in such a waker's `wake` must not unwind through
//! the M (it would leave the task half-completed, its P without an M and shutdown waiting
//! forever), so every such wake is caught here and reported once per process on stderr.
//! `catch_unwind` costs nothing on the path where nothing panics.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::task::Waker;

static REPORTED: AtomicBool = AtomicBool::new(false);

/// `waker.wake()`, catching (and reporting once) a panic from it.
#[inline]
pub(crate) fn wake_caught(waker: Waker) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
        report(panic);
    }
}

#[cold]
fn report(panic: Box<dyn std::any::Any + Send>) {
    if !REPORTED.swap(true, Relaxed) {
        let msg = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        report_line(format!(
            "gmp: a waker panicked when gmp woke it ({msg}); the panic was caught and the \
             thread carries on (reported once)"
        ));
    }
    // The payload's own Drop could panic too: don't let that escape either.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(panic)));
}

/// Write one line to stderr in a single `write`, so that it does not interleave with the
/// panic hook's output from other threads (which bypasses the stderr lock).
pub(crate) fn report_line(mut line: String) {
    use std::io::Write;
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}
