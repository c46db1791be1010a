//! Integration tests of `gmp::net`: echo under load, half-close, error kinds, resets, UDP,
//! Unix sockets, descriptor leaks, and the `futures::io` utilities over gmp streams.
//!
//! Every test runs under a watchdog: a hang fails the test after a generous deadline instead of
//! stalling the suite. Waits are on conditions, never bare sleeps.

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;
use gmp::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use std::io::{self, ErrorKind, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(120);

/// Tests share the process's descriptor table; the descriptor-leak test takes this for writing
/// so that no other test opens or closes descriptors while it counts.
static FD_LOCK: RwLock<()> = RwLock::new(());

fn rt(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder().procs(procs).build().unwrap()
}

fn with_deadline<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    support::with_deadline(DEADLINE, what, body)
}

/// A shared-lock test: runs `body` as a task on a fresh runtime with `procs` Ps, under the
/// deadline. (I/O awaited directly in `block_on` is covered by its own test.)
fn run<F, Fut>(what: &str, procs: usize, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let _g = FD_LOCK.read().unwrap_or_else(|e| e.into_inner());
    with_deadline(what, move || {
        let rt = rt(procs);
        rt.block_on(async move { gmp::spawn(body()).await.unwrap() });
    });
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gmp-net-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Echo under load
// ---------------------------------------------------------------------------------------------

const CLIENTS: usize = 200;
const ROUND_TRIPS: usize = 1_000;

async fn echo_conn(mut conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = [0u8; 256];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n]).await?;
    }
}

fn echo_load(procs: usize) {
    run("echo load", procs, || async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let s = served.clone();
        let server = gmp::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..CLIENTS {
                let (conn, peer) = listener.accept().await.unwrap();
                assert!(peer.ip().is_loopback());
                let s = s.clone();
                conns.push(gmp::spawn(async move {
                    echo_conn(conn).await.unwrap();
                    s.fetch_add(1, SeqCst);
                }));
            }
            for c in conns {
                c.await.unwrap();
            }
        });

        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                gmp::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    assert!(s.nodelay().unwrap());
                    assert_eq!(s.peer_addr().unwrap(), addr);
                    let mut back = [0u8; 16];
                    for i in 0..ROUND_TRIPS {
                        let msg = format!("{id:05}:{i:09}\n");
                        assert_eq!(msg.len(), 16);
                        s.write_all(msg.as_bytes()).await.unwrap();
                        s.read_exact(&mut back).await.unwrap();
                        assert_eq!(&back[..], msg.as_bytes(), "client {id}, trip {i}");
                    }
                    // Dropping the stream closes it: the server sees EOF.
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
        assert_eq!(served.load(SeqCst), CLIENTS);
    });
}

#[test]
fn echo_200_clients_x_1000_round_trips_procs_1() {
    echo_load(1);
}

#[test]
fn echo_200_clients_x_1000_round_trips_procs_2() {
    echo_load(2);
}

/// A read that fills its buffer and empties the socket (`TCP_INQ` reports 0 left) clears the
/// readiness without a `WouldBlock` read. Data landing just after such a read must still wake
/// the reader: a writer thread (real concurrency, not a task on the same P) sends numbered
/// 64-byte messages in bursts of 1 to 7, pausing between bursts, while a task reads them one
/// `read_exact(64)` at a time. A lost edge would leave the reader waiting until the deadline.
#[test]
fn exact_size_reads_that_drain_the_socket_miss_no_later_arrival() {
    const MESSAGES: u32 = 20_000;
    run(
        "exact-size reads vs a concurrent writer",
        2,
        || async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let writer = std::thread::spawn(move || {
                use std::io::Write;
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut seq = 0u32;
                let mut burst = 1;
                while seq < MESSAGES {
                    for _ in 0..burst {
                        if seq == MESSAGES {
                            break;
                        }
                        let mut msg = [0u8; 64];
                        msg[..4].copy_from_slice(&seq.to_le_bytes());
                        msg[60..].copy_from_slice(&seq.to_le_bytes());
                        s.write_all(&msg).unwrap();
                        seq += 1;
                    }
                    burst = burst % 7 + 1;
                    if seq % 3 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut msg = [0u8; 64];
            for want in 0..MESSAGES {
                conn.read_exact(&mut msg).await.unwrap();
                let head = u32::from_le_bytes(msg[..4].try_into().unwrap());
                let tail = u32::from_le_bytes(msg[60..].try_into().unwrap());
                assert_eq!(
                    (head, tail),
                    (want, want),
                    "message {want} out of order or torn"
                );
            }
            writer.join().unwrap();
            assert_eq!(
                conn.read(&mut msg).await.unwrap(),
                0,
                "EOF after the last message"
            );
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Half-close, split, vectored I/O
// ---------------------------------------------------------------------------------------------

#[test]
fn half_close_server_reads_eof_then_still_writes() {
    run("half close", 2, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gmp::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).await.unwrap(); // returns at EOF
            assert_eq!(got, b"request body");
            // Our write side is still open.
            conn.write_all(b"reply after EOF").await.unwrap();
            conn.close().await.unwrap();
        });

        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"request body").await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"reply after EOF");
        server.await.unwrap();
    });
}

