//! tokio's readiness API on gmp's sockets: `readable`/`writable`/`ready`, `try_read`/
//! `try_write` loops (WouldBlock clears the readiness, so the next wait really waits), a
//! hang-up seen through `ready`, UDP and Unix datagram `try_send`/`try_recv`, the split
//! halves, and `try_io`/`async_io` with a raw syscall.
//!
//! Every test runs under a watchdog; waits are on conditions, never bare sleeps.

use futures::FutureExt;
use gmp::io::Interest;
use gmp::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream};
use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::os::fd::AsRawFd;

#[path = "support/mod.rs"]
mod support;

use support::run_task as run;

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Read everything from `$s` until EOF with `readable` + `try_read`; evaluates to the bytes
/// and how many `try_read`s said WouldBlock.
macro_rules! read_to_end {
    ($s:expr) => {{
        let s = &$s;
        let mut out = Vec::new();
        let mut would_block = 0usize;
        let mut buf = vec![0; 16 * 1024];
        loop {
            s.readable().await.unwrap();
            match s.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => would_block += 1,
                Err(e) => panic!("try_read: {e}"),
            }
        }
        (out, would_block)
    }};
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn tcp_readable_try_read_loop_gets_every_byte() {
    run("tcp try_read loop", || async {
        let (mut client, server) = tcp_pair().await;
        let data = pattern(4 << 20);
        let sent = data.clone();
        let writer = gmp::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            client
        });
        let (got, would_block) = read_to_end!(server);
        assert_eq!(got.len(), data.len());
        assert!(got == data, "bytes differ");
        eprintln!("4 MiB by try_read: {would_block} WouldBlocks");
        drop(writer.await.unwrap());
    });
}

#[test]
fn try_read_on_an_empty_socket_is_would_block_without_waiting() {
    run("try_read empty", || async {
        let (client, server) = tcp_pair().await;
        let mut buf = [0; 8];
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(
            server.readable().now_or_never().is_none(),
            "nothing was sent"
        );
        client.writable().await.unwrap();
        assert_eq!(client.try_write(b"12345").unwrap(), 5);
        server.readable().await.unwrap();
        // A short read drains the socket and clears the readiness.
        assert_eq!(server.try_read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"12345");
        assert!(server.readable().now_or_never().is_none());
        assert_eq!(
            server.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
    });
}

#[test]
fn try_write_until_would_block_then_writable_waits_for_room() {
    run("try_write full", || async {
        let (client, mut server) = tcp_pair().await;
        let chunk = vec![9u8; 64 * 1024];
        let mut sent = 0;
        loop {
            client.writable().await.unwrap();
            match client.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(sent > 0);
        // The send buffer is full and the peer reads nothing: the WouldBlock cleared the
        // write readiness, so the next wait really waits.
        assert!(client.writable().now_or_never().is_none());
        let r = client
            .ready(Interest::READABLE | Interest::WRITABLE)
            .now_or_never();
        assert!(r.is_none(), "ready with a full send buffer: {r:?}");
        // The peer drains it all: room again.
        let reader = gmp::spawn(async move {
            let mut buf = vec![0; sent];
            server.read_exact(&mut buf).await.unwrap();
            server
        });
        client.writable().await.unwrap();
        let _server = reader.await.unwrap();
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
        assert!(client.try_write_vectored(&bufs).unwrap() > 0);
    });
}

#[test]
fn ready_reports_both_directions_and_a_hang_up() {
    run("ready", || async {
        let (client, server) = tcp_pair().await;
        let r = server
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert!(r.is_writable() && !r.is_readable(), "{r:?}");
        drop(client);
        loop {
            let r = server.ready(Interest::READABLE).await.unwrap();
            assert!(r.is_readable());
            if r.is_read_closed() {
                break;
            }
            // The data-less edge before the FIN: the read says WouldBlock and clears it.
            let mut buf = [0; 1];
            assert_eq!(
                server.try_read(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
        }
        let mut bufs = [0u8; 4];
        assert_eq!(server.try_read(&mut bufs).unwrap(), 0, "EOF");
        // A hang-up is final: every later wait returns at once.
        assert!(server.readable().now_or_never().is_some());
    });
}

#[test]
fn unix_stream_try_read_try_write_and_vectored() {
    run("unix", || async {
        let (a, b) = UnixStream::pair().unwrap();
        a.writable().await.unwrap();
        let bufs = [IoSlice::new(b"hello "), IoSlice::new(b"world")];
        assert_eq!(a.try_write_vectored(&bufs).unwrap(), 11);
        drop(a);
        let mut x = [0; 6];
        let mut y = [0; 16];
        b.readable().await.unwrap();
        let n = b
            .try_read_vectored(&mut [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)])
            .unwrap();
        assert_eq!((n, &x, &y[..5]), (11, b"hello ", &b"world"[..]));
        let (got, _) = read_to_end!(b);
        assert!(got.is_empty());
    });
}

#[test]
fn udp_try_send_try_recv() {
    run("udp", || async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0; 64];
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // 100 datagrams, unconnected: each arrives whole and in order (loopback).
        for i in 0..100u8 {
            a.writable().await.unwrap();
            let to = b.local_addr().unwrap();
            assert_eq!(a.try_send_to(&[i; 10], to).unwrap(), 10);
        }
        let mut got = 0u8;
        while got < 100 {
            b.readable().await.unwrap();
            match b.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    assert_eq!((n, from), (10, a.local_addr().unwrap()));
                    assert_eq!(buf[..10], [got; 10]);
                    got += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        // Drained: WouldBlock, and it cleared the readiness.
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(b.readable().now_or_never().is_none());

        // Connected: try_send / try_peek_from / try_recv.
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.try_send(b"connected").unwrap(), 9);
        let n = b
            .async_io(Interest::READABLE, || {
                b.try_peek_from(&mut buf).map(|p| p.0)
            })
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"connected");
        assert_eq!(b.try_recv(&mut buf).unwrap(), 9);
    });
}

