//! [`TcpSocket`]: a TCP socket not yet connected or listening, for options that must be set
//! before `bind`/`listen`/`connect` (tokio's `TcpSocket`).
//!
//! Invariants: the socket is non-blocking and close-on-exec from its creation (see
//! `net::sys`); `listen` and `connect` consume it, so an option can only be set while it
//! still means something; `TcpSocket` is not registered with the reactor — the
//! `TcpListener`/`TcpStream` it turns into is, on the runtime current at that moment.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::time::Duration;

use super::sys;
use crate::net::{TcpListener, TcpStream};

/// A TCP socket before it connects or listens: set options (`SO_REUSEADDR`, `SO_REUSEPORT`,
/// buffer sizes, `TCP_NODELAY`, keepalive, linger), [`bind`](TcpSocket::bind), then
/// [`listen`](TcpSocket::listen) with the backlog you choose or
/// [`connect`](TcpSocket::connect).
///
/// ```
/// use gmp::net::TcpSocket;
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     // A deep accept queue for connection bursts (the kernel caps it at somaxconn).
///     let listener = socket.listen(4096)?;
///     let addr = listener.local_addr()?;
///
///     let client = TcpSocket::new_v4()?;
///     client.set_nodelay(true)?;
///     let stream = client.connect(addr).await?;
///     let (_conn, peer) = listener.accept().await?;
///     assert_eq!(peer, stream.local_addr()?);
///     assert!(stream.nodelay()?);
///     Ok::<(), std::io::Error>(())
/// }))
/// .unwrap()
/// .unwrap();
/// ```
///
/// Invalid option values are the OS's business: the setter returns its error (`EINVAL`,
/// …) and leaves the socket usable.
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    /// A new IPv4 TCP socket (non-blocking, close-on-exec).
    pub fn new_v4() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: sys::tcp_socket(libc::AF_INET)?,
        })
    }

    /// A new IPv6 TCP socket (non-blocking, close-on-exec).
    pub fn new_v6() -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: sys::tcp_socket(libc::AF_INET6)?,
        })
    }

    /// A new socket of `addr`'s family.
    pub(crate) fn new_for_addr(addr: &SocketAddr) -> io::Result<TcpSocket> {
        match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
    }

    /// Take a std stream's socket (to set options on it and connect it again, say); it is
    /// switched to non-blocking mode.
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        // A socket that refuses O_NONBLOCK would block an M; this cannot fail on an open
        // TCP socket, and `connect` checks nothing else, so report nothing here (tokio's
        // signature).
        let _ = stream.set_nonblocking(true);
        TcpSocket {
            fd: OwnedFd::from(stream),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Set `SO_REUSEADDR`: bind a port that has connections in `TIME_WAIT` (what servers
    /// want; [`TcpListener::bind`] sets it).
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        sys::set_flag(self.fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, reuseaddr)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        sys::flag(self.fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR)
    }

    /// Set `SO_REUSEPORT`: several sockets (all with it set) may bind the same address and
    /// port; the kernel spreads incoming connections over their listeners.
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        sys::set_flag(self.fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, reuseport)
    }

    /// Whether `SO_REUSEPORT` is set.
    pub fn reuseport(&self) -> io::Result<bool> {
        sys::flag(self.fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT)
    }

    /// Set `TCP_NODELAY`: `true` disables Nagle's algorithm (small writes go out at once).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        sys::set_flag(self.fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY, nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        sys::flag(self.fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY)
    }

    /// Set `SO_KEEPALIVE`: probe an idle connection so a dead peer is noticed.
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        sys::set_flag(self.fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE, keepalive)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        sys::flag(self.fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE)
    }

    /// Set the send buffer size (`SO_SNDBUF`). Linux doubles the value (for its own
    /// bookkeeping) and clamps it to `net.core.wmem_max`, so
    /// [`send_buffer_size`](TcpSocket::send_buffer_size) reads back something else.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        sys::setsockopt(
            self.fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            clamp_int(size),
        )
    }

    /// The send buffer size (`SO_SNDBUF`) the kernel uses.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        sys::getsockopt(
            self.fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            0 as libc::c_int,
        )
        .map(|n| n as u32)
    }

    /// Set the receive buffer size (`SO_RCVBUF`); doubled and clamped (to
    /// `net.core.rmem_max`) like the send buffer's.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        sys::setsockopt(
            self.fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            clamp_int(size),
        )
    }

    /// The receive buffer size (`SO_RCVBUF`) the kernel uses.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        sys::getsockopt(
            self.fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            0 as libc::c_int,
        )
        .map(|n| n as u32)
    }

    /// Set `SO_LINGER`: with `Some(t)`, closing the socket waits up to `t` (whole seconds)
    /// for unsent data to go out, and `Some(Duration::ZERO)` resets the connection on close
    /// instead of the normal FIN; `None` restores the default (close at once, send in the
    /// background).
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        let linger = libc::linger {
            l_onoff: libc::c_int::from(dur.is_some()),
            l_linger: dur.map_or(0, |d| {
                d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
            }),
        };
        sys::setsockopt(self.fd(), libc::SOL_SOCKET, libc::SO_LINGER, linger)
    }

    /// The `SO_LINGER` setting (see [`set_linger`](TcpSocket::set_linger)).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        let init = libc::linger {
            l_onoff: 0,
            l_linger: 0,
        };
        let l = sys::getsockopt(self.fd(), libc::SOL_SOCKET, libc::SO_LINGER, init)?;
        Ok((l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger.max(0) as u64)))
    }

    /// Bind to `addr` (port 0: the OS picks one; see [`local_addr`](TcpSocket::local_addr)).
    /// Errors are the OS's: `AddrInUse`, `AddrNotAvailable`, `InvalidInput` for an address
    /// of the other family.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        sys::bind(self.fd(), &addr)
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::local_addr(self.fd())
    }

    /// Take the pending socket error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let e = sys::getsockopt(
            self.fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            0 as libc::c_int,
        )?;
        Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
    }

    /// Start listening, with an accept queue of up to `backlog` connections (the kernel caps
    /// it at `net.core.somaxconn`, 4096 by default since Linux 5.4), and register the
    /// listener with the current runtime's reactor (else the global runtime's).
    ///
    /// The backlog is what a burst of connects meets before `accept` catches up: when the
    /// queue is full the kernel drops the SYNs, and each dropped client retries only after
    /// its SYN timeout (1 s, then 3 s, …). [`TcpListener::bind`] uses somaxconn.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        sys::listen(self.fd(), clamp_int(backlog))?;
        TcpListener::from_listening(std::net::TcpListener::from(self.fd))
    }

    /// Connect to `addr`, waiting (without blocking the M) until the connection is made or
    /// fails; the stream registers with the current runtime's reactor (else the global
    /// runtime's). Errors carry the OS cause (`ConnectionRefused`, `TimedOut`, …).
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        sys::connect_start(self.fd(), &addr)?;
        let std = std::net::TcpStream::from(self.fd);
        TcpStream::finish_connect(mio::net::TcpStream::from_std(std)).await
    }
}

/// A `u32` size or count as the `int` the kernel takes, saturating.
fn clamp_int(n: u32) -> libc::c_int {
    n.min(libc::c_int::MAX as u32) as libc::c_int
}

/// The backlog [`TcpListener::bind`] listens with: `net.core.somaxconn`, as Go's `net.Listen`
/// does (read once; 4096, the kernel's default since 5.4, when it cannot be read), at most
/// 65535 (older kernels kept the backlog in 16 bits).
pub(crate) fn default_backlog() -> u32 {
    static BACKLOG: OnceLock<u32> = OnceLock::new();
    *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(4096)
            .min(65535)
    })
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl From<TcpSocket> for OwnedFd {
    fn from(s: TcpSocket) -> OwnedFd {
        s.fd
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