#[test]
fn half_close_through_poll_close() {
    run("half close via poll_close", 1, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gmp::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut got = String::new();
            conn.read_to_string(&mut got).await.unwrap();
            AsyncWriteExt::write_all(&mut conn, got.to_uppercase().as_bytes())
                .await
                .unwrap();
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        AsyncWriteExt::write_all(&mut client, b"shout")
            .await
            .unwrap();
        client.close().await.unwrap(); // AsyncWrite::poll_close: shutdown(Write)
        let mut reply = String::new();
        client.read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply, "SHOUT");
        server.await.unwrap();
    });
}

#[test]
fn split_halves_in_two_tasks_then_reunite() {
    run("split", 2, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        const N: usize = 200_000; // bigger than the socket buffers: both sides must interleave
        let server = gmp::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let (mut rd, mut wr) = conn.into_split();
            // Echo everything back with futures' copy, then close our write side.
            futures::io::copy(&mut rd, &mut wr).await.unwrap();
            wr.close().await.unwrap();
        });

        let client = TcpStream::connect(addr).await.unwrap();
        let local = client.local_addr().unwrap();
        let (mut rd, mut wr) = client.into_split();
        assert_eq!(rd.peer_addr().unwrap(), addr);
        assert_eq!(wr.local_addr().unwrap(), local);
        let writer = gmp::spawn(async move {
            let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
            for chunk in data.chunks(7_000) {
                // Vectored: two slices per call.
                let mut sent = 0;
                while sent < chunk.len() {
                    let rest = &chunk[sent..];
                    let (a, b) = rest.split_at(rest.len() / 2);
                    let n = wr
                        .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
                        .await
                        .unwrap();
                    assert!(n > 0);
                    sent += n;
                }
            }
            wr
        });
        let mut back = vec![0u8; N];
        rd.read_exact(&mut back).await.unwrap();
        assert!(back.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        let wr = writer.await.unwrap();

        let mut stream = rd.reunite(wr).unwrap();
        assert_eq!(stream.local_addr().unwrap(), local);
        stream.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap(); // the server's EOF
        assert!(rest.is_empty());
        server.await.unwrap();
    });
}

#[test]
fn reunite_rejects_halves_of_different_streams() {
    run("reunite mismatch", 1, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let a = TcpStream::connect(addr).await.unwrap();
        let b = TcpStream::connect(addr).await.unwrap();
        let (ar, _aw) = a.into_split();
        let (_br, bw) = b.into_split();
        let err = ar.reunite(bw).unwrap_err();
        assert!(err.to_string().contains("not from the same"));
    });
}

