//! `IoSource`: a mio source registered with a runtime's reactor, with readiness futures.

use super::scheduled_io::{Direction, ScheduledIo};
use crate::executor::coop;
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
}

impl<S: mio::event::Source> IoSource<S> {
    /// Register `io` (readable and writable, edge-triggered) with the current runtime's
    /// reactor, or the global runtime's outside any runtime.
    pub(crate) fn new(io: S) -> io::Result<IoSource<S>> {
        let handle =
            Handle::try_current().unwrap_or_else(|_| crate::runtime::global_handle().clone());
        IoSource::new_with(&handle, io)
    }

    pub(crate) fn new_with(handle: &Handle, mut io: S) -> io::Result<IoSource<S>> {
        let (shared, key) = handle
            .sched
            .reactor
            .register(&mut io, mio::Interest::READABLE | mio::Interest::WRITABLE)?;
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
        })
    }

    pub(crate) fn get_ref(&self) -> &S {
        self.io
            .as_ref()
            .expect("gmp: IoSource used after into_inner")
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
                        return Poll::Ready(Err(io::Error::other(
                            "gmp: the runtime this I/O source belongs to has shut down",
                        )));
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
    /// it knows the socket drained after them (`TCP_INQ`, see `net::inq`). A read known to
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

    /// Deregister and hand the mio source back.
    pub(crate) fn into_inner(mut self) -> io::Result<S> {
        let mut io = self.io.take().expect("gmp: IoSource used after into_inner");
        self.handle.sched.reactor.deregister(&mut io, self.key)?;
        Ok(io)
    }
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
