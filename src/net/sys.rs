//! The raw socket calls [`TcpSocket`](super::TcpSocket) needs and mio 1.x no longer wraps
//! (mio dropped its `TcpSocket` in 0.8): `socket`, `setsockopt`/`getsockopt`, `bind`,
//! `connect`, `listen`, `getsockname`, with `SocketAddr` <-> `sockaddr_in`/`sockaddr_in6`.
//!
//! Invariants: on Linux every socket is created non-blocking and close-on-exec in the same
//! call (`SOCK_NONBLOCK | SOCK_CLOEXEC`: no window where a forked child inherits it; see
//! `platform::stream_socket` for the other targets); every fd here is borrowed from an
//! `OwnedFd` the caller keeps alive for the call; every `unsafe` block is one OS call, or a
//! zeroed C address struct.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// -1 means `errno`.
fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A new non-blocking, close-on-exec TCP socket of `domain` (`AF_INET`, `AF_INET6`).
pub(super) fn tcp_socket(domain: libc::c_int) -> io::Result<OwnedFd> {
    crate::platform::stream_socket(domain)
}

/// Set an option whose value is a plain C value of type `T` (an `int`, a `linger`).
pub(super) fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: `value` is a live `T` whose size is passed alongside; setsockopt(2) only reads
    // it; `fd` is open for the borrow.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Read an option whose value is a plain C value of type `T`, starting from `init`.
pub(super) fn getsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    init: T,
) -> io::Result<T> {
    let mut value = init;
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live `T`, writable for `len` bytes (its size); getsockopt(2)
    // writes at most `len` bytes there and updates `len`; `fd` is open for the borrow.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// A boolean (`int`) option.
pub(super) fn set_flag(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    on: bool,
) -> io::Result<()> {
    setsockopt(fd, level, name, libc::c_int::from(on))
}

/// A boolean (`int`) option's value.
pub(super) fn flag(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
    getsockopt(fd, level, name, 0 as libc::c_int).map(|v| v != 0)
}

fn raw_v4(a: &SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: `sockaddr_in` is a plain C struct of integers: all-zero is a valid value (and
    // the padding, `sin_zero`, must be zero).
    let mut raw: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    raw.sin_family = libc::AF_INET as libc::sa_family_t;
    raw.sin_port = a.port().to_be();
    raw.sin_addr = libc::in_addr {
        s_addr: u32::from_ne_bytes(a.ip().octets()),
    };
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    {
        raw.sin_len = size_of::<libc::sockaddr_in>() as u8;
    }
    raw
}

fn raw_v6(a: &SocketAddrV6) -> libc::sockaddr_in6 {
    // SAFETY: `sockaddr_in6` is a plain C struct of integers: all-zero is a valid value.
    let mut raw: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    raw.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    raw.sin6_port = a.port().to_be();
    raw.sin6_flowinfo = a.flowinfo();
    raw.sin6_addr = libc::in6_addr {
        s6_addr: a.ip().octets(),
    };
    raw.sin6_scope_id = a.scope_id();
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    {
        raw.sin6_len = size_of::<libc::sockaddr_in6>() as u8;
    }
    raw
}

/// Run `call` with `addr` as a `sockaddr` pointer and length (for bind and connect).
fn with_raw(
    addr: &SocketAddr,
    call: impl FnOnce(*const libc::sockaddr, libc::socklen_t) -> libc::c_int,
) -> libc::c_int {
    match addr {
        SocketAddr::V4(a) => {
            let raw = raw_v4(a);
            call(
                (&raw as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            let raw = raw_v6(a);
            call(
                (&raw as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// bind(2).
pub(super) fn bind(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    // SAFETY: `with_raw` passes a pointer to a live sockaddr of the given length; bind(2)
    // only reads it; `fd` is open for the borrow.
    cvt(with_raw(addr, |p, len| unsafe {
        libc::bind(fd.as_raw_fd(), p, len)
    }))
    .map(drop)
}

/// Start a non-blocking connect(2): `Ok` when it completed or is in progress (`EINPROGRESS`;
/// `EINTR` too, the connect then carries on asynchronously); its outcome comes later.
pub(super) fn connect_start(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    // SAFETY: as for `bind`: a live sockaddr of the given length, read only.
    let rc = with_raw(addr, |p, len| unsafe {
        libc::connect(fd.as_raw_fd(), p, len)
    });
    match cvt(rc) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => Ok(()),
        res => res.map(drop),
    }
}

/// listen(2).
pub(super) fn listen(fd: BorrowedFd<'_>, backlog: libc::c_int) -> io::Result<()> {
    // SAFETY: listen(2) takes no pointers; `fd` is open for the borrow.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// getsockname(2) of an `AF_INET` or `AF_INET6` socket.
pub(super) fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    let domain = crate::platform::socket_domain(fd.as_raw_fd())?;
    match domain {
        libc::AF_INET => {
            let mut raw = raw_v4(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
            let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: `raw` is a live `sockaddr_in`, writable for `len` bytes; getsockname(2)
            // writes at most that and updates `len`; `fd` is open for the borrow.
            cvt(unsafe {
                libc::getsockname(
                    fd.as_raw_fd(),
                    (&mut raw as *mut libc::sockaddr_in).cast(),
                    &mut len,
                )
            })?;
            let ip = Ipv4Addr::from(raw.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(raw.sin_port),
            )))
        }
        libc::AF_INET6 => {
            let mut raw = raw_v6(&SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0));
            let mut len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            // SAFETY: as above, for a `sockaddr_in6`.
            cvt(unsafe {
                libc::getsockname(
                    fd.as_raw_fd(),
                    (&mut raw as *mut libc::sockaddr_in6).cast(),
                    &mut len,
                )
            })?;
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(raw.sin6_addr.s6_addr),
                u16::from_be(raw.sin6_port),
                raw.sin6_flowinfo,
                raw.sin6_scope_id,
            )))
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gmp: not an IPv4 or IPv6 socket (address family {other})"),
        )),
    }
}
