//! `Listener`: what [`serve`](super::serve) accepts connections from.
//!
//! Invariants:
//! - `poll_accept` is the only way `serve` takes connections; an `Err` from it goes through
//!   `serve`'s accept-error policy (retry, back off, or return), never straight to the caller.
//! - A TCP connection gets `TCP_NODELAY` before `serve` sees it, as `axum::serve` does; failing
//!   to set it does not drop the connection.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

use crate::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// A source of connections for [`serve`](super::serve): implemented for
/// [`gmp::net::TcpListener`](crate::net::TcpListener) and
/// [`gmp::net::UnixListener`](crate::net::UnixListener).
///
/// Implement it for a listener of your own (a TLS acceptor that hands out handshaken streams,
/// say). The connection type must expose its socket's descriptor (`AsRawFd`): after a
/// graceful shutdown's grace period, `serve` shuts the sockets still open down with
/// `shutdown(2)`.
///
/// ```
/// use gmp::hyper::Listener;
///
/// gmp::block_on(async {
///     let listener = gmp::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = Listener::local_addr(&listener).unwrap();
///     assert!(addr.ip().is_loopback());
/// });
/// ```
pub trait Listener: Send + 'static {
    /// A connection: a stream gmp's hyper adapter ([`GmpIo`](super::GmpIo)) can wrap.
    type Io: futures_io::AsyncRead + futures_io::AsyncWrite + AsRawFd + Unpin + Send + 'static;
    /// The peer's address.
    type Addr: Clone + Send + Sync + fmt::Debug + 'static;

    /// Accept one connection, or register the waker and return `Pending`. An error goes
    /// through `serve`'s accept-error policy (see [`serve`](super::serve)).
    ///
    /// ```
    /// use gmp::hyper::Listener;
    /// gmp::block_on(async {
    ///     let mut listener = gmp::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = Listener::local_addr(&listener).unwrap();
    ///     let _client = gmp::net::TcpStream::connect(addr).await.unwrap();
    ///     // The trait method (the inherent `TcpListener::poll_accept` does not set TCP_NODELAY).
    ///     let accept = std::future::poll_fn(|cx| Listener::poll_accept(&mut listener, cx));
    ///     let (stream, _peer) = accept.await.unwrap();
    ///     assert!(stream.nodelay().unwrap()); // set by the TCP impl
    /// });
    /// ```
    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Io, Self::Addr)>>;

    /// The address this listener is bound to (see the trait's example).
    fn local_addr(&self) -> io::Result<Self::Addr>;
}

impl Listener for TcpListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, Self::Addr)>> {
        let (stream, addr) = std::task::ready!(TcpListener::poll_accept(self, cx))?;
        // As axum does: a response is written in one go, Nagle only adds latency. A socket
        // that refuses the option still serves.
        let _ = stream.set_nodelay(true);
        Poll::Ready(Ok((stream, addr)))
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        TcpListener::local_addr(self)
    }
}

impl Listener for UnixListener {
    type Io = UnixStream;
    type Addr = std::os::unix::net::SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, Self::Addr)>> {
        UnixListener::poll_accept(self, cx)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        UnixListener::local_addr(self)
    }
}
