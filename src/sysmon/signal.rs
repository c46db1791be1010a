//! `GMPDEBUG=dumpsignal=1`: `kill -USR1 <pid>` prints the scheduler trace and a task dump on
//! stderr (Go prints goroutines on SIGQUIT and exits; SIGUSR1 leaves the process running).
//!
//! The handler is gmp's one signal handler (`crate::signal::registry`): it only sets flags
//! and writes the self-pipe (async-signal-safe); sysmon notices its own flag within one cycle
//! and prints. Going through the registry means a program's `gmp::signal` SIGUSR1 listeners
//! and this dump both work, and a SIGUSR1 handler installed before is chained. Installed once
//! per process, by the first runtime that asks for it.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Install the SIGUSR1 handler (idempotent).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        if let Err(e) = crate::signal::registry::install(libc::SIGUSR1) {
            eprintln!("gmp: GMPDEBUG=dumpsignal: cannot install the SIGUSR1 handler: {e}");
        }
    });
}

/// True (once) after a SIGUSR1.
pub(crate) fn take_request() -> bool {
    crate::signal::registry::take_raw(libc::SIGUSR1)
}
