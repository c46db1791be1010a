//! `IoSource`: a mio source registered with a runtime's reactor, with readiness futures.

use super::drain_hint::DrainHint;
use super::scheduled_io::{self as bits, Direction, ReadyEvent, ScheduledIo};
use crate::executor::coop;
use crate::io::{Interest, Ready};
use crate::runtime::Handle;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A registered I/O source. Dropping it deregisters the source and frees its reactor slot.
///
/// The read side and the write side wait separately, so one task may read while another
/// writes (through an `Arc`); two tasks waiting on the *same* side take turns being woken
/// (the later registration wins), as in tokio.
pub(crate) struct IoSource<S: mio::event::Source> {
    io: Option<S>,
    shared: Arc<ScheduledIo>,
    key: usize,
    handle: Handle,
    /// How a stream's reads learn that they drained the socket (TCP; see `drain_hint.rs`).
    drain: DrainHint,
}

impl<S: mio::event::Source> IoSource<S> {
    /// Register `io` (readable and writable, edge-triggered) with the current runtime's
    /// reactor, or the global runtime's outside any runtime.
    pub(crate) fn new(io: S) -> io::Result<IoSource<S>> {
        let handle =
            Handle::try_current().unwrap_or_else(|_| crate::runtime::global_handle().clone());
        IoSource::new_with(&handle, io)
    }

    pub(crate) fn new_with(handle: &Handle, io: S) -> io::Result<IoSource<S>> {
        IoSource::new_with_interest(handle, io, Interest::READABLE | Interest::WRITABLE)
    }

    /// Register `io` for `interest` only (edge-triggered) with `handle`'s reactor.
    pub(crate) fn new_with_interest(
        handle: &Handle,
        mut io: S,
        interest: Interest,
    ) -> io::Result<IoSource<S>> {
        let (shared, key) = handle.sched.reactor.register(&mut io, interest.to_mio())?;
        // Someone must poll for it: with no M blocked in the poll (e.g. a runtime whose only
        // user so far is a `block_on` thread), start one; once idle it becomes the poller.
        if !handle.sched.reactor.is_blocked() {
            handle.sched.wakep();
            handle.sched.sysmon.wake();
        }
        Ok(IoSource {
            io: Some(io),
            shared,
            key,
            handle: handle.clone(),
            drain: DrainHint::default(),
        })
    }

    pub(crate) fn get_ref(&self) -> &S {
        self.io
            .as_ref()
            .expect("gmp: IoSource used after into_inner")
    }

