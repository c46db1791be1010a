//! The owned halves of a split [`TcpStream`]: [`OwnedReadHalf`] and [`OwnedWriteHalf`].

use std::error::Error;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use crate::io::{Interest, Ready};
use crate::net::io_impls::{
    impl_async_read, impl_async_write, read_exact_on, read_on, write_all_on,
};
use crate::net::TcpStream;

/// The read half of a [`TcpStream`], made by [`TcpStream::into_split`].
///
/// Implements [`futures_io::AsyncRead`]; it can move to another task than its
/// [`OwnedWriteHalf`]. The reactor keeps separate waiter slots for reading and writing, so one
/// task reading and another writing never steal each other's wake-ups.
pub struct OwnedReadHalf {
    inner: Arc<TcpStream>,
}

/// The write half of a [`TcpStream`], made by [`TcpStream::into_split`].
///
/// Implements [`futures_io::AsyncWrite`]. Dropping it shuts down the write direction
/// (`shutdown(Write)`: the peer reads EOF) unless it was reunited; the socket itself closes
/// when both halves are gone.
pub struct OwnedWriteHalf {
    inner: Arc<TcpStream>,
    shutdown_on_drop: bool,
}

/// The error of [`OwnedReadHalf::reunite`] when the two halves came from different streams;
/// it hands both back.
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

pub(crate) fn split_owned(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let inner = Arc::new(stream);
    (
        OwnedReadHalf {
            inner: inner.clone(),
        },
        OwnedWriteHalf {
            inner,
            shutdown_on_drop: true,
        },
    )
}

fn reunite(read: OwnedReadHalf, mut write: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
    if !Arc::ptr_eq(&read.inner, &write.inner) {
        return Err(ReuniteError(read, write));
    }
    write.shutdown_on_drop = false;
    drop(write);
    match Arc::try_unwrap(read.inner) {
        Ok(stream) => Ok(stream),
        // Only the two halves ever hold the Arc, and the write half is gone.
        Err(_) => unreachable!("gmp: a TcpStream half outlived its reunite"),
    }
}

impl OwnedReadHalf {
    /// Wait until the stream is ready for `interest` (see [`TcpStream::ready`]).
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.inner.ready(interest).await
    }

    /// Wait until the stream is readable (see [`TcpStream::readable`]).
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// Read without waiting (see [`TcpStream::try_read`]).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }

    /// Read into several buffers without waiting (see [`TcpStream::try_read_vectored`]).
    pub fn try_read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner.try_read_vectored(bufs)
    }

    /// Put the halves back together into the original [`TcpStream`]. Fails, handing both
    /// back, if they came from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        reunite(self, other)
    }

    /// The remote address of the connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Read the waiting bytes without consuming them; see [`TcpStream::peek`].
    pub async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.peek(buf).await
    }

    /// Read some bytes; `Ok(0)` is end-of-file. See [`TcpStream::read`].
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_on(&self.inner.io, buf).await
    }

    /// Read exactly `buf.len()` bytes. See [`TcpStream::read_exact`].
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        read_exact_on(&self.inner.io, buf).await
    }
}

impl OwnedWriteHalf {
    /// Wait until the stream is ready for `interest` (see [`TcpStream::ready`]).
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        self.inner.ready(interest).await
    }

    /// Wait until the stream is writable (see [`TcpStream::writable`]).
    pub async fn writable(&self) -> io::Result<()> {
        self.inner.writable().await
    }

    /// Write without waiting (see [`TcpStream::try_write`]).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }

    /// Write from several buffers without waiting (see [`TcpStream::try_write_vectored`]).
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.try_write_vectored(bufs)
    }

    /// Put the halves back together; see [`OwnedReadHalf::reunite`].
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        reunite(other, self)
    }

    /// Drop this half without shutting down the write direction.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// The remote address of the connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Shut down the write direction now (the peer reads EOF); see [`TcpStream::shutdown`].
    pub fn shutdown(&self) -> io::Result<()> {
        self.inner.shutdown(Shutdown::Write)
    }

    /// Write some bytes. See [`TcpStream::write`].
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io.write_io(|s| (&*s).write(buf)).await
    }

    /// Write all of `buf`. See [`TcpStream::write_all`].
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all_on(&self.inner.io, buf).await
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // The peer may already be gone (ENOTCONN); nothing useful to do about it here.
            let _ = self.inner.shutdown(Shutdown::Write);
        }
    }
}

impl_async_read!(OwnedReadHalf, |this| this.inner.io);

impl_async_write!(
    /// As for [`TcpStream`]: `poll_flush` is a no-op, `poll_close` shuts down the write
    /// direction.
    OwnedWriteHalf,
    |this| this.inner.io
);

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("stream", &*self.inner)
            .finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("stream", &*self.inner)
            .finish()
    }
}

impl fmt::Debug for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same TcpStream")
    }
}

impl Error for ReuniteError {}
