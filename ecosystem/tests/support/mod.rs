//! Helpers shared by the ecosystem tests (`#[path = "support/mod.rs"] mod support;`).
#![allow(dead_code)] // not every test binary uses every helper

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

/// Every test body runs under this watchdog.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Run `body` as a task of a fresh 2-P gmp runtime, failing if it takes past [`DEADLINE`].
pub fn run<T: Send + 'static>(what: &str, body: impl Future<Output = T> + Send + 'static) -> T {
    on_runtime(what, gmp::Runtime::builder().procs(2), body)
}

/// As [`run`], on a runtime built with `tokio_compat(true)`: a tokio context is entered on
/// every gmp thread, which is what a library that calls `tokio::spawn` or `tokio::time` from
/// inside a gmp task needs (axum's `WebSocketUpgrade::on_upgrade`, tonic's per-call
/// timeout). What those libraries spawn runs on the bridge's tokio side.
pub fn run_with_tokio_context<T: Send + 'static>(
    what: &str,
    body: impl Future<Output = T> + Send + 'static,
) -> T {
    on_runtime(
        what,
        gmp::Runtime::builder().procs(2).tokio_compat(true),
        body,
    )
}

fn on_runtime<T: Send + 'static>(
    what: &str,
    builder: &mut gmp::Builder,
    body: impl Future<Output = T> + Send + 'static,
) -> T {
    let rt = builder.build().unwrap();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = rt.block_on(rt.spawn(body));
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(()) => match worker.join().unwrap() {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(_) => unreachable!(),
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung for {DEADLINE:?}"),
    }
}
