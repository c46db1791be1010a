//! tokio's I/O traits for gmp's streams (feature `tokio-io`).
//!
//! [`TcpStream`], its owned halves ([`OwnedReadHalf`], [`OwnedWriteHalf`]) and [`UnixStream`]
//! implement `tokio::io::AsyncRead`/`AsyncWrite` as well as the `futures_io` traits, so code
//! written against tokio's traits (tokio-util's codecs, `tokio::io::copy`, hyper-util's
//! `TokioIo`, …) runs on gmp sockets unchanged. Writes delegate to the type's `futures_io`
//! implementation; reads go straight into `ReadBuf`'s uninitialized part (no zeroing): the
//! same non-blocking syscall, the same reactor wakeups.
//!
//! `poll_flush` is a no-op (there is no user-space buffer) and `poll_shutdown` shuts down
//! the write direction, as `futures_io`'s `poll_close` does.

use super::io_impls::ReadUninit;
use super::tcp::{OwnedReadHalf, OwnedWriteHalf};
use super::TcpStream;
#[cfg(unix)]
use super::UnixStream;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;

/// Read into `buf`'s unfilled part, uninitialized, straight from the socket.
fn poll_read_via<R: ReadUninit>(
    r: &R,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: the slice is only handed to `poll_read_uninit`, which writes bytes into it and
    // never de-initializes any.
    let dst = unsafe { buf.unfilled_mut() };
    let n = ready!(r.poll_read_uninit(cx, dst))?;
    // SAFETY: `poll_read_uninit` initialized the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

macro_rules! tokio_read {
    ($ty:ty) => {
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read_via(self.get_mut(), cx, buf)
            }
        }
    };
}

/// tokio's `AsyncWrite` for a type whose `futures_io::AsyncWrite` does the work (sockets,
/// `gmp::fs::File`, child pipes): every method delegates, `poll_shutdown` to `poll_close`,
/// and writes are vectored (`writev`). Paths are spelled out so other modules can use it.
macro_rules! tokio_write {
    ($ty:ty) => {
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures_io::AsyncWrite::poll_close(self, cx)
            }
        }
    };
}
pub(crate) use tokio_write;

tokio_read!(TcpStream);
tokio_write!(TcpStream);
tokio_read!(OwnedReadHalf);
tokio_write!(OwnedWriteHalf);
#[cfg(unix)]
tokio_read!(UnixStream);
#[cfg(unix)]
tokio_write!(UnixStream);
