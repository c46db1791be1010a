//! [`AsyncFd`]: readiness of any file descriptor, on gmp's reactor (tokio's `AsyncFd`).
//!
//! Invariants:
//! - The fd belongs to `inner`; the reactor only borrows its number. The registration is
//!   dropped before `inner` (field order), and [`into_inner`](AsyncFd::into_inner)
//!   deregisters before handing `inner` back, so the reactor never holds a closed (or
//!   reused) fd number.
//! - Readiness is edge-triggered and cleared only by the caller: by
//!   [`AsyncFdReadyGuard::clear_ready`] or by a [`try_io`](AsyncFdReadyGuard::try_io) whose
//!   closure returned `WouldBlock`. A clear forgets only the event the guard saw (the
//!   reactor's tick check): an edge that arrived after it is kept, so no wakeup is lost.
//! - One waiter per direction, like gmp's sockets: two tasks waiting to read the same
//!   `AsyncFd` at once take turns being woken (the later registration wins).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{ready, Context, Poll};

use super::guard::{AsyncFdReadyGuard, AsyncFdReadyMutGuard};
use super::{AsyncFdTryNewError, Interest};
use crate::reactor::{IoSource, Readiness};
use crate::runtime::Handle;

/// An fd number registered with the reactor; the fd itself is owned by `AsyncFd::inner`.
#[derive(Debug)]
struct FdSource(RawFd);

impl mio::event::Source for FdSource {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interest: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interest: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).deregister(registry)
    }
}