#[test]
fn dropping_the_write_half_sends_eof() {
    run("write half drop", 1, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (_rd, wr) = client.into_split();
        drop(wr);
        let mut got = Vec::new();
        assert_eq!(server.read_to_end(&mut got).await.unwrap(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// Errors carry the OS cause
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_to_closed_port_is_connection_refused() {
    run("refused", 2, || async {
        // A port that was just free: bind it, note it, close it.
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert!(
            err.raw_os_error().is_some(),
            "the OS cause is kept: {err:?}"
        );
    });
}

#[test]
fn bind_in_use_port_is_addr_in_use() {
    run("addr in use", 1, || async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let err = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = UdpSocket::bind(u.local_addr().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    });
}

#[test]
fn unresolvable_and_invalid_addresses_are_errors() {
    run("bad addresses", 1, || async {
        let err = TcpListener::bind("not an address").await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::Other),
            "{err:?}"
        );
        let empty: &[SocketAddr] = &[];
        let err = TcpStream::connect(empty).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    });
}

#[test]
fn connect_tries_every_resolved_address() {
    run("multi address", 1, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good = listener.local_addr().unwrap();
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        // The first address refuses; the second works.
        let addrs = [closed, good];
        let s = TcpStream::connect(&addrs[..]).await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), good);
        // A host name (resolved by the system; may give ::1 first, which refuses).
        let s = TcpStream::connect(("localhost", good.port()))
            .await
            .unwrap();
        assert_eq!(s.peer_addr().unwrap(), good);
        // All refuse: the last error is reported.
        let err = TcpStream::connect(&[closed, closed][..]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn peer_reset_mid_read_returns_instead_of_hanging() {
    run("reset", 2, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gmp::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            // Wait until the client's bytes sit unread in our receive buffer, then close:
            // Linux answers with RST instead of FIN.
            let mut b = [0u8; 1];
            assert_eq!(conn.peek(&mut b).await.unwrap(), 1);
            drop(conn);
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"never read").await.unwrap();
        let mut buf = [0u8; 64];
        // Blocks in read until the reset arrives.
        let res = client.read(&mut buf).await;
        server.await.unwrap();
        match res {
            Ok(0) => {}
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ),
                "{e:?}"
            ),
            Ok(n) => panic!("read {n} bytes from a reset connection"),
        }
        // Writing to it now fails too (EPIPE or ECONNRESET), without panicking or hanging.
        let mut failed = false;
        for _ in 0..100 {
            if client.write_all(b"x").await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "writes to a reset connection kept succeeding");
    });
}

// ---------------------------------------------------------------------------------------------
// UDP and Unix sockets
// ---------------------------------------------------------------------------------------------

#[test]
fn udp_send_to_recv_from_and_connected_send_recv() {
    run("udp", 2, || async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let a_addr = a.local_addr().unwrap();
        let b_addr = b.local_addr().unwrap();

        // b echoes 100 datagrams, from another task.
        let echo = {
            let b = b.clone();
            gmp::spawn(async move {
                let mut buf = [0u8; 1500];
                for _ in 0..100 {
                    let (n, from) = b.recv_from(&mut buf).await.unwrap();
                    b.send_to(&buf[..n], from).await.unwrap();
                }
            })
        };
        let mut buf = [0u8; 1500];
        for i in 0..100u32 {
            let msg = i.to_be_bytes();
            assert_eq!(a.send_to(&msg, b_addr).await.unwrap(), 4);
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&msg[..], b_addr));
        }
        echo.await.unwrap();

        // Connected: send/recv, peer_addr.
        assert_eq!(a.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
        a.send(b"ping").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        b.send(b"pong").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
    });
}

