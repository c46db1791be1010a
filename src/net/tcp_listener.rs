//! [`TcpListener`]: a TCP socket listening for connections.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use crate::net::addr::{each_addr, ToSocketAddrs};
use crate::net::tcp_socket::default_backlog;
use crate::net::{TcpSocket, TcpStream};
use crate::reactor::IoSource;

/// A TCP socket server, listening for connections.
///
/// Created with [`bind`](TcpListener::bind) (or [`from_std`](TcpListener::from_std)); each
/// [`accept`](TcpListener::accept) waits, without blocking the M, for the next connection.
/// Dropping the listener closes the socket.
///
/// ```
/// use gmp::net::{TcpListener, TcpStream};
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = gmp::spawn(async move {
///         let (mut conn, _peer) = listener.accept().await?;
///         conn.write_all(b"hi").await
///     });
///     let mut client = TcpStream::connect(addr).await?;
///     let mut buf = [0; 2];
///     client.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     server.await.unwrap()
/// }))
/// .unwrap()
/// .unwrap();
/// ```
///
/// Waiting: the listener has one waiter slot for `accept`. Several tasks may share it (it is
/// `Sync`), but only one should be waiting in `accept` at a time; a second concurrent waiter
/// replaces the first one's wake-up.
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Bind a new listener to `addr` and start listening, with `SO_REUSEADDR` set and an
    /// accept queue as deep as the kernel allows (`net.core.somaxconn`, 4096 by default
    /// since Linux 5.4), as Go's `net.Listen` does. (std, mio and tokio listen with 128:
    /// a burst of connects then overflows the queue and the dropped clients wait out a 1 s
    /// SYN retry.) For another backlog use [`TcpSocket::listen`].
    ///
    /// `addr` may resolve to several addresses; each is tried in turn and the first that binds
    /// wins. If none does, the error of the last attempt is returned, carrying the OS cause
    /// ([`ErrorKind::AddrInUse`](io::ErrorKind::AddrInUse),
    /// [`PermissionDenied`](io::ErrorKind::PermissionDenied), …). Host names are resolved with
    /// the blocking system resolver (see [`ToSocketAddrs`]).
    ///
    /// The listener registers with the reactor of the current runtime (the one whose task or
    /// `block_on` is running), else the global runtime.
    ///
    /// ```
    /// use gmp::net::TcpListener;
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let port = listener.local_addr().unwrap().port();
    ///     // The port is taken now.
    ///     let err = TcpListener::bind(("127.0.0.1", port)).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// }))
    /// .unwrap();
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| async move {
            let socket = TcpSocket::new_for_addr(&a)?;
            socket.set_reuseaddr(true)?;
            socket.bind(a)?;
            socket.listen(default_backlog())
        })
        .await
    }

    /// Wrap a socket that already listens and is non-blocking (from [`TcpSocket::listen`]).
    pub(crate) fn from_listening(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: IoSource::new(mio::net::TcpListener::from_std(listener))?,
        })
    }

    /// Wrap a listener from the standard library, switching it to non-blocking mode.
    ///
    /// Like [`bind`](TcpListener::bind), it registers with the current runtime's reactor (else
    /// the global runtime's); so call it from inside the runtime that will use it.
    ///
    /// ```
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let listener = gmp::net::TcpListener::from_std(std_listener).unwrap();
    ///     assert!(listener.local_addr().unwrap().port() != 0);
    /// }))
    /// .unwrap();
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(mio::net::TcpListener::from_std(listener))?,
        })
    }

    /// Deregister from the reactor and return the standard-library listener. It stays in
    /// non-blocking mode; call `set_nonblocking(false)` for blocking use.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.io.into_inner()?.into())
    }

    /// Wait for the next connection; returns the connected stream and the peer's address.
    ///
    /// Errors carry the OS cause, e.g. `EMFILE` ("too many open files") when the process is out
    /// of descriptors; the listener stays usable after an error.
    ///
    /// Cancel safety: dropping the future before it completes loses no connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (mio, peer) = self.io.read_io(|l| l.accept()).await?;
        Ok((TcpStream::from_mio(mio)?, peer))
    }

    /// Poll for the next connection: `Poll::Pending` (with `cx`'s waker registered) until one
    /// is ready. The building block of [`accept`](TcpListener::accept), for hand-written
    /// futures and streams.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.io.poll_read_io(cx, |l| l.accept()) {
            Poll::Ready(Ok((mio, peer))) => {
                Poll::Ready(TcpStream::from_mio(mio).map(|s| (s, peer)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The local address this listener is bound to (with the OS-chosen port if it bound
    /// port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Set the IP time-to-live (`IP_TTL`) of accepted sockets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live (`IP_TTL`) of this socket.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Take the pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