/// Readiness of a file descriptor that gmp does not wrap itself — a pipe, an eventfd, a
/// timerfd, a device, a socket from another library — on the runtime's reactor.
///
/// `AsyncFd` does no I/O: it waits until the fd is readable or writable, and the caller does
/// the non-blocking call. Put the fd in non-blocking mode first (`O_NONBLOCK`); a blocking
/// read would block the M. The usual loop:
///
/// ```
/// use std::io::Read;
/// use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
/// use gmp::io::AsyncFd;
///
/// # fn pipe() -> (std::fs::File, std::fs::File) {
/// #     let mut fds = [0; 2];
/// #     // SAFETY: `fds` has room for two fds.
/// #     assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) }, 0);
/// #     // SAFETY: pipe2 returned two fresh fds that nothing else owns.
/// #     unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) }
/// # }
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let (rx, mut tx) = pipe(); // both ends O_NONBLOCK
///     let rx = AsyncFd::new(rx)?;
///     std::thread::spawn(move || std::io::Write::write_all(&mut tx, b"hello"));
///     let mut buf = [0; 16];
///     let n = loop {
///         let mut guard = rx.readable().await?;
///         // `try_io` clears the readiness if the read says WouldBlock, then we wait again.
///         match guard.try_io(|fd| fd.get_ref().read(&mut buf)) {
///             Ok(result) => break result?,
///             Err(_would_block) => continue,
///         }
///     };
///     assert_eq!(&buf[..n], b"hello");
///     Ok::<(), std::io::Error>(())
/// }))
/// .unwrap()
/// .unwrap();
/// ```
///
/// (`&File` implements `Read`, so `fd.get_ref().read(...)` works through a shared reference;
/// for a type that needs `&mut`, use [`readable_mut`](AsyncFd::readable_mut).)
///
/// The fd is registered with the reactor of the current runtime (the one whose task or
/// `block_on` runs on this thread), else the global runtime. Dropping the `AsyncFd`
/// deregisters it and then drops `inner`, which closes the fd if `inner` owns it.
pub struct AsyncFd<T: AsRawFd> {
    // Declared first: dropped (deregistered) before `inner` closes the fd.
    io: IoSource<FdSource>,
    interest: Interest,
    inner: T,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Register `inner`'s fd for reading and writing.
    ///
    /// Fails with the OS's error when epoll refuses the fd — a regular file or a directory
    /// gives `EPERM` ([`ErrorKind::PermissionDenied`](io::ErrorKind::PermissionDenied)) — or
    /// when it is already registered with this runtime (`EEXIST`); `inner` is dropped then
    /// (use [`try_new`](AsyncFd::try_new) to get it back).
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let file = std::fs::File::open("Cargo.toml").unwrap();
    ///     let err = gmp::io::AsyncFd::new(file).unwrap_err();
    ///     assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    /// });
    /// ```
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        AsyncFd::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Register `inner`'s fd for `interest` only. Waiting on a direction outside `interest`
    /// fails with `InvalidInput` (it could never become ready).
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
        AsyncFd::try_with_interest(inner, interest).map_err(io::Error::from)
    }

    /// Like [`new`](AsyncFd::new), but on failure hands `inner` back with the error.
    pub fn try_new(inner: T) -> Result<AsyncFd<T>, AsyncFdTryNewError<T>> {
        AsyncFd::try_with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Like [`with_interest`](AsyncFd::with_interest), but on failure hands `inner` back with
    /// the error.
    pub fn try_with_interest(
        inner: T,
        interest: Interest,
    ) -> Result<AsyncFd<T>, AsyncFdTryNewError<T>> {
        let handle =
            Handle::try_current().unwrap_or_else(|_| crate::runtime::global_handle().clone());
        let fd = FdSource(inner.as_raw_fd());
        match IoSource::new_with_interest(&handle, fd, interest) {
            Ok(io) => Ok(AsyncFd {
                io,
                interest,
                inner,
            }),
            Err(cause) => Err(AsyncFdTryNewError { inner, cause }),
        }
    }

    /// The wrapped object.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped object, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Deregister the fd and hand back the wrapped object (the fd stays open).
    pub fn into_inner(self) -> T {
        let AsyncFd { io, inner, .. } = self;
        // A failed deregistration (the fd was closed behind our back) leaves nothing behind:
        // the reactor's slot is freed either way.
        let _ = io.into_inner();
        inner
    }

    /// The interest the fd was registered with.
    pub fn interest(&self) -> Interest {
        self.interest
    }

    fn check(&self, interest: Interest) -> io::Result<()> {
        let missing = interest.remove(self.interest).is_some();
        if missing {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "gmp: AsyncFd waits for {interest:?} but was registered for {:?} only",
                    self.interest
                ),
            ));
        }
        Ok(())
    }

    fn poll_ready_raw(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Readiness>> {
        self.check(interest)?;
        self.io.poll_ready(cx, interest)
    }

    /// Poll for read readiness: `Ready` with a guard once the fd is readable (or hung up, or
    /// in error), else `Pending` with `cx`'s waker stored.
    pub fn poll_read_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        let r = ready!(self.poll_ready_raw(cx, Interest::READABLE))?;
        Poll::Ready(Ok(AsyncFdReadyGuard::new(self, r)))
    }

    /// [`poll_read_ready`](AsyncFd::poll_read_ready) with a guard that gives `&mut` access.
    pub fn poll_read_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let r = ready!(self.poll_ready_raw(cx, Interest::READABLE))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard::new(self, r)))
    }

    /// Poll for write readiness (see [`poll_read_ready`](AsyncFd::poll_read_ready)).
    pub fn poll_write_ready<'a>(
        &'a self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'a, T>>> {
        let r = ready!(self.poll_ready_raw(cx, Interest::WRITABLE))?;
        Poll::Ready(Ok(AsyncFdReadyGuard::new(self, r)))
    }

    /// [`poll_write_ready`](AsyncFd::poll_write_ready) with a guard that gives `&mut` access.
    pub fn poll_write_ready_mut<'a>(
        &'a mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyMutGuard<'a, T>>> {
        let r = ready!(self.poll_ready_raw(cx, Interest::WRITABLE))?;
        Poll::Ready(Ok(AsyncFdReadyMutGuard::new(self, r)))
    }

    /// Wait until one of `interest`'s directions is ready; the guard's
    /// [`ready`](AsyncFdReadyGuard::ready) says which.
    ///
    /// Fails only when the runtime has shut down, or when `interest` asks for a direction the
    /// fd was not registered for (`InvalidInput`).
    pub async fn ready(&self, interest: Interest) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let r = poll_fn(|cx| self.poll_ready_raw(cx, interest)).await?;
        Ok(AsyncFdReadyGuard::new(self, r))
    }

    /// [`ready`](AsyncFd::ready) with a guard that gives `&mut` access.
    pub async fn ready_mut(
        &mut self,
        interest: Interest,
    ) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        let r = poll_fn(|cx| self.poll_ready_raw(cx, interest)).await?;
        Ok(AsyncFdReadyMutGuard::new(self, r))
    }

    /// Wait until the fd is readable (or hung up, or in error).
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::READABLE).await
    }

    /// [`readable`](AsyncFd::readable) with a guard that gives `&mut` access.
    pub async fn readable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::READABLE).await
    }

    /// Wait until the fd is writable (or hung up, or in error).
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Interest::WRITABLE).await
    }

    /// [`writable`](AsyncFd::writable) with a guard that gives `&mut` access.
    pub async fn writable_mut(&mut self) -> io::Result<AsyncFdReadyMutGuard<'_, T>> {
        self.ready_mut(Interest::WRITABLE).await
    }

    /// Wait for `interest` and run `f` on the inner object, until `f` returns something other
    /// than `WouldBlock` (each `WouldBlock` clears the readiness it ran on, then waits again).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::os::fd::{FromRawFd, OwnedFd};
    /// use gmp::io::{AsyncFd, Interest};
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let mut fds = [0; 2];
    ///     // SAFETY: `fds` has room for two fds.
    ///     assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) }, 0);
    ///     // SAFETY: pipe2 returned two fresh fds that nothing else owns.
    ///     let (rx, tx) = unsafe {
    ///         (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1]))
    ///     };
    ///     let rx = AsyncFd::new(rx)?;
    ///     gmp::spawn(async move { std::io::Write::write_all(&mut &tx, b"hi") });
    ///     let mut buf = [0; 2];
    ///     let n = rx.async_io(Interest::READABLE, |f| (&*f).read(&mut buf)).await?;
    ///     assert_eq!(&buf[..n], b"hi");
    ///     Ok::<(), std::io::Error>(())
    /// }))
    /// .unwrap()
    /// .unwrap();
    /// ```
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.check(interest)?;
        self.io.async_io(interest, |_| f(&self.inner)).await
    }

    /// [`async_io`](AsyncFd::async_io) with `&mut` access to the inner object.
    pub async fn async_io_mut<R>(
        &mut self,
        interest: Interest,
        mut f: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.check(interest)?;
        let AsyncFd { io, inner, .. } = self;
        io.async_io(interest, |_| f(inner)).await
    }

    /// If `interest` is ready now, run `f` once; `WouldBlock` (also returned at once, without
    /// calling `f`, when nothing is ready) clears that readiness. Waits for nothing.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        f: impl FnOnce(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.check(interest)?;
        self.io.try_io(interest, |_| f(&self.inner))
    }

    /// [`try_io`](AsyncFd::try_io) with `&mut` access to the inner object.
    pub fn try_io_mut<R>(
        &mut self,
        interest: Interest,
        f: impl FnOnce(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.check(interest)?;
        let AsyncFd { io, inner, .. } = self;
        io.try_io(interest, |_| f(inner))
    }

    pub(super) fn clear(&self, r: Readiness) {
        self.io.clear_readiness(r);
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .field("interest", &self.interest)
            .finish()
    }
}