#[test]
fn unix_stream_round_trip_in_temp_dir() {
    run("unix", 2, || async {
        let dir = TempDir::new("unix");
        let path = dir.0.join("echo.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // The path is taken while the file exists.
        assert_eq!(
            UnixListener::bind(&path).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        let server = gmp::spawn(async move {
            for _ in 0..10 {
                let (conn, _) = listener.accept().await.unwrap();
                gmp::spawn(async move {
                    let mut conn = BufReader::new(conn);
                    let mut line = String::new();
                    while conn.read_line(&mut line).await.unwrap() > 0 {
                        conn.get_mut().write_all(line.as_bytes()).await.unwrap();
                        line.clear();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..10)
            .map(|id| {
                let path = path.clone();
                gmp::spawn(async move {
                    let mut s = UnixStream::connect(&path).await.unwrap();
                    let mut rd = Vec::new();
                    for i in 0..100 {
                        let msg = format!("client {id} line {i}\n");
                        s.write_all(msg.as_bytes()).await.unwrap();
                        rd.resize(msg.len(), 0);
                        s.read_exact(&mut rd).await.unwrap();
                        assert_eq!(rd, msg.as_bytes());
                    }
                    s.shutdown(Shutdown::Write).unwrap();
                    assert_eq!(s.read(&mut [0u8; 8]).await.unwrap(), 0);
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();

        // Nothing listens at a missing path.
        let err = UnixStream::connect(dir.0.join("missing.sock"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    });
}

#[test]
fn unix_pair_and_datagrams() {
    run("unix pair", 1, || async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        AsyncWriteExt::write_all(&mut a, b"over the pair")
            .await
            .unwrap();
        a.close().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"over the pair");

        let (x, y) = gmp::net::UnixDatagram::pair().unwrap();
        x.send(b"dgram").await.unwrap();
        let mut buf = [0u8; 16];
        let n = y.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"dgram");
    });
}

// ---------------------------------------------------------------------------------------------
// No descriptor leaks
// ---------------------------------------------------------------------------------------------

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn ten_thousand_connect_drop_cycles_leak_no_fds() {
    const CYCLES: usize = 10_000;
    // Exclusive: no other test opens descriptors while we count.
    let _g = FD_LOCK.write().unwrap_or_else(|e| e.into_inner());
    with_deadline("fd leak", || {
        let rt = rt(2);
        let task = rt.spawn(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // Warm-up: lets the runtime create whatever it creates lazily.
            {
                let _c = TcpStream::connect(addr).await.unwrap();
                let _s = listener.accept().await.unwrap();
            }
            let baseline = open_fds();
            let sources = gmp::Handle::current().metrics().io_sources;

            let accepted = Arc::new(AtomicUsize::new(0));
            let acc = accepted.clone();
            let server = gmp::spawn(async move {
                for _ in 0..CYCLES {
                    let (s, _) = listener.accept().await.unwrap();
                    acc.fetch_add(1, SeqCst);
                    drop(s);
                }
                listener
            });
            for i in 0..CYCLES {
                let s = TcpStream::connect(addr).await.unwrap();
                if i % 2 == 0 {
                    // Half the streams go through a split and back.
                    let (r, w) = s.into_split();
                    drop(r.reunite(w).unwrap());
                } else {
                    drop(s);
                }
            }
            let listener = server.await.unwrap();
            assert_eq!(accepted.load(SeqCst), CYCLES);
            let after = open_fds();
            assert!(
                after <= baseline + 4,
                "descriptors leaked: {baseline} before, {after} after {CYCLES} cycles"
            );
            // Reactor slots too: every registration was released.
            assert_eq!(gmp::Handle::current().metrics().io_sources, sources);
            drop(listener);
        });
        rt.block_on(task).unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// futures::io utilities over gmp streams
// ---------------------------------------------------------------------------------------------

#[test]
fn futures_io_bufreader_read_line_and_write_all() {
    run("futures io", 2, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = gmp::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let (rd, mut wr) = conn.into_split();
            let mut rd = BufReader::new(rd);
            let mut line = String::new();
            let mut lines = 0;
            loop {
                line.clear();
                if rd.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                lines += 1;
                let reply = format!("{} {}", line.len(), line);
                AsyncWriteExt::write_all(&mut wr, reply.as_bytes())
                    .await
                    .unwrap();
            }
            AsyncWriteExt::flush(&mut wr).await.unwrap();
            lines
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let (rd, mut wr) = stream.into_split();
        let mut rd = BufReader::new(rd);
        let mut expected = Vec::new();
        let mut request = String::new();
        for i in 0..500 {
            let line = format!("line number {i}\n");
            expected.push(format!("{} {}", line.len(), line));
            request.push_str(&line);
        }
        // One big write of many lines; the reads come back line by line.
        AsyncWriteExt::write_all(&mut wr, request.as_bytes())
            .await
            .unwrap();
        AsyncWriteExt::close(&mut wr).await.unwrap();
        let mut lines = (&mut rd).lines();
        let mut got = Vec::new();
        while let Some(l) = lines.next().await {
            got.push(format!("{}\n", l.unwrap()));
        }
        assert_eq!(got, expected);
        assert_eq!(server.await.unwrap(), 500);
    });
}

#[test]
fn accept_is_cancel_safe_and_from_std_works() {
    run("from_std", 2, || async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        // Poll accept once with nothing pending, then drop the future.
        {
            let fut = listener.accept();
            futures::pin_mut!(fut);
            assert!(futures::poll!(fut).is_pending());
        }
        let std_stream = std::net::TcpStream::connect(addr).unwrap();
        let mut client = TcpStream::from_std(std_stream).unwrap();
        let (mut conn, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        client.write_all(b"via std").await.unwrap();
        let mut buf = [0u8; 7];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"via std");
        // And back to std.
        let std_conn = conn.into_std().unwrap();
        std_conn.set_nonblocking(false).unwrap();
        let mut std_conn = std_conn;
        std::io::Write::write_all(&mut std_conn, b"!").unwrap();
        let mut one = [0u8; 1];
        client.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"!");
    });
}

// ---------------------------------------------------------------------------------------------
// I/O awaited directly by block_on (no task spawned, so the runtime may have no M at all)
// ---------------------------------------------------------------------------------------------

#[test]
fn io_awaited_directly_in_block_on() {
    let _g = FD_LOCK.read().unwrap_or_else(|e| e.into_inner());
    with_deadline("block_on io", || {
        for procs in [1, 2] {
            for _ in 0..5 {
                let rt = rt(procs);
                // Let the runtime settle into "nothing to do" (every P idle, sysmon asleep)
                // before the first socket exists.
                std::thread::sleep(Duration::from_millis(5));
                rt.block_on(async {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    let closed = {
                        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                        l.local_addr().unwrap()
                    };
                    let err = TcpStream::connect(closed).await.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
                    let mut client = TcpStream::connect(addr).await.unwrap();
                    let (mut conn, _) = listener.accept().await.unwrap();
                    client.write_all(b"ping").await.unwrap();
                    let mut buf = [0u8; 4];
                    conn.read_exact(&mut buf).await.unwrap();
                    assert_eq!(&buf, b"ping");
                });
            }
        }
    });
}

#[test]
fn udp_recv_waits_again_after_a_transient_error() {
    run("udp transient error", 1, || async {
        let closed = UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(closed).await.unwrap();
        a.send(b"to nobody").await.unwrap();
        let mut buf = [0u8; 16];
        // The ICMP "port unreachable" comes back as an error on the next operation.
        let err = a.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        // The socket is still usable: point it at a live peer and receive from it. The recv
        // must wait (Pending) until the datagram arrives, not spin on the stale error.
        a.connect(b.local_addr().unwrap()).await.unwrap();
        let a_addr = a.local_addr().unwrap();
        let sender = gmp::spawn(async move {
            gmp::yield_now().await;
            b.send_to(b"later", a_addr).await.unwrap();
        });
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"later");
        sender.await.unwrap();
    });
}

/// Every P busy with CPU-bound tasks that do yield: a TCP request is still answered promptly
/// (busy Ms poll the network at their 1-in-61 check; sysmon's fallback poll covers the rest).
#[test]
fn tcp_served_promptly_while_every_p_is_busy() {
    let _g = FD_LOCK.read().unwrap_or_else(|e| e.into_inner());
    with_deadline("busy Ps", || {
        let rt = rt(2);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let server = rt.spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1];
            for _ in 0..20 {
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
            }
        });
        let addr = addr_rx.recv().unwrap();
        let hogs: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                rt.spawn(async move {
                    while !stop.load(SeqCst) {
                        let t = std::time::Instant::now();
                        while t.elapsed() < Duration::from_micros(200) {
                            std::hint::spin_loop();
                        }
                        gmp::yield_now().await;
                    }
                })
            })
            .collect();
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_nodelay(true).unwrap();
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let t = std::time::Instant::now();
            c.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            worst = worst.max(t.elapsed());
        }
        stop.store(true, SeqCst);
        rt.block_on(server).unwrap();
        for h in hogs {
            rt.block_on(h).unwrap();
        }
        eprintln!("round trip while every P is busy: worst {worst:?}");
        assert!(
            worst < Duration::from_millis(500),
            "worst round trip {worst:?}"
        );
    });
}

/// `gmp::time::timeout` around a read that never completes fires, and the stream is still
/// usable afterwards.
#[test]
fn timeout_around_a_read() {
    run("timeout read", 2, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4];
        let start = std::time::Instant::now();
        let r = gmp::time::timeout(Duration::from_millis(30), client.read(&mut buf)).await;
        assert!(r.is_err(), "read completed with nothing sent");
        assert!(start.elapsed() >= Duration::from_millis(30));
        server.write_all(b"late").await.unwrap();
        gmp::time::timeout(Duration::from_secs(10), client.read_exact(&mut buf))
            .await
            .expect("data arrived")
            .unwrap();
        assert_eq!(&buf, b"late");
    });
}

