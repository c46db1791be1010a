//! `gmp::net::TcpSocket`: option round trips, bind/listen/connect, the OS's errors for bad
//! input, the listen backlog the kernel really uses (read back with `TCP_INFO`), and a burst
//! of 5,000 connects into a 4096-deep accept queue without a stall.
//!
//! Every test runs under a watchdog; waits are on conditions, never bare sleeps.
//! `cargo test --release --test tcp_socket -- --ignored --nocapture` also runs the same burst
//! against a 128-deep queue (std's, mio's and tokio's default) for comparison.

use gmp::net::{TcpListener, TcpSocket, TcpStream};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(120);

use support::run_task as run;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The accept-queue limit the kernel keeps for a listening socket (`TCP_INFO`'s
/// `tcpi_sacked` holds `sk_max_ack_backlog` in the LISTEN state).
fn kernel_backlog(fd: &impl AsRawFd) -> u32 {
    // SAFETY: `tcp_info` is a plain C struct; all-zero is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes; the fd is open.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    assert_eq!(info.tcpi_state, 10, "not listening"); // TCP_LISTEN in <netinet/tcp.h>
    info.tcpi_sacked
}

fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(4096)
}

#[test]
fn options_round_trip() {
    run("options", || async {
        let s = TcpSocket::new_v4().unwrap();
        for on in [true, false] {
            s.set_reuseaddr(on).unwrap();
            assert_eq!(s.reuseaddr().unwrap(), on);
            s.set_reuseport(on).unwrap();
            assert_eq!(s.reuseport().unwrap(), on);
            s.set_nodelay(on).unwrap();
            assert_eq!(s.nodelay().unwrap(), on);
            s.set_keepalive(on).unwrap();
            assert_eq!(s.keepalive().unwrap(), on);
        }
        // Linux doubles a buffer size it is given (and clamps it to the sysctl maximum).
        s.set_send_buffer_size(64 * 1024).unwrap();
        let snd = s.send_buffer_size().unwrap();
        s.set_recv_buffer_size(32 * 1024).unwrap();
        let rcv = s.recv_buffer_size().unwrap();
        assert!(snd >= 64 * 1024, "SO_SNDBUF {snd}");
        assert!(rcv >= 32 * 1024, "SO_RCVBUF {rcv}");
        s.set_send_buffer_size(8 * 1024).unwrap();
        assert!(
            s.send_buffer_size().unwrap() < snd,
            "the smaller size took no effect"
        );

        assert_eq!(s.linger().unwrap(), None);
        s.set_linger(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(5)));
        s.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(s.linger().unwrap(), Some(Duration::ZERO));
        s.set_linger(None).unwrap();
        assert_eq!(s.linger().unwrap(), None);
        assert!(s.take_error().unwrap().is_none());

        // The options survive into the connected stream.
        let listener = TcpListener::bind(loopback()).await.unwrap();
        s.set_nodelay(true).unwrap();
        let stream = s.connect(listener.local_addr().unwrap()).await.unwrap();
        assert!(stream.nodelay().unwrap());
    });
}

#[test]
fn bind_listen_connect_round_trip_v4_and_v6() {
    run("round trip", || async {
        let mut addrs = vec![loopback()];
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            addrs.push("[::1]:0".parse().unwrap());
        } else {
            eprintln!("no IPv6 loopback here: the v6 half is skipped");
        }
        for addr in addrs {
            let server = if addr.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .unwrap();
            server.set_reuseaddr(true).unwrap();
            server.bind(addr).unwrap();
            let bound = server.local_addr().unwrap();
            assert_eq!(bound.ip(), addr.ip());
            assert_ne!(bound.port(), 0);
            let listener = server.listen(1024).unwrap();
            assert_eq!(listener.local_addr().unwrap(), bound);

            let client = if addr.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .unwrap();
            client.bind(SocketAddr::new(addr.ip(), 0)).unwrap();
            let client_addr = client.local_addr().unwrap();
            let mut stream = client.connect(bound).await.unwrap();
            let (mut conn, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client_addr);
            stream.write_all(b"over TcpSocket").await.unwrap();
            let mut buf = [0; 14];
            conn.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"over TcpSocket");
        }
    });
}

