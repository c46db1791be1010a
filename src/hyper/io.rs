//! `GmpIo`: `futures_io` streams as hyper's `Read`/`Write`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Adapts a `futures_io::AsyncRead`/`AsyncWrite` stream — a
/// [`gmp::net::TcpStream`](crate::net::TcpStream), a [`UnixStream`](crate::net::UnixStream),
/// a TLS stream over one — to hyper's [`hyper::rt::Read`]/[`hyper::rt::Write`], the way
/// hyper-util's `TokioIo` adapts tokio streams.
///
/// `poll_flush` and `poll_shutdown` map to `poll_flush` and `poll_close`. gmp's own streams
/// read straight into hyper's uninitialized buffer; other readers get it zeroed first (what
/// `futures_io::AsyncRead` asks for).
#[derive(Debug)]
pub struct GmpIo<T> {
    inner: T,
}

impl<T> GmpIo<T> {
    /// Wrap a stream.
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwrap the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> hyper::rt::Read for GmpIo<T>
where
    T: futures_io::AsyncRead + Unpin + 'static,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // gmp's own streams read straight into hyper's uninitialized buffer.
        if let Some(r) = crate::net::io_impls::as_read_uninit(&this.inner) {
            // SAFETY: the slice is only handed to `poll_read_uninit`, which writes bytes into
            // it and never de-initializes any.
            let dst = unsafe { buf.as_mut() };
            let n = ready!(r.poll_read_uninit(cx, dst))?;
            // SAFETY: `poll_read_uninit` initialized the first `n` bytes, `n <= dst.len()`.
            unsafe { buf.advance(n) };
            return Poll::Ready(Ok(()));
        }
        // Any other `futures_io` reader reads into initialized memory: zero the unfilled part
        // first (hyper hands a fresh cursor per read, so this costs a memset per read).
        let dst = buf.initialize_unfilled();
        let len = dst.len();
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, dst))?;
        // A reader that claims more than it was given would break `advance`'s contract.
        assert!(
            n <= len,
            "gmp: AsyncRead::poll_read returned {n} > buffer length {len}"
        );
        // SAFETY: the first `n` bytes of the unfilled part were initialized by
        // `initialize_unfilled` and then written by `poll_read`, and `n <= len` (checked above).
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T> hyper::rt::Write for GmpIo<T>
where
    T: futures_io::AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