#[test]
fn unix_datagram_try_send_try_recv() {
    run("unix datagram", || async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0; 16];
        assert_eq!(
            b.try_recv(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        a.writable().await.unwrap();
        assert_eq!(a.try_send(b"dgram").unwrap(), 5);
        b.readable().await.unwrap();
        assert_eq!(b.try_recv(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"dgram");
    });
}

#[test]
fn split_halves_wait_and_try_on_their_own_side() {
    run("split", || async {
        let (client, server) = tcp_pair().await;
        let (rd, wr) = client.into_split();
        let (srd, swr) = server.into_split();
        wr.writable().await.unwrap();
        assert_eq!(wr.try_write(b"half").unwrap(), 4);
        srd.readable().await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(srd.try_read(&mut buf).unwrap(), 4);
        swr.writable().await.unwrap();
        assert_eq!(swr.try_write(b"back").unwrap(), 4);
        assert!(rd.ready(Interest::READABLE).await.unwrap().is_readable());
        assert_eq!(rd.try_read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"back");
    });
}

#[test]
fn try_io_runs_a_raw_syscall_and_clears_on_would_block() {
    run("try_io", || async {
        let (client, server) = tcp_pair().await;
        let fd = server.as_raw_fd();
        let peek = |buf: &mut [u8]| {
            // SAFETY: `buf` is valid for writes of its length; the fd is the server's socket.
            let n = unsafe {
                libc::recv(
                    fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        };
        let mut buf = [0; 8];
        // Not ready: WouldBlock without calling the closure.
        let mut called = false;
        let err = server
            .try_io(Interest::READABLE, || {
                called = true;
                peek(&mut buf)
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(!called);

        client.writable().await.unwrap();
        client.try_write(b"peek").unwrap();
        let n = server
            .async_io(Interest::READABLE, || peek(&mut buf))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"peek");
        // A peek consumes nothing: readiness kept, and the data is still there.
        server.readable().now_or_never().unwrap().unwrap();
        assert_eq!(server.try_read(&mut buf).unwrap(), 4);
    });
}
