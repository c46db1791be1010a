//! pidfds: a descriptor for a child process that becomes readable when the child exits
//! (Linux ≥ 5.3), so a child's exit is one more readiness event on the reactor.
//!
//! `pidfd_open` is refused on old kernels (`ENOSYS`) and by some seccomp sandboxes
//! (`EPERM`): the first such refusal switches the process to the SIGCHLD reaper
//! (`reaper.rs`) for good. `GMP_NO_PIDFD=1` in the environment (read once, at the first
//! spawn) forces that fallback; the tests use it to cover both paths.
//!
//! A pidfd is only opened for a child that has not been reaped, so its pid cannot have been
//! reused: the descriptor names exactly our child.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering::*};

const UNKNOWN: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether children are watched through pidfds (else by the SIGCHLD reaper).
pub(crate) fn enabled() -> bool {
    match MODE.load(Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let forced_off = std::env::var_os("GMP_NO_PIDFD").is_some_and(|v| v == "1");
            let mode = if forced_off { OFF } else { ON };
            // A concurrent refusal (OFF) wins over the first look.
            match MODE.compare_exchange(UNKNOWN, mode, Relaxed, Relaxed) {
                Ok(_) => mode == ON,
                Err(now) => now == ON,
            }
        }
    }
}

/// A child's pidfd, as a mio source.
#[derive(Debug)]
pub(crate) struct PidFd(OwnedFd);

/// `pidfd_open(pid, 0)`. `Err` if the kernel refuses; a refusal that will not change
/// (`ENOSYS`, `EPERM`) also switches the process to the SIGCHLD reaper.
pub(crate) fn open(pid: libc::pid_t) -> io::Result<PidFd> {
    match crate::platform::pidfd_open(pid) {
        Ok(fd) => Ok(PidFd(fd)),
        Err(e) => {
            if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
                MODE.store(OFF, Relaxed);
            }
            Err(e)
        }
    }
}

impl mio::event::Source for PidFd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}
