//! The `futures_io` impls of the stream types ([`TcpStream`](super::TcpStream), its owned
//! halves, [`UnixStream`](super::UnixStream)): every one is the same non-blocking syscall on
//! the socket behind an `IoSource`, so they are written once, here.
//!
//! The inherent `read`/`read_exact`/`write_all` are shared too: [`read_on`],
//! [`read_exact_on`] and [`write_all_on`].
//!
//! `impl_async_read!(Type, |this| io)` and `impl_async_write!(Type, |this| io)`, where `io`
//! is an expression naming the `&IoSource<_>` of `this: &Type`. Reads go through
//! [`StreamRecv`]: a TCP read also learns whether it drained the socket (`TCP_INQ`, once the
//! stream's full reads have been followed by empty ones: `crate::reactor::DrainHint`). Writes
//! go straight to the socket (there is no user-space buffer, so `poll_flush` is a no-op);
//! `poll_close` shuts down the write direction (`shutdown(Write)`).

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

use crate::reactor::{DrainHint, IoSource};

/// One non-blocking read of a stream socket, into memory that need not be initialized.
pub(crate) trait StreamRecv: mio::event::Source {
    /// Read into `buf`: the bytes read (the first `n` of `buf` are then initialized, and
    /// `n <= buf.len()`), and whether the socket is known to be drained after them beyond
    /// what a short read already says (see [`IoSource::poll_read_stream`]). `hint` is the
    /// source's choice of read call (TCP: plain `recv` or `TCP_INQ`, see
    /// [`DrainHint`]).
    fn recv(&self, buf: &mut [MaybeUninit<u8>], hint: &DrainHint) -> io::Result<(usize, bool)>;
}

impl StreamRecv for mio::net::TcpStream {
    fn recv(&self, buf: &mut [MaybeUninit<u8>], hint: &DrainHint) -> io::Result<(usize, bool)> {
        hint.recv(self.as_raw_fd(), buf)
    }
}

impl StreamRecv for mio::net::UnixStream {
    fn recv(&self, buf: &mut [MaybeUninit<u8>], _: &DrainHint) -> io::Result<(usize, bool)> {
        let (ptr, len) = (buf.as_mut_ptr().cast::<libc::c_void>(), buf.len());
        // SAFETY: `ptr` is valid for writes of `len` bytes: it points into `buf`, which is
        // borrowed mutably for this whole call. read(2) writes at most `len` bytes there and
        // reads none; the fd is the open socket behind `self`.
        crate::platform::retry_eintr(|| unsafe { libc::read(self.as_raw_fd(), ptr, len) })
            .map(|n| (n, false))
    }
}