#[test]
fn bad_input_gives_the_os_error() {
    run("bad input", || async {
        // Nothing listens: ConnectionRefused, from the asynchronous connect.
        let port = TcpListener::bind(loopback())
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = TcpSocket::new_v4()
            .unwrap()
            .connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);

        // An IPv6 address for an IPv4 socket.
        let s = TcpSocket::new_v4().unwrap();
        let err = s.bind("[::1]:0".parse().unwrap()).unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(libc::EAFNOSUPPORT | libc::EINVAL)),
            "{err:?}"
        );
        // Binding twice.
        s.bind(loopback()).unwrap();
        let err = s.bind(loopback()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
        // A port in use, without SO_REUSEPORT on both.
        let taken = TcpListener::bind(loopback()).await.unwrap();
        let err = TcpSocket::new_v4()
            .unwrap()
            .bind(taken.local_addr().unwrap())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        // An address this host does not have.
        let err = TcpSocket::new_v4()
            .unwrap()
            .bind("192.0.2.1:0".parse().unwrap())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrNotAvailable);
    });
}

#[test]
fn reuseport_lets_two_listeners_share_a_port() {
    run("reuseport", || async {
        let a = TcpSocket::new_v4().unwrap();
        a.set_reuseport(true).unwrap();
        a.bind(loopback()).unwrap();
        let addr = a.local_addr().unwrap();
        let b = TcpSocket::new_v4().unwrap();
        b.set_reuseport(true).unwrap();
        b.bind(addr).unwrap();
        let (la, lb) = (a.listen(16).unwrap(), b.listen(16).unwrap());
        assert_eq!(la.local_addr().unwrap(), lb.local_addr().unwrap());
    });
}

#[test]
fn from_std_stream_keeps_the_socket() {
    run("from_std_stream", || async {
        let listener = std::net::TcpListener::bind(loopback()).unwrap();
        let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let local = std_stream.local_addr().unwrap();
        let fd = std_stream.as_raw_fd();
        let s = TcpSocket::from_std_stream(std_stream);
        assert_eq!(s.as_raw_fd(), fd);
        assert_eq!(s.local_addr().unwrap(), local);
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
    });
}

#[test]
fn the_kernel_keeps_the_backlog_asked_for() {
    run("backlog", || async {
        let s = TcpSocket::new_v4().unwrap();
        s.bind(loopback()).unwrap();
        let l = s.listen(4096).unwrap();
        assert_eq!(kernel_backlog(&l), 4096.min(somaxconn()));

        let s = TcpSocket::new_v4().unwrap();
        s.bind(loopback()).unwrap();
        let l = s.listen(7).unwrap();
        assert_eq!(kernel_backlog(&l), 7);

        // TcpListener::bind listens with somaxconn (Go's choice), not std's 128.
        let l = TcpListener::bind(loopback()).await.unwrap();
        assert_eq!(kernel_backlog(&l), somaxconn().min(65535));
    });
}

/// `TcpExt: ListenOverflows` from /proc/net/netstat: accept-queue overflows (the whole
/// network namespace).
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let i = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

/// Raise the soft fd limit to the hard one; returns the soft limit now.
fn raise_fd_limit() -> u64 {
    // SAFETY: plain struct, all-zero valid.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is a valid out-pointer.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid in-pointer.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    }
    lim.rlim_cur
}

/// What a connect burst came to.
#[derive(Debug)]
struct Burst {
    /// Connections accepted (all `n` unless the server gave up waiting).
    accepted: usize,
    /// From the first connect to the last accept (the wait that gave up not included).
    took: Duration,
    /// `ListenOverflows` counted meanwhile (namespace-wide).
    overflows: Option<u64>,
}

