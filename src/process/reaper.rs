//! Learning that a child exited, and reaping it: through its pidfd on the reactor, or (when
//! pidfds are refused) on SIGCHLD; and reaping children nobody waits for.
//!
//! Invariants:
//! - A child is reaped only with `waitpid(its pid, WNOHANG)`, never `waitpid(-1)`: children
//!   the program made with `std::process` (or any other way) are never taken from it.
//! - The pid of a child gmp has not reaped yet cannot be reused, so `kill` and `pidfd_open`
//!   on it always reach our child (or its zombie).
//! - Waiting never blocks a thread: a [`Reaper`] tries `waitpid(WNOHANG)` only when told to
//!   (pidfd readable; a SIGCHLD delivered) and after registering for the next event, so an
//!   exit between the try and the registration is not missed.
//! - No zombie is left: a [`Reaper`] nobody waits on any more ([`reap_in_background`]: a
//!   dropped `Child`) becomes a detached task on the child's runtime; if that runtime shuts
//!   down before the child exits, the task moves to the global runtime (which never shuts
//!   down); should even that fail, the pid goes to an orphan list that every later spawn and
//!   every SIGCHLD wait sweeps.

use super::pidfd::{self, PidFd};
use crate::reactor::IoSource;
use crate::runtime::Handle;
use crate::signal::registry::Listener;
use std::future::Future;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::process::ExitStatus;
use std::sync::{Mutex, PoisonError};
use std::task::{ready, Context, Poll};

/// How a child's exit is learned.
#[derive(Debug)]
enum Exit {
    /// Its pidfd, readable once it exits.
    Pidfd(IoSource<PidFd>),
    /// A SIGCHLD listener: on each delivery, try to reap.
    Sigchld(Listener),
}

/// Watches one child until it is reaped.
#[derive(Debug)]
pub(crate) struct Reaper {
    pid: libc::pid_t,
    exit: Exit,
}

impl Reaper {
    /// Watch child `pid` (not yet reaped) on `handle`'s reactor.
    pub(crate) fn new(handle: &Handle, pid: libc::pid_t) -> io::Result<Reaper> {
        if pidfd::enabled() {
            // Any refusal (even a passing one, such as EMFILE) falls back for this child.
            if let Ok(fd) = pidfd::open(pid) {
                return Ok(Reaper {
                    pid,
                    exit: Exit::Pidfd(IoSource::new_with(handle, fd)?),
                });
            }
        }
        Ok(Reaper {
            pid,
            exit: Exit::Sigchld(Listener::new_with(handle, libc::SIGCHLD)?),
        })
    }

    /// Reap the child if it has exited, without waiting.
    pub(crate) fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        waitpid_nohang(self.pid)
    }

    /// Wait for the child to exit and reap it.
    pub(crate) fn poll_reap(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        let pid = self.pid;
        match &mut self.exit {
            Exit::Pidfd(io) => io.poll_read_io(cx, |_| match waitpid_nohang(pid)? {
                Some(status) => Ok(status),
                None => Err(io::ErrorKind::WouldBlock.into()),
            }),
            Exit::Sigchld(listener) => loop {
                // Register for the next SIGCHLD first, then look.
                let delivered = listener.poll_recv(cx);
                if let Some(status) = waitpid_nohang(pid)? {
                    return Poll::Ready(Ok(status));
                }
                match delivered {
                    Poll::Ready(Some(())) => {
                        reap_orphans();
                        continue;
                    }
                    Poll::Ready(None) => {
                        return Poll::Ready(Err(io::Error::other(
                            "gmp: the runtime this child was spawned on has shut down",
                        )))
                    }
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }
}

/// `waitpid(pid, WNOHANG)`: the exit status if the child has exited (it is then reaped).
pub(crate) fn waitpid_nohang(pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes the status to the valid `status` and touches nothing else.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(Some(ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Children whose background reaper could not run: swept by every spawn and SIGCHLD wait.
static ORPHANS: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// Reap whichever orphans have exited.
pub(crate) fn reap_orphans() {
    let mut orphans = ORPHANS.lock().unwrap_or_else(PoisonError::into_inner);
    if !orphans.is_empty() {
        // Keep only those still running (an error, ECHILD, means someone else reaped it).
        orphans.retain(|&pid| matches!(waitpid_nohang(pid), Ok(None)));
    }
}

/// Reap a child nobody will wait for, in the background (see the module docs).
pub(crate) fn reap_in_background(reaper: Reaper, handle: &Handle) {
    if !matches!(reaper.try_reap(), Ok(None)) {
        return; // reaped now, or not ours to reap any more
    }
    let orphan = Orphan {
        pid: reaper.pid,
        reaper: Some(reaper),
        last_chance: false,
    };
    drop(handle.spawn(orphan));
}

/// The detached task that reaps an orphan.
struct Orphan {
    pid: libc::pid_t,
    /// `None` once reaped (or given up on).
    reaper: Option<Reaper>,
    /// Already on the global runtime: if dropped unfinished, go to the orphan list.
    last_chance: bool,
}

impl Future for Orphan {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(reaper) = &mut self.reaper {
            // On an error (the runtime shutting down) the reaper stays, and `drop` moves it on.
            if ready!(reaper.poll_reap(cx)).is_ok() {
                self.reaper = None;
            }
        }
        Poll::Ready(())
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        let Some(reaper) = self.reaper.take() else {
            return;
        };
        // Unfinished: the runtime it ran on shut down.
        drop(reaper);
        if !matches!(waitpid_nohang(self.pid), Ok(None)) {
            return;
        }
        if !self.last_chance {
            let global = crate::runtime::global_handle();
            if let Ok(reaper) = Reaper::new(global, self.pid) {
                drop(global.spawn(Orphan {
                    pid: self.pid,
                    reaper: Some(reaper),
                    last_chance: true,
                }));
                return;
            }
        }
        ORPHANS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.pid);
    }
}