    /// This source's read-call choice, for [`poll_read_stream`](Self::poll_read_stream)'s and
    /// [`try_read_stream`](Self::try_read_stream)'s reads of a TCP stream.
    pub(crate) fn drain_hint(&self) -> &DrainHint {
        &self.drain
    }

    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut f: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        ready!(coop::poll_proceed(cx));
        loop {
            let ev = ready!(self.shared.poll_ready(cx, dir));
            match f(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if ScheduledIo::is_closed(ev) && self.handle.is_shutdown() {
                        return Poll::Ready(Err(shut_down()));
                    }
                    self.shared.clear(ev);
                }
                Ok(r) => {
                    if drained(&r) {
                        self.shared.clear_readable(ev);
                    }
                    return Poll::Ready(Ok(r));
                }
                res => return Poll::Ready(res),
            }
        }
    }

    /// Wait until readable and run `f`; on `WouldBlock` clear the readiness and wait again.
    pub(crate) fn poll_read_io<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Read, f, |_| false)
    }

    /// A stream read `f` into `len` bytes of buffer, which returns the bytes read and whether
    /// it knows the socket drained after them (`TCP_INQ`, see `platform`). A read known to
    /// drain the receive queue — that one, or a short read (`0 < n < len`) — clears the
    /// readiness at once (edge-triggered epoll reports the next arrival; a newer event is
    /// kept, see [`ScheduledIo::clear`]), so the next read waits for it instead of making a
    /// syscall that would only say `WouldBlock`: one `recv` per request instead of two for
    /// request/response protocols.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        f: impl FnMut(&S) -> io::Result<(usize, bool)>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Read, f, |&(n, drained)| {
            n > 0 && (n < len || drained)
        })
        .map_ok(|(n, _)| n)
    }

    /// Wait until writable and run `f`; on `WouldBlock` clear the readiness and wait again.
    pub(crate) fn poll_write_io<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Write, f, |_| false)
    }

    pub(crate) async fn read_io<R>(&self, mut f: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_io(cx, &mut f)).await
    }

    pub(crate) async fn write_io<R>(
        &self,
        mut f: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_io(cx, &mut f)).await
    }

    /// Wait until one of the directions in `interest` is ready (readiness is not cleared:
    /// that is the caller's business, after an operation returns `WouldBlock`). When both
    /// are asked for and neither is ready, both directions' waiter slots get `cx`'s waker.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Readiness>> {
        ready!(coop::poll_proceed(cx));
        let mut r = Readiness::default();
        if interest.is_readable() {
            r.read = poll_opt(self.shared.poll_ready(cx, Direction::Read));
        }
        if interest.is_writable() {
            // Take the write side's waiter slot only when there is something to wait for.
            r.write = match r.read {
                Some(_) => self.shared.ready_now(Direction::Write),
                None => poll_opt(self.shared.poll_ready(cx, Direction::Write)),
            };
        }
        if r.is_empty() {
            return Poll::Pending;
        }
        let closed = [r.read, r.write]
            .into_iter()
            .flatten()
            .any(ScheduledIo::is_closed);
        if closed && self.handle.is_shutdown() {
            return Poll::Ready(Err(shut_down()));
        }
        Poll::Ready(Ok(r))
    }

    /// Wait until one of the directions in `interest` is ready.
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Readiness> {
        poll_fn(|cx| self.poll_ready(cx, interest)).await
    }

    /// The readiness of the directions in `interest` now, waiting for nothing.
    pub(crate) fn ready_now(&self, interest: Interest) -> Readiness {
        let mut r = Readiness::default();
        if interest.is_readable() {
            r.read = self.shared.ready_now(Direction::Read);
        }
        if interest.is_writable() {
            r.write = self.shared.ready_now(Direction::Write);
        }
        r
    }

    /// Forget the readiness seen in `r` (an operation returned `WouldBlock`), unless a newer
    /// event arrived meanwhile (see [`ScheduledIo::clear`]).
    pub(crate) fn clear_readiness(&self, r: Readiness) {
        for ev in [r.read, r.write].into_iter().flatten() {
            self.shared.clear(ev);
        }
    }

    /// tokio's `try_io`: if `interest` is ready, run `f` once; `WouldBlock` (returned at once
    /// when nothing is ready, without calling `f`) clears the readiness `f` ran on.
    pub(crate) fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let r = self.ready_now(interest);
        if r.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let res = f(self.get_ref());
        if matches!(&res, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.clear_readiness(r);
        }
        res
    }

    /// [`try_io`](Self::try_io) for a stream read of `len` bytes that also learns whether it
    /// drained the socket (see [`poll_read_stream`](Self::poll_read_stream)): a drained or
    /// short read clears the readable bit as a `WouldBlock` would, so the next `readable()`
    /// waits for new data instead of returning at once.
    pub(crate) fn try_read_stream(
        &self,
        len: usize,
        f: impl FnOnce(&S) -> io::Result<(usize, bool)>,
    ) -> io::Result<usize> {
        let Some(ev) = self.shared.ready_now(Direction::Read) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        match f(self.get_ref()) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.shared.clear(ev);
                Err(e)
            }
            Ok((n, drained)) => {
                if n > 0 && (n < len || drained) {
                    self.shared.clear_readable(ev);
                }
                Ok(n)
            }
            Err(e) => Err(e),
        }
    }

    /// tokio's `async_io`: wait for `interest`, run `f`; on `WouldBlock` clear that readiness
    /// and wait again.
    pub(crate) async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let r = self.ready(interest).await?;
            match f(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(r),
                res => return res,
            }
        }
    }

    /// Deregister and hand the mio source back.
    pub(crate) fn into_inner(mut self) -> io::Result<S> {
        let mut io = self.io.take().expect("gmp: IoSource used after into_inner");
        self.handle.sched.reactor.deregister(&mut io, self.key)?;
        Ok(io)
    }
}

/// What a wait for readiness saw, per direction: what [`IoSource::clear_readiness`] forgets
/// (each direction only for the event tick it saw, so a newer edge is kept).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Readiness {
    read: Option<ReadyEvent>,
    write: Option<ReadyEvent>,
}

impl Readiness {
    /// Nothing was ready.
    pub(crate) fn is_empty(&self) -> bool {
        self.read.is_none() && self.write.is_none()
    }

    /// The bits seen, as the public [`Ready`].
    pub(crate) fn ready(&self) -> Ready {
        let seen = [self.read, self.write]
            .into_iter()
            .flatten()
            .fold(0, |acc, ev| acc | ev.bits());
        [
            (bits::READABLE, Ready::READABLE),
            (bits::WRITABLE, Ready::WRITABLE),
            (bits::READ_CLOSED, Ready::READ_CLOSED),
            (bits::WRITE_CLOSED, Ready::WRITE_CLOSED),
            (bits::ERROR, Ready::ERROR),
        ]
        .into_iter()
        .filter(|&(bit, _)| seen & bit != 0)
        .fold(Ready::EMPTY, |acc, (_, r)| acc | r)
    }
}

fn poll_opt<T>(p: Poll<T>) -> Option<T> {
    match p {
        Poll::Ready(t) => Some(t),
        Poll::Pending => None,
    }
}

fn shut_down() -> io::Error {
    io::Error::other("gmp: the runtime this I/O source belongs to has shut down")
}

impl<S: mio::event::Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            let _ = self.handle.sched.reactor.deregister(&mut io, self.key);
        }
    }
}

impl<S: mio::event::Source + std::fmt::Debug> std::fmt::Debug for IoSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoSource").field("io", &self.io).finish()
    }
}
