//! `GMPDEBUG=dumpsignal=1`: `kill -USR1 <pid>` prints the scheduler trace and a task dump on
//! stderr (Go prints goroutines on SIGQUIT and exits; SIGUSR1 leaves the process running).
//!
//! The handler only sets a flag (async-signal-safe); sysmon notices it within one cycle and
//! prints. Installed once per process, by the first runtime that asks for it.

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Once;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(_: libc::c_int) {
    REQUESTED.store(true, SeqCst);
}

/// Install the SIGUSR1 handler (idempotent).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler is an
        // `extern "C" fn(c_int)` that only stores to an atomic, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            eprintln!(
                "gmp: GMPDEBUG=dumpsignal: cannot install the SIGUSR1 handler: {}",
                std::io::Error::last_os_error()
            );
        }
    });
}

/// True (once) after a SIGUSR1.
pub(crate) fn take_request() -> bool {
    REQUESTED.swap(false, SeqCst)
}
