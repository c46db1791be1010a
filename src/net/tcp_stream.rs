//! [`TcpStream`]: a connected TCP socket.

use std::fmt;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};

use crate::net::addr::{each_addr, ToSocketAddrs};
use crate::net::io_impls::{
    impl_async_read, impl_async_write, read_exact_on, read_on, write_all_on,
};
use crate::net::readiness::{impl_readiness, impl_stream_try_rw};
use crate::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use crate::reactor::IoSource;

/// A TCP connection.
///
/// Made by [`connect`](TcpStream::connect), by [`TcpListener::accept`], or from a std stream
/// with [`from_std`](TcpStream::from_std). Read and write it through
/// [`futures_io::AsyncRead`]/[`futures_io::AsyncWrite`] (with the `futures` crate's
/// `AsyncReadExt`/`AsyncWriteExt`, `BufReader`, `copy`, …) or the inherent
/// [`read`](TcpStream::read)/[`write`](TcpStream::write)/[`read_exact`](TcpStream::read_exact)/
/// [`write_all`](TcpStream::write_all). To read in one task and write in another, split it with
/// [`into_split`](TcpStream::into_split).
///
/// Once a read that filled its buffer has been followed by one that found nothing, reads ask
/// the kernel how much is left queued after them (Linux `TCP_INQ`), so a read that fills its
/// buffer and empties the socket — a `read_exact` of a whole message — is not followed by a
/// `recv` that can only fail with `EAGAIN`: one `recv` per message. Until then they are plain
/// `recv`s, which cost less: a short read needs no report.
///
/// Dropping the stream closes the socket.
///
/// ```
/// use gmp::net::{TcpListener, TcpStream};
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     gmp::spawn(async move {
///         let (mut conn, _) = listener.accept().await.unwrap();
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).await.unwrap();
///         conn.write_all(&buf).await.unwrap(); // echo
///     });
///     let mut stream = TcpStream::connect(addr).await?;
///     stream.write_all(b"hello").await?;
///     let mut buf = [0; 5];
///     stream.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     Ok::<(), std::io::Error>(())
/// }))
/// .unwrap()
/// .unwrap();
/// ```
///
/// [`TcpListener::accept`]: crate::net::TcpListener::accept
pub struct TcpStream {
    pub(super) io: IoSource<mio::net::TcpStream>,
}

impl TcpStream {
    pub(crate) fn from_mio(mio: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: IoSource::new(mio)?,
        })
    }

    /// Open a TCP connection to `addr`.
    ///
    /// `addr` may resolve to several addresses; each is tried in turn and the first connection
    /// that succeeds is returned. If all fail, the error of the last attempt is returned, with
    /// the OS cause: [`ErrorKind::ConnectionRefused`](io::ErrorKind::ConnectionRefused) when
    /// nothing listens there, `HostUnreachable`, `TimedOut`, …. Host names are resolved with
    /// the blocking system resolver (see [`ToSocketAddrs`]).
    ///
    /// The connect itself never blocks the M: the socket is non-blocking, and the task waits
    /// for it to become writable, then reads the outcome from `SO_ERROR`.
    ///
    /// ```
    /// use gmp::net::{TcpListener, TcpStream};
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     // Find a port that nothing listens on.
    ///     let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    ///     let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// }))
    /// .unwrap();
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::finish_connect(mio::net::TcpStream::connect(addr)?).await
    }

    /// Register a socket whose non-blocking connect has started and wait for its outcome.
    pub(crate) async fn finish_connect(mio: mio::net::TcpStream) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio)?;
        stream.io.write_io(connect_outcome).await?;
        Ok(stream)
    }

    /// Wrap a stream from the standard library, switching it to non-blocking mode.
    ///
    /// It registers with the current runtime's reactor (else the global runtime's); call it from
    /// inside the runtime that will use it.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let stream = gmp::net::TcpStream::from_std(std_stream).unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// }))
    /// .unwrap();
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// Deregister from the reactor and return the standard-library stream. It stays in
    /// non-blocking mode; call `set_nonblocking(false)` for blocking use.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.io.into_inner()?.into())
    }

    /// The remote address this stream is connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address of this end of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Set `TCP_NODELAY`: `true` disables Nagle's algorithm, so small writes go out at once.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Set the IP time-to-live (`IP_TTL`).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Take the pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Shut down the read half, the write half, or both, at once (no waiting), like
    /// [`std::net::TcpStream::shutdown`].
    ///
    /// After `Shutdown::Write` the peer reads end-of-file once it has read everything sent
    /// before; this side can still read. (`AsyncWrite::poll_close` does the same.)
    ///
    /// ```
    /// use std::net::Shutdown;
    /// use gmp::net::{TcpListener, TcpStream};
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     client.write_all(b"last words").await.unwrap();
    ///     client.shutdown(Shutdown::Write).unwrap();
    ///     let mut got = Vec::new();
    ///     let mut buf = [0; 64];
    ///     loop {
    ///         let n = server.read(&mut buf).await.unwrap();
    ///         if n == 0 { break } // EOF
    ///         got.extend_from_slice(&buf[..n]);
    ///     }
    ///     assert_eq!(got, b"last words");
    ///     server.write_all(b"ok").await.unwrap(); // the other direction still works
    ///     let mut ok = [0; 2];
    ///     client.read_exact(&mut ok).await.unwrap();
    ///     assert_eq!(&ok, b"ok");
    /// }))
    /// .unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Read the bytes waiting in the receive buffer without consuming them (`MSG_PEEK`), waiting
    /// until at least one byte (or EOF) is there. Returns 0 at EOF.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_io(|s| s.peek(buf)).await
    }

    /// Read some bytes into `buf`, waiting until at least one is available. Returns how many
    /// were read; `Ok(0)` means end-of-file (the peer shut down its write side or closed), or
    /// that `buf` is empty.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_on(&self.io, buf).await
    }

    /// Read exactly `buf.len()` bytes. Fails with
    /// [`ErrorKind::UnexpectedEof`](io::ErrorKind::UnexpectedEof) if the stream ends first
    /// (the bytes read so far are then in `buf`, but how many is not reported).
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        read_exact_on(&self.io, buf).await
    }

    /// Write some bytes from `buf`, waiting until the socket can take at least one. Returns how
    /// many were written.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_io(|s| (&*s).write(buf)).await
    }

    /// Write all of `buf`, waiting for room as needed.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all_on(&self.io, buf).await
    }

    /// Split into an owned read half and an owned write half that can move to different tasks.
    /// [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// Dropping the write half shuts down the write direction (the peer reads EOF), unless it
    /// is reunited.
    ///
    /// ```
    /// use gmp::net::{TcpListener, TcpStream};
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let (mut server, _) = listener.accept().await.unwrap();
    ///     let (mut rd, mut wr) = client.into_split();
    ///     let writer = gmp::spawn(async move {
    ///         wr.write_all(b"ping").await.unwrap();
    ///         wr
    ///     });
    ///     let mut buf = [0; 4];
    ///     server.read_exact(&mut buf).await.unwrap();
    ///     server.write_all(b"pong").await.unwrap();
    ///     rd.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"pong");
    ///     let wr = writer.await.unwrap();
    ///     let _client: TcpStream = rd.reunite(wr).unwrap();
    /// }))
    /// .unwrap();
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        crate::net::tcp_split::split_owned(self)
    }
}

/// The outcome of a non-blocking connect once the socket reports writable: the pending error
/// if it failed, `WouldBlock` (wait for the next edge) if it is still in progress.
fn connect_outcome(s: &mio::net::TcpStream) -> io::Result<()> {
    if let Some(e) = s.take_error()? {
        return Err(e);
    }
    match s.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

impl_readiness!(TcpStream, |this| this.io);
impl_stream_try_rw!(TcpStream, |this| this.io);

impl_async_read!(
    /// Reads wait for data without blocking the M. `Ok(0)` is end-of-file.
    TcpStream,
    |this| this.io
);

impl_async_write!(
    /// Writes go straight to the socket (there is no user-space buffer, so `poll_flush` is a
    /// no-op); `poll_close` shuts down the write direction (`shutdown(Write)`), after which the
    /// peer reads EOF and this side can still read.
    TcpStream,
    |this| this.io
);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
