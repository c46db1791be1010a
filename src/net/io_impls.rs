//! The `futures_io` impls of the stream types ([`TcpStream`](super::TcpStream), its owned
//! halves, [`UnixStream`](super::UnixStream)): every one is the same non-blocking syscall on
//! the socket behind an `IoSource`, so they are written once, here.
//!
//! The inherent `read_exact`/`write_all` loops are shared too: [`read_exact_on`] and
//! [`write_all_on`].
//!
//! `impl_async_read!(Type, |this| io)` and `impl_async_write!(Type, |this| io)`, where `io`
//! is an expression naming the `&IoSource<_>` of `this: &Type`. Writes go straight to the
//! socket (there is no user-space buffer, so `poll_flush` is a no-op); `poll_close` shuts
//! down the write direction (`shutdown(Write)`).

use std::io::{self, Read, Write};

use crate::reactor::IoSource;

/// Read exactly `buf.len()` bytes from the socket behind `io`. Fails with
/// [`ErrorKind::UnexpectedEof`](io::ErrorKind::UnexpectedEof) if the stream ends first.
pub(super) async fn read_exact_on<S: mio::event::Source>(
    io: &IoSource<S>,
    mut buf: &mut [u8],
) -> io::Result<()>
where
    for<'a> &'a S: Read,
{
    while !buf.is_empty() {
        match io.read_io(|s| (&*s).read(buf)).await? {
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

/// `futures_io::AsyncRead` for `$ty`: `read`/`read_vectored` on the socket, waiting for
/// readiness on the reactor.
macro_rules! impl_async_read {
    ($(#[$attr:meta])* $ty:ty, |$this:ident| $io:expr) => {
        $(#[$attr])*
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $io.poll_read_io(cx, |s| std::io::Read::read(&mut &*s, buf))
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $io.poll_read_io(cx, |s| std::io::Read::read_vectored(&mut &*s, bufs))
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
