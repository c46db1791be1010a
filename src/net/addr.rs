//! Address resolution: the [`ToSocketAddrs`] trait taken by `bind`, `connect` and `send_to`.
//!
//! Resolution goes through [`std::net::ToSocketAddrs`]. A literal address (`"127.0.0.1:80"`,
//! `"[::1]:80"`, a [`SocketAddr`], an `(IpAddr, u16)` pair) is parsed without any system call.
//! A host name (`"localhost:80"`, `("example.com", 443)`) goes to the system resolver
//! (`getaddrinfo`), which **blocks** the calling M until it answers; with a remote DNS server
//! that can take a while, during which that M's P runs nothing else. Resolve names up front, or
//! keep them off hot paths, until gmp gets a non-blocking resolver.

use std::io;
use std::net::SocketAddr;

/// Something that resolves to one or more socket addresses: what [`TcpListener::bind`],
/// [`TcpStream::connect`], [`UdpSocket::bind`], [`UdpSocket::connect`] and
/// [`UdpSocket::send_to`] take.
///
/// Implemented for every type that implements [`std::net::ToSocketAddrs`]: [`SocketAddr`],
/// [`SocketAddrV4`](std::net::SocketAddrV4), [`SocketAddrV6`](std::net::SocketAddrV6),
/// `(IpAddr, u16)`, `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `(&str, u16)`, `(String, u16)`,
/// `&str`, `String`, `&[SocketAddr]`, and references to any of these. The trait is sealed:
/// it cannot be implemented outside gmp.
///
/// A literal address (`"127.0.0.1:80"`, `"[::1]:80"`, a [`SocketAddr`], an `(IpAddr, u16)`
/// pair) is parsed without any system call. A host name (`"localhost:80"`,
/// `("example.com", 443)`) goes to the system resolver (`getaddrinfo`), which **blocks** the
/// calling M until it answers; with a slow DNS server that M's P runs nothing else meanwhile.
/// Resolve names up front, or keep them off hot paths, until gmp gets a non-blocking resolver.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr, SocketAddr};
/// use gmp::net::TcpListener;
///
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async move {
///     let a = TcpListener::bind("127.0.0.1:0").await?;
///     let b = TcpListener::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await?;
///     let c = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
///     let d = TcpListener::bind(String::from("127.0.0.1:0")).await?;
///     let e = TcpListener::bind(("127.0.0.1", 0)).await?;
///     for l in [a, b, c, d, e] {
///         assert!(l.local_addr()?.ip().is_loopback());
///     }
///     Ok::<(), std::io::Error>(())
/// }))
/// .unwrap()
/// .unwrap();
/// ```
///
/// [`TcpListener::bind`]: crate::net::TcpListener::bind
/// [`TcpStream::connect`]: crate::net::TcpStream::connect
/// [`UdpSocket::bind`]: crate::net::UdpSocket::bind
/// [`UdpSocket::connect`]: crate::net::UdpSocket::connect
/// [`UdpSocket::send_to`]: crate::net::UdpSocket::send_to
pub trait ToSocketAddrs: sealed::Resolve {}

impl<T: std::net::ToSocketAddrs + ?Sized> ToSocketAddrs for T {}

pub(crate) mod sealed {
    use std::io;
    use std::net::SocketAddr;

    /// The resolving half of [`ToSocketAddrs`](super::ToSocketAddrs), kept out of the public API
    /// so the resolution strategy can change.
    pub trait Resolve {
        /// Every address this value names, in resolver order.
        fn resolve(&self) -> io::Result<Vec<SocketAddr>>;
    }

    impl<T: std::net::ToSocketAddrs + ?Sized> Resolve for T {
        fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
            Ok(self.to_socket_addrs()?.collect())
        }
    }
}

/// Resolve `addr` and run `f` on each address in turn, like std's `bind`/`connect`: the first
/// success wins; if every address fails, the last error is returned.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let addrs = addr.resolve()?;
    let mut last_err = None;
    for a in addrs {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(no_addresses))
}

/// The first address `addr` resolves to (what `send_to` uses, like std).
pub(crate) fn first_addr<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddr> {
    addr.resolve()?.into_iter().next().ok_or_else(no_addresses)
}

fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "gmp::net: could not resolve to any addresses",
    )
}