/// Work queued on a P whose M is stuck inside one poll is taken by another M even while that
/// M keeps finding fresh I/O (`steal_backlog`; sysmon's stuck-P rescue is off here). Without
/// it, the other M, busy with a UDP ping-pong whose every poll readies the next datagram,
/// never ran out of work to steal, and the queued tasks waited for the stuck poll.
#[test]
fn queued_work_behind_a_stuck_poll_is_stolen_while_io_keeps_the_other_m_busy() {
    use std::sync::atomic::AtomicBool;
    // Generous: the steal comes 100 µs after the P stops making progress.
    const STRANDED: Duration = Duration::from_secs(20);
    let _g = FD_LOCK.read().unwrap_or_else(|e| e.into_inner());
    with_deadline("backlog steal", || {
        let rt = gmp::Runtime::builder()
            .procs(2)
            .stuck_rescue(false)
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let trips = Arc::new(AtomicUsize::new(0));
        // The churn: two sockets bouncing one datagram until told to stop.
        let (a, b) = rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            a.connect(b.local_addr().unwrap()).await.unwrap();
            b.connect(a.local_addr().unwrap()).await.unwrap();
            (a, b)
        });
        let s = stop.clone();
        let echo = rt.spawn(async move {
            let mut buf = [0u8; 8];
            while !s.load(SeqCst) {
                let n = b.recv(&mut buf).await.unwrap();
                b.send(&buf[..n]).await.unwrap();
            }
        });
        let (s, t) = (stop.clone(), trips.clone());
        let ping = rt.spawn(async move {
            let mut buf = [0u8; 8];
            while !s.load(SeqCst) {
                a.send(b"ping").await.unwrap();
                a.recv(&mut buf).await.unwrap();
                t.fetch_add(1, SeqCst);
            }
            // Unblock the echo task's last recv.
            a.send(b"bye").await.unwrap();
        });
        support::wait_until(DEADLINE, "the ping-pong to get going", || {
            trips.load(SeqCst) >= 100
        });
        // The stuck poll: queue eight tasks on this P, then block the M until released.
        let release = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicUsize::new(0));
        let (r, n) = (release.clone(), ran.clone());
        let blocker = rt.spawn(async move {
            let inner = gmp::spawn(async move {
                for _ in 0..8 {
                    let n = n.clone();
                    drop(gmp::spawn(async move {
                        n.fetch_add(1, SeqCst);
                    }));
                }
                let start = std::time::Instant::now();
                while !r.load(SeqCst) && start.elapsed() < DEADLINE {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            inner.await.unwrap();
        });
        // The seven in the ring (the eighth is in runnext) run while the M is still stuck.
        // (The stuck task is released before any assertion, so a failure reports at once.)
        let start = std::time::Instant::now();
        while ran.load(SeqCst) < 7 && start.elapsed() < STRANDED {
            std::thread::yield_now();
        }
        let ran_while_stuck = ran.load(SeqCst);
        release.store(true, SeqCst);
        stop.store(true, SeqCst);
        assert!(
            ran_while_stuck >= 7,
            "queued tasks stranded behind a stuck poll ({ran_while_stuck} of 7 ran in {STRANDED:?})"
        );
        rt.block_on(blocker).unwrap();
        // The eighth (in runnext, or kicked to the ring by the blocker's own wake) runs
        // soon after; it may trail the blocker's completion.
        support::wait_until(DEADLINE, "the runnext task", || ran.load(SeqCst) == 8);
        rt.block_on(ping).unwrap();
        rt.block_on(echo).unwrap();
    });
}

/// A zero-length read returns `Ok(0)` at once, as `std::io::Read` does, even while the peer
/// sends nothing (it used to wait for readability, as tokio does); the stream still works.
#[test]
fn zero_length_reads_return_at_once() {
    run("zero-length reads", 2, || async {
        use futures::io::AsyncReadExt as _;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = gmp::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (mut server, _) = listener.accept().await.unwrap();
        let mut client = client.await.unwrap();
        assert_eq!(server.read(&mut []).await.unwrap(), 0);
        assert_eq!(AsyncReadExt::read(&mut server, &mut []).await.unwrap(), 0);
        let mut none: [std::io::IoSliceMut<'_>; 0] = [];
        assert_eq!(server.read_vectored(&mut none).await.unwrap(), 0);
        client.write_all(b"ok").await.unwrap();
        let mut b = [0u8; 2];
        server.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ok");
    });
}