/// `buf` as possibly uninitialized bytes, for a [`StreamRecv::recv`] into it.
pub(super) fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`. The only writer is `recv`, which
    // stores bytes the kernel copied (initialized values), never uninitialized ones, so
    // `buf` is still fully initialized when the borrow ends.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// Read into `buf` from the socket behind `io`, waiting for readiness.
pub(super) fn poll_read_on<S: StreamRecv>(
    io: &IoSource<S>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    poll_read_uninit_on(io, cx, as_uninit(buf))
}

/// Read some bytes into `buf` from the socket behind `io`; `Ok(0)` is end-of-file.
pub(super) async fn read_on<S: StreamRecv>(io: &IoSource<S>, buf: &mut [u8]) -> io::Result<usize> {
    std::future::poll_fn(|cx| poll_read_on(io, cx, buf)).await
}

/// Read exactly `buf.len()` bytes from the socket behind `io`. Fails with
/// [`ErrorKind::UnexpectedEof`](io::ErrorKind::UnexpectedEof) if the stream ends first.
pub(super) async fn read_exact_on<S: StreamRecv>(
    io: &IoSource<S>,
    mut buf: &mut [u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        match read_on(io, buf).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

/// Write all of `buf` to the socket behind `io`, waiting for room as needed.
pub(super) async fn write_all_on<S: mio::event::Source>(
    io: &IoSource<S>,
    mut buf: &[u8],
) -> io::Result<()>
where
    for<'a> &'a S: Write,
{
    while !buf.is_empty() {
        match io.write_io(|s| (&*s).write(buf)).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// gmp's stream types read straight into uninitialized memory: `read(2)` only writes the
/// bytes it returns. The adapters whose buffers are uninitialized — hyper's `ReadBufCursor`
/// (`gmp::hyper::GmpIo`) and tokio's `ReadBuf` (feature `tokio-io`) — use this instead of
/// zeroing the whole spare capacity (8 KiB or more) before every read, which `futures_io`'s
/// `&mut [u8]` would force on them.
#[cfg_attr(not(any(feature = "hyper", feature = "tokio-io")), allow(dead_code))]
pub(crate) trait ReadUninit {
    /// Like `AsyncRead::poll_read`, into `buf`, which need not be initialized. On
    /// `Ready(Ok(n))` the first `n` bytes of `buf` are initialized, and `n <= buf.len()`.
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>>;
}

/// Read into `buf`, which need not be initialized, from the socket behind `io`, waiting for
/// readiness (what [`ReadUninit`] and [`poll_read_on`] do).
///
/// A zero-length read returns `Ok(0)` at once, as `std::io::Read` does, without waiting for
/// readability (tokio waits): nothing could be read into the buffer anyway, and waiting would
/// hang a caller whose peer sends nothing. `Ok(0)` from an empty buffer is not end-of-stream.
pub(super) fn poll_read_uninit_on<S: StreamRecv>(
    io: &IoSource<S>,
    cx: &mut Context<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    let len = buf.len();
    if len == 0 {
        return Poll::Ready(Ok(0));
    }
    io.poll_read_stream(cx, len, |s| s.recv(buf, io.drain_hint()))
}

/// `futures_io::AsyncRead` (and [`ReadUninit`]) for `$ty`: `read`/`read_vectored` on the
/// socket, waiting for readiness on the reactor.
macro_rules! impl_async_read {
    ($(#[$attr:meta])* $ty:ty, |$this:ident| $io:expr) => {
        $(#[$attr])*
        impl $crate::net::io_impls::ReadUninit for $ty {
            fn poll_read_uninit(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [std::mem::MaybeUninit<u8>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = self;
                $crate::net::io_impls::poll_read_uninit_on(&$io, cx, buf)
            }
        }

        $(#[$attr])*
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $crate::net::io_impls::poll_read_on(&$io, cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                let len = bufs.iter().map(|b| b.len()).sum();
                if len == 0 {
                    // Like a zero-length `read` (see `poll_read_uninit_on`).
                    return std::task::Poll::Ready(Ok(0));
                }
                $io.poll_read_stream(cx, len, |s| {
                    std::io::Read::read_vectored(&mut &*s, bufs).map(|n| (n, false))
                })
            }
        }
    };
}

/// `futures_io::AsyncWrite` for `$ty`: `write`/`write_vectored` on the socket, waiting for
/// readiness on the reactor; `poll_flush` is a no-op, `poll_close` is `shutdown(Write)`.
macro_rules! impl_async_write {
    ($(#[$attr:meta])* $ty:ty, |$this:ident| $io:expr) => {
        $(#[$attr])*
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $io.poll_write_io(cx, |s| std::io::Write::write(&mut &*s, buf))
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $io.poll_write_io(cx, |s| std::io::Write::write_vectored(&mut &*s, bufs))
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                std::task::Poll::Ready($io.get_ref().shutdown(std::net::Shutdown::Write))
            }
        }
    };
}

pub(super) use {impl_async_read, impl_async_write};

/// The [`ReadUninit`] side of `stream`, when it is one of gmp's own stream types (checked by
/// type id, which the compiler resolves per `T`: no run-time cost).
#[cfg_attr(not(any(feature = "hyper", feature = "tokio-io")), allow(dead_code))]
pub(crate) fn as_read_uninit<T: 'static>(stream: &T) -> Option<&dyn ReadUninit> {
    let any = stream as &dyn std::any::Any;
    if let Some(s) = any.downcast_ref::<super::TcpStream>() {
        return Some(s);
    }
    if let Some(s) = any.downcast_ref::<super::tcp::OwnedReadHalf>() {
        return Some(s);
    }
    #[cfg(unix)]
    if let Some(s) = any.downcast_ref::<super::UnixStream>() {
        return Some(s);
    }
    None
}
