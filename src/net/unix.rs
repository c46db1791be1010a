//! Unix domain sockets: [`UnixListener`], [`UnixStream`] and [`UnixDatagram`].

use std::fmt;
use std::io::{self, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use crate::io::Interest;
use crate::net::io_impls::{
    impl_async_read, impl_async_write, read_exact_on, read_on, write_all_on,
};
use crate::net::readiness::{impl_readiness, impl_stream_try_rw};
use crate::reactor::IoSource;

/// A Unix domain socket server, listening for connections on a filesystem path.
///
/// Dropping the listener closes the socket but does not remove the socket file; remove it
/// yourself (`std::fs::remove_file`) when done, or before binding the same path again.
///
/// ```
/// use gmp::net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("gmp-doc-unix-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("sock");
/// let _ = std::fs::remove_file(&path);
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let listener = UnixListener::bind(&path)?;
///     let server = gmp::spawn(async move {
///         let (mut conn, _) = listener.accept().await?;
///         let mut buf = [0; 4];
///         conn.read_exact(&mut buf).await?;
///         conn.write_all(&buf).await
///     });
///     let mut client = UnixStream::connect(&path).await?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     client.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     server.await.unwrap()
/// }))
/// .unwrap()
/// .unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    io: IoSource<mio::net::UnixListener>,
}

impl UnixListener {
    /// Bind a listener to the socket file `path` (which must not exist yet:
    /// [`ErrorKind::AddrInUse`](io::ErrorKind::AddrInUse) otherwise) and start listening.
    ///
    /// Registers with the current runtime's reactor, else the global runtime's.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::bind(path)?)?,
        })
    }

    /// Wrap a listener from the standard library, switching it to non-blocking mode.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::from_std(listener))?,
        })
    }

    /// Deregister from the reactor and return the standard-library listener (still
    /// non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(self.io.into_inner()?.into())
    }

    /// Wait for the next connection; returns the stream and the peer's (usually unnamed)
    /// address. Dropping the future before it completes loses no connection.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (mio, peer) = self.io.read_io(|l| l.accept()).await?;
        Ok((UnixStream::from_mio(mio)?, peer))
    }

    /// Poll form of [`accept`](UnixListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        match self.io.poll_read_io(cx, |l| l.accept()) {
            Poll::Ready(Ok((mio, peer))) => {
                Poll::Ready(UnixStream::from_mio(mio).map(|s| (s, peer)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The address (path) this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Take the pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

/// A connected Unix domain stream socket.
///
/// Made by [`connect`](UnixStream::connect), [`UnixListener::accept`] or
/// [`pair`](UnixStream::pair). Implements [`futures_io::AsyncRead`] and
/// [`futures_io::AsyncWrite`] (`poll_flush` is a no-op; `poll_close` shuts down the write
/// direction), and has the same inherent `read`/`write`/`read_exact`/`write_all` as
/// [`TcpStream`](crate::net::TcpStream).
///
/// ```
/// use gmp::net::UnixStream;
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.write_all(b"hello").await?;
///     let mut buf = [0; 5];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hello");
///     Ok::<(), std::io::Error>(())
/// }))
/// .unwrap()
/// .unwrap();
/// ```
pub struct UnixStream {
    io: IoSource<mio::net::UnixStream>,
}

impl UnixStream {
    fn from_mio(mio: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: IoSource::new(mio)?,
        })
    }

    /// Connect to the socket file at `path`. Fails with the OS cause:
    /// [`ErrorKind::NotFound`](io::ErrorKind::NotFound) if there is no such file,
    /// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused) if nothing listens on it, and
    /// `WouldBlock` if the listener's backlog is full.
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let stream = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
        stream.io.write_io(connect_outcome).await?;
        Ok(stream)
    }

    /// A connected pair of streams (`socketpair`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// Wrap a stream from the standard library, switching it to non-blocking mode.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// Deregister from the reactor and return the standard-library stream (still
    /// non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.io.into_inner()?.into())
    }

    /// The local address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Take the pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Shut down the read half, the write half, or both, at once; see
    /// [`TcpStream::shutdown`](crate::net::TcpStream::shutdown).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Read some bytes; `Ok(0)` is end-of-file.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_on(&self.io, buf).await
    }

    /// Read exactly `buf.len()` bytes, or fail with `UnexpectedEof`.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        read_exact_on(&self.io, buf).await
    }

    /// Write some bytes; returns how many were written.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_io(|s| (&*s).write(buf)).await
    }

    /// Write all of `buf`.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all_on(&self.io, buf).await
    }
}

/// The outcome of a non-blocking connect once the socket reports writable: the pending error,
/// or `WouldBlock` while the connect is still in progress.
fn connect_outcome(s: &mio::net::UnixStream) -> io::Result<()> {
    if let Some(e) = s.take_error()? {
        return Err(e);
    }
    match s.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

impl_readiness!(UnixStream, |this| this.io);
impl_stream_try_rw!(UnixStream, |this| this.io);
impl_readiness!(UnixDatagram, |this| this.io);

impl_async_read!(UnixStream, |this| this.io);

impl_async_write!(
    /// As for [`TcpStream`](crate::net::TcpStream): `poll_flush` is a no-op, `poll_close`
    /// shuts down the write direction.
    UnixStream,
    |this| this.io
);

/// A Unix domain datagram socket.
///
/// ```
/// use gmp::net::UnixDatagram;
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let (a, b) = UnixDatagram::pair()?;
///     a.send(b"one datagram").await?;
///     let mut buf = [0; 32];
///     let n = b.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"one datagram");
///     Ok::<(), std::io::Error>(())
/// }))
/// .unwrap()
/// .unwrap();
/// ```
pub struct UnixDatagram {
    io: IoSource<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    fn from_mio(mio: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: IoSource::new(mio)?,
        })
    }

    /// Bind a socket to the file `path` (which must not exist yet).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address (it can send, and receive replies if connected).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets (`socketpair`).
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    /// Wrap a socket from the standard library, switching it to non-blocking mode.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    /// Deregister from the reactor and return the standard-library socket (still
    /// non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Ok(self.io.into_inner()?.into())
    }

    /// Set the default peer for [`send`](UnixDatagram::send) and
    /// [`recv`](UnixDatagram::recv).
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Send one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_io(|s| s.send(buf)).await
    }

    /// Receive one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_io(|s| s.recv(buf)).await
    }

    /// Send one datagram to the socket at `path`.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.write_io(|s| s.send_to(buf, path)).await
    }

    /// Receive one datagram and the sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_io(|s| s.recv_from(buf)).await
    }

    /// Send `buf` to the connected peer without waiting: `WouldBlock` when the send buffer
    /// is full (the writable readiness is then cleared; wait with `writable()`).
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, |s| s.send(buf))
    }

    /// Receive one datagram from the connected peer without waiting: `WouldBlock` when none
    /// is queued (the readable readiness is then cleared; wait with `readable()`).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Interest::READABLE, |s| s.recv(buf))
    }

    /// Send `buf` as one datagram to the socket file at `path` without waiting.
    pub fn try_send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, |s| s.send_to(buf, path))
    }

    /// Receive one datagram and its sender's address without waiting.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Interest::READABLE, |s| s.recv_from(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shut down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Take the pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

macro_rules! fd_and_debug {
    ($($ty:ident),*) => {$(
        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    )*};
}

fd_and_debug!(UnixListener, UnixStream, UnixDatagram);