/// `n` concurrent connects (one task each) into a listener with `backlog`, accepted by one
/// task that gives up after `patience` without a new connection. Every connect returns at
/// once from the client's side; a connection whose handshake ACK the kernel dropped on a
/// full accept queue reaches `accept` only after a SYN-ACK retransmit (1 s, 2 s, 4 s, ...),
/// and never once those run out (`tcp_synack_retries`: the client then thinks it is
/// connected, the server has forgotten it).
fn connect_burst(backlog: u32, n: usize, patience: Duration) -> Burst {
    support::with_deadline(DEADLINE, "connect burst", move || {
        let rt = gmp::Runtime::builder().procs(2).build().unwrap();
        rt.block_on(async move {
            gmp::spawn(async move {
                let s = TcpSocket::new_v4().unwrap();
                s.bind(loopback()).unwrap();
                let listener = s.listen(backlog).unwrap();
                let addr = listener.local_addr().unwrap();
                let overflows = listen_overflows();
                let start = Instant::now();
                let server = gmp::spawn(async move {
                    let mut conns = Vec::with_capacity(n);
                    let mut last = Duration::ZERO;
                    while conns.len() < n {
                        match gmp::time::timeout(patience, listener.accept()).await {
                            Ok(conn) => conns.push(conn.unwrap().0),
                            Err(_) => break,
                        }
                        last = start.elapsed();
                    }
                    (conns, last)
                });
                let clients: Vec<_> = (0..n)
                    .map(|_| gmp::spawn(TcpStream::connect(addr)))
                    .collect();
                let mut streams = Vec::with_capacity(n);
                for c in clients {
                    streams.push(c.await.unwrap().unwrap());
                }
                let (conns, took) = server.await.unwrap();
                // Every accepted connection is one of ours.
                let ours: std::collections::HashSet<_> =
                    streams.iter().map(|s| s.local_addr().unwrap()).collect();
                assert!(conns.iter().all(|c| ours.contains(&c.peer_addr().unwrap())));
                Burst {
                    accepted: conns.len(),
                    took,
                    overflows: listen_overflows()
                        .zip(overflows)
                        .map(|(after, before)| after - before),
                }
            })
            .await
            .unwrap()
        })
    })
}

const BURST: usize = 5_000;

#[test]
fn backlog_4096_takes_a_burst_of_5000_connects_without_a_stall() {
    let limit = raise_fd_limit();
    // Both ends of every connection, plus the runtime's and the test harness's own.
    assert!(
        limit >= 2 * BURST as u64 + 256,
        "RLIMIT_NOFILE {limit} is too low for {BURST} connections"
    );
    let b = connect_burst(4096, BURST, Duration::from_secs(60));
    eprintln!(
        "{BURST} connects, backlog 4096: {} accepted in {:?}, accept-queue overflows {:?}",
        b.accepted, b.took, b.overflows
    );
    assert_eq!(
        b.accepted, BURST,
        "connections lost in a full accept queue: {b:?}"
    );
    // A stall is a handshake dropped on a full queue and retried after 1 s, 2 s, ... (with
    // a 128-deep queue, connections were still missing after 60 s). The bound is generous
    // for a loaded debug build; the overflow count is namespace-wide, so it is reported,
    // not asserted.
    assert!(b.took < Duration::from_secs(30), "{b:?}");
}

#[test]
#[ignore = "a comparison figure: the same burst into a 128-deep queue (loses connections)"]
fn backlog_128_burst_for_comparison() {
    raise_fd_limit();
    let b = connect_burst(128, BURST, Duration::from_secs(10));
    eprintln!(
        "{BURST} connects, backlog 128: {} accepted in {:?}, accept-queue overflows {:?}",
        b.accepted, b.took, b.overflows
    );
}
