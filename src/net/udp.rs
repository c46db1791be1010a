//! [`UdpSocket`]: a UDP socket.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{Context, Poll};

use crate::io::Interest;
use crate::net::addr::{each_addr, first_addr, ToSocketAddrs};
use crate::net::readiness::impl_readiness;
use crate::reactor::IoSource;

/// A UDP socket.
///
/// Unconnected, it sends with [`send_to`](UdpSocket::send_to) and receives from anyone with
/// [`recv_from`](UdpSocket::recv_from). After [`connect`](UdpSocket::connect) it has a default
/// peer: [`send`](UdpSocket::send)/[`recv`](UdpSocket::recv) talk to it only, and the OS
/// filters out datagrams from other addresses.
///
/// All methods take `&self`, so the socket can be shared (e.g. in an `Arc`) between one task
/// that receives and one that sends. The reactor keeps one waiter slot per direction: at most
/// one task should wait to receive, and one to send, at a time.
///
/// ```
/// use gmp::net::UdpSocket;
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok::<(), std::io::Error>(())
/// }))
/// .unwrap()
/// .unwrap();
/// ```
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Bind a socket to `addr`, trying each address it resolves to; returns the last error if
    /// none binds (e.g. [`ErrorKind::AddrInUse`](io::ErrorKind::AddrInUse)). Host names are
    /// resolved with the blocking system resolver (see [`ToSocketAddrs`]).
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| async move {
            Ok(UdpSocket {
                io: IoSource::new(mio::net::UdpSocket::bind(a)?)?,
            })
        })
        .await
    }

    /// Wrap a socket from the standard library, switching it to non-blocking mode. It registers
    /// with the current runtime's reactor (else the global runtime's).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(mio::net::UdpSocket::from_std(socket))?,
        })
    }

    /// Deregister from the reactor and return the standard-library socket (still
    /// non-blocking).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.io.into_inner()?.into())
    }

    /// Set the default peer: [`send`](UdpSocket::send) goes there, and only its datagrams are
    /// received. Tries each address `addr` resolves to; returns the last error if none works.
    ///
    /// ```
    /// use gmp::net::UdpSocket;
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send(b"ping").await?;
    ///     let mut buf = [0; 16];
    ///     let n = b.recv(&mut buf).await?;
    ///     assert_eq!(&buf[..n], b"ping");
    ///     Ok::<(), std::io::Error>(())
    /// }))
    /// .unwrap()
    /// .unwrap();
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| async move { self.io.get_ref().connect(a) }).await
    }

    /// Send `buf` to the connected peer as one datagram; returns the bytes sent. Fails with
    /// `NotConnected` before [`connect`](UdpSocket::connect); an ICMP "port unreachable" from
    /// an earlier datagram may surface here as `ConnectionRefused`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_io(|s| s.send(buf)).await
    }

    /// Receive one datagram from the connected peer into `buf`; returns its length (truncated
    /// to `buf.len()` if it was longer; the rest is discarded).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_io(|s| s.recv(buf)).await
    }

    /// Send `buf` as one datagram to `target` (the first address it resolves to).
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let target = first_addr(target)?;
        self.io.write_io(|s| s.send_to(buf, target)).await
    }

    /// Receive one datagram into `buf`; returns its length (truncated to `buf.len()`) and the
    /// sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_io(|s| s.recv_from(buf)).await
    }

    /// Like [`recv_from`](UdpSocket::recv_from), but leaves the datagram in the queue.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_io(|s| s.peek_from(buf)).await
    }

    /// Send `buf` to the connected peer without waiting: `WouldBlock` when the send buffer
    /// is full (the writable readiness is then cleared; wait with `writable()`).
    ///
    /// ```
    /// use gmp::net::UdpSocket;
    ///
    /// let rt = gmp::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async move {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     a.writable().await?;
    ///     assert_eq!(a.try_send(b"ping")?, 4);
    ///     let mut buf = [0; 16];
    ///     let (n, from) = loop {
    ///         b.readable().await?;
    ///         match b.try_recv_from(&mut buf) {
    ///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///             res => break res?,
    ///         }
    ///     };
    ///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
    ///     Ok::<(), std::io::Error>(())
    /// }))
    /// .unwrap()
    /// .unwrap();
    /// ```
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Interest::WRITABLE, |s| s.send(buf))
    }

    /// Receive one datagram from the connected peer without waiting: `WouldBlock` when none
    /// is queued (the readable readiness is then cleared; wait with `readable()`).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Interest::READABLE, |s| s.recv(buf))
    }

    /// Send `buf` as one datagram to `target` without waiting (see
    /// [`try_send`](UdpSocket::try_send)).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .try_io(Interest::WRITABLE, |s| s.send_to(buf, target))
    }

    /// Receive one datagram and its sender without waiting (see
    /// [`try_recv`](UdpSocket::try_recv)).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Interest::READABLE, |s| s.recv_from(buf))
    }

    /// Like [`try_recv_from`](UdpSocket::try_recv_from), but leaves the datagram queued.
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Interest::READABLE, |s| s.peek_from(buf))
    }

    /// Poll form of [`send`](UdpSocket::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_write_io(cx, |s| s.send(buf))
    }

    /// Poll form of [`recv`](UdpSocket::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read_io(cx, |s| s.recv(buf))
    }

    /// Poll form of [`send_to`](UdpSocket::send_to), to an already resolved address.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_io(cx, |s| s.send_to(buf, target))
    }

    /// Poll form of [`recv_from`](UdpSocket::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_read_io(cx, |s| s.recv_from(buf))
    }

    /// The local address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address; `NotConnected` before [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Set `SO_BROADCAST` (allow sending to broadcast addresses).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Set the IP time-to-live (`IP_TTL`).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Join an IPv4 multicast group on `interface` (`0.0.0.0`: the default one).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leave an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Join an IPv6 multicast group on interface index `interface` (0: the default one).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leave an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(multiaddr, interface)
    }

    /// Take the pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl_readiness!(UdpSocket, |this| this.io);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
