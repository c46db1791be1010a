//! Unix signals as streams: [`signal`] returns a [`Signal`] whose [`recv`](Signal::recv)
//! completes once per batch of deliveries of one signal.
//!
//! Every `Signal` of one signal number wakes on each delivery, on whichever runtime it lives;
//! deliveries between two `recv`s coalesce into one (as in tokio, and as the kernel itself
//! coalesces a pending standard signal). Once gmp listens for a signal its handler stays
//! installed for the life of the process: the signal's default action (for SIGINT, ending
//! the process) no longer happens, even after the last `Signal` is dropped. A handler the
//! program installed before is still called.

use super::registry::{self, Listener};
use crate::runtime::Handle;
use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

/// A kind of signal: a signal number, with constructors for the common ones (tokio's names).
///
/// ```
/// use gmp::signal::unix::SignalKind;
/// assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR2), SignalKind::user_defined2());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number; [`signal`] checks it.
    pub const fn from_raw(signum: std::os::raw::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> std::os::raw::c_int {
        self.0
    }

    /// `SIGALRM`: a real-time timer expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process stopped or ended.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal hung up; by convention, "reload your configuration".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: Ctrl-C at the terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor set up for it.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: Ctrl-\ at the terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: a polite request to end (what `kill` and service managers send).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`. (gmp's own `GMPDEBUG=dumpsignal=1` uses it too; both work together.)
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<std::os::raw::c_int> for SignalKind {
    fn from(signum: std::os::raw::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for std::os::raw::c_int {
    fn from(kind: SignalKind) -> std::os::raw::c_int {
        kind.0
    }
}

/// A stream of one signal's deliveries; made by [`signal`].
///
/// ```
/// use gmp::signal::unix::{signal, SignalKind};
///
/// gmp::block_on(async {
///     let mut hup = signal(SignalKind::hangup()).unwrap();
///     // SAFETY (of the example): raising a signal that now has a handler.
///     unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
///     assert_eq!(hup.recv().await, Some(()));
/// });
/// ```
#[derive(Debug)]
#[must_use = "a Signal does nothing unless `recv` is awaited"]
pub struct Signal {
    inner: Listener,
}

impl Signal {
    /// Wait for the next delivery of the signal (deliveries since the last `recv` coalesce
    /// into one). `None` when no more can come: the runtime this `Signal` was made on has
    /// shut down.
    ///
    /// Cancel-safe: dropping the future loses nothing; the next `recv` still sees a delivery
    /// that happened meanwhile.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// `recv` as a poll function, for hand-written futures and streams.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.inner.poll_recv(cx)
    }

    /// The kind of signal this stream listens for.
    pub fn kind(&self) -> SignalKind {
        SignalKind(self.inner.signal())
    }
}

/// Listen for a signal: installs gmp's handler for it (once per process) and returns a
/// stream of its deliveries, on the current runtime (or the global one outside any runtime).
///
/// Deliveries before this call are not reported. Several `Signal`s of one kind all wake.
///
/// # Errors
/// `InvalidInput`, naming the signal, for one that cannot or must not be caught (`SIGKILL`,
/// `SIGSTOP`, and the faults `SIGILL`, `SIGFPE`, `SIGSEGV`) or a number out of range; the OS's
/// error if it refuses the handler (glibc reserves signals 32 and 33).
///
/// ```
/// use gmp::signal::unix::{signal, SignalKind};
/// let err = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("SIGKILL"));
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    registry::check(kind.0)?;
    let handle = Handle::try_current().unwrap_or_else(|_| crate::runtime::global_handle().clone());
    Ok(Signal {
        inner: Listener::new_with(&handle, kind.0)?,
    })
}
