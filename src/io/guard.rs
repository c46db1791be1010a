//! The guards [`AsyncFd`]'s waits return: [`AsyncFdReadyGuard`] and [`AsyncFdReadyMutGuard`].
//!
//! Invariant: a guard holds the readiness event(s) its wait saw, and clears at most those —
//! explicitly ([`clear_ready`](AsyncFdReadyGuard::clear_ready)) or when a
//! [`try_io`](AsyncFdReadyGuard::try_io) closure returns `WouldBlock`. Dropping a guard
//! clears nothing (the readiness is retained, as in tokio).

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use super::{AsyncFd, Ready, TryIoError};
use crate::reactor::Readiness;

/// Proof that an [`AsyncFd`] was ready, from [`readable`](AsyncFd::readable),
/// [`writable`](AsyncFd::writable) or [`ready`](AsyncFd::ready).
///
/// Do the I/O through [`try_io`](AsyncFdReadyGuard::try_io), which clears the readiness when
/// the call says `WouldBlock`; or do it yourself and call
/// [`clear_ready`](AsyncFdReadyGuard::clear_ready) once the fd is drained. Forgetting to clear
/// makes the next wait return at once (a busy loop), never a lost wakeup.
#[must_use = "the readiness is cleared through the guard (try_io, clear_ready)"]
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    async_fd: &'a AsyncFd<T>,
    event: Option<Readiness>,
}

/// Like [`AsyncFdReadyGuard`], with `&mut` access to the [`AsyncFd`] (from
/// [`readable_mut`](AsyncFd::readable_mut) and friends).
#[must_use = "the readiness is cleared through the guard (try_io, clear_ready)"]
pub struct AsyncFdReadyMutGuard<'a, T: AsRawFd> {
    async_fd: &'a mut AsyncFd<T>,
    event: Option<Readiness>,
}

fn is_would_block<R>(res: &io::Result<R>) -> bool {
    matches!(res, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    pub(super) fn new(async_fd: &'a AsyncFd<T>, event: Readiness) -> Self {
        AsyncFdReadyGuard {
            async_fd,
            event: Some(event),
        }
    }

    /// Forget the readiness this guard saw: the next wait sleeps until a new event. An event
    /// that arrived after the one the guard saw is kept.
    pub fn clear_ready(&mut self) {
        if let Some(r) = self.event.take() {
            self.async_fd.clear(r);
        }
    }

    /// Keep the readiness (what dropping the guard does anyway): the next wait returns at once.
    pub fn retain_ready(&mut self) {
        self.event = None;
    }

    /// What was ready: [`Ready::EMPTY`] once cleared.
    pub fn ready(&self) -> Ready {
        self.event.map_or(Ready::EMPTY, |r| r.ready())
    }

    /// Run `f` (one non-blocking operation on the fd). If it returns `WouldBlock`, clear the
    /// readiness and return `Err(TryIoError)`: wait again. Any other result is passed on in
    /// `Ok`, and the readiness is kept (the fd may have more to give).
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&'a AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let res = f(self.async_fd);
        if is_would_block(&res) {
            self.clear_ready();
            return Err(TryIoError(()));
        }
        Ok(res)
    }

    /// The [`AsyncFd`] this guard belongs to.
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.async_fd
    }

    /// The object inside the [`AsyncFd`].
    pub fn get_inner(&self) -> &'a T {
        self.async_fd.get_ref()
    }
}

impl<'a, T: AsRawFd> AsyncFdReadyMutGuard<'a, T> {
    pub(super) fn new(async_fd: &'a mut AsyncFd<T>, event: Readiness) -> Self {
        AsyncFdReadyMutGuard {
            async_fd,
            event: Some(event),
        }
    }

    /// Forget the readiness this guard saw (see [`AsyncFdReadyGuard::clear_ready`]).
    pub fn clear_ready(&mut self) {
        if let Some(r) = self.event.take() {
            self.async_fd.clear(r);
        }
    }

    /// Keep the readiness (what dropping the guard does anyway).
    pub fn retain_ready(&mut self) {
        self.event = None;
    }

    /// What was ready: [`Ready::EMPTY`] once cleared.
    pub fn ready(&self) -> Ready {
        self.event.map_or(Ready::EMPTY, |r| r.ready())
    }

    /// Run `f` with `&mut` access; `WouldBlock` clears the readiness and returns
    /// `Err(TryIoError)` (see [`AsyncFdReadyGuard::try_io`]).
    pub fn try_io<R>(
        &mut self,
        f: impl FnOnce(&mut AsyncFd<T>) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        let res = f(self.async_fd);
        if is_would_block(&res) {
            self.clear_ready();
            return Err(TryIoError(()));
        }
        Ok(res)
    }

    /// The [`AsyncFd`] this guard belongs to.
    pub fn get_ref(&self) -> &AsyncFd<T> {
        self.async_fd
    }

    /// The [`AsyncFd`], mutably.
    pub fn get_mut(&mut self) -> &mut AsyncFd<T> {
        self.async_fd
    }

    /// The object inside the [`AsyncFd`].
    pub fn get_inner(&self) -> &T {
        self.async_fd.get_ref()
    }

    /// The object inside the [`AsyncFd`], mutably.
    pub fn get_inner_mut(&mut self) -> &mut T {
        self.async_fd.get_mut()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("async_fd", &self.async_fd)
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFdReadyMutGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyMutGuard")
            .field("async_fd", &self.async_fd)
            .field("ready", &self.ready())
            .finish()
    }
}
