//! Signals, delivered through the reactor: Go's `os/signal`, with tokio's names
//! ([`ctrl_c`], [`unix::signal`]).
//!
//! ```no_run
//! #[gmp::main]
//! async fn main() -> std::io::Result<()> {
//!     println!("serving; Ctrl-C to stop");
//!     gmp::signal::ctrl_c().await?;
//!     println!("shutting down");
//!     Ok(())
//! }
//! ```
//!
//! How it works: one process-wide handler per signal number marks the signal pending and
//! writes a byte to a self-pipe (both async-signal-safe); every listener holds a duplicate
//! of the pipe's read end registered on its runtime's reactor, so a delivery wakes a poll on
//! each listening runtime with no thread of its own and no per-signal thread. The first
//! listener to run drains the pipe and wakes all listeners of each pending signal (see
//! `registry.rs` for the invariants). Costs: one descriptor and one reactor slot per live
//! listener; a delivery costs one `write` in the handler and one `read` per batch.
//!
//! Rules:
//! - Listening for a signal installs gmp's handler for it for the rest of the process (as
//!   in tokio): its default action no longer happens, even after the listener is dropped.
//! - A handler the program installed *before* gmp's is chained: called first (so it has run
//!   when a listener wakes), if it was a function. One installed *after* replaces gmp's, as
//!   the OS does.
//! - gmp's own `GMPDEBUG=dumpsignal=1` (SIGUSR1) goes through the same handler, so it and a
//!   program's SIGUSR1 listeners both work.
//! - `SIGKILL` and `SIGSTOP` cannot be caught, and the faults `SIGILL`/`SIGFPE`/`SIGSEGV`
//!   are refused: [`unix::signal`] gives `InvalidInput` naming the signal.

pub(crate) mod registry;
pub mod unix;

use std::io;

/// Wait for Ctrl-C (`SIGINT`).
///
/// gmp's handler is installed when the returned future is first polled, and stays installed
/// for the life of the process: from then on Ctrl-C no longer ends the program by itself.
/// A `SIGINT` that arrives before the first poll is not seen by this future.
///
/// # Errors
/// The OS's error if it refuses the handler; `Other` if the runtime shuts down first.
///
/// ```no_run
/// gmp::block_on(async {
///     gmp::signal::ctrl_c().await.unwrap();
///     println!("Ctrl-C");
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut sigint = unix::signal(unix::SignalKind::interrupt())?;
    match sigint.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other(
            "gmp: ctrl_c: the runtime shut down before a SIGINT arrived",
        )),
    }
}
