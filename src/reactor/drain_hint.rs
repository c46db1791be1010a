//! `DrainHint`: how a TCP stream's reads learn whether they emptied the socket, chosen per
//! stream by what its reads look like.
//!
//! A stream read that drains the receive queue lets the reader clear the readiness at once
//! (`IoSource::poll_read_stream`), so the next read waits for an edge instead of making a
//! `recv` that can only say `EAGAIN`. A *short* read (`n < len`) says so by itself. A read
//! that fills its buffer cannot tell, unless the kernel reports what is left (`TCP_INQ`:
//! `recvmsg(2)` with a control message, `platform::recv_tcp_inq`).
//!
//! That report is not free: on loopback a 40-byte `recvmsg` with the control message costs
//! about 160 ns more in the kernel than a plain `recv` (1.92 against 1.75 µs, 300k reads into
//! an 8 KiB buffer), and it is wasted on every read that comes back short. An HTTP server's
//! reads (a request of a few hundred bytes into hyper's 8 KiB buffer) are all short; a
//! `read_exact` of a fixed-size message fills its buffer every time, and without the report
//! each one is followed by a `recv` that fails with `EAGAIN`. So each stream starts with plain
//! `recv`s and switches to `TCP_INQ` for good once it has paid for not knowing: a read that
//! filled its buffer followed by one that found nothing. The option is set then (one
//! `setsockopt`, saved on every connection that never gets there). A full read followed by a
//! short one does not count: hyper's HTTP/1-or-2 sniff reads the first 24 bytes exactly,
//! then the rest of the request comes back short.
//!
//! States (one byte, `Relaxed`: it is a hint about the cheapest call, never about data):
//! `PLAIN` (the start) ⇄ `FILLED` (the last plain read filled its buffer) → `INQ` (an `EAGAIN`
//! came after a fill, and the option is set) or `REFUSED` (the kernel said no: an old kernel,
//! a socket that is not TCP, a platform without `TCP_INQ`; plain `recv`s from then on). Two
//! readers of one stream racing through a switch at worst set the option twice (idempotent)
//! or miss one switch. Any state reads correctly: the hint only picks the call.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

const PLAIN: u8 = 0;
const FILLED: u8 = 1;
const INQ: u8 = 2;
const REFUSED: u8 = 3;

/// Per-stream choice between a plain `recv` and one that reports the queue's remainder.
#[derive(Debug, Default)]
pub(crate) struct DrainHint(AtomicU8);

impl DrainHint {
    /// One non-blocking read of the TCP socket `fd` into `buf`: the bytes read, and whether
    /// the kernel reported the receive queue empty after them (only once this stream reads
    /// with `TCP_INQ`; a short read needs no report). A plain read that finds nothing right
    /// after one that filled its buffer switches the stream to `TCP_INQ`.
    pub(crate) fn recv(&self, fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, bool)> {
        let mode = self.0.load(Relaxed);
        if mode == INQ {
            return crate::platform::recv_tcp_inq(fd, buf);
        }
        let res = crate::platform::recv_plain(fd, buf);
        if mode != REFUSED {
            let next = match &res {
                Ok(n) if *n == buf.len() && *n > 0 => FILLED,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && mode == FILLED => {
                    if crate::platform::enable_tcp_inq(fd) {
                        INQ
                    } else {
                        REFUSED
                    }
                }
                _ => PLAIN,
            };
            if next != mode {
                self.0.store(next, Relaxed);
            }
        }
        res.map(|n| (n, false))
    }

    /// Whether this stream's reads ask for the remainder now (tests).
    #[cfg(test)]
    pub(crate) fn uses_inq(&self) -> bool {
        self.0.load(Relaxed) == INQ
    }

    /// Whether the kernel refused `TCP_INQ` on this stream (tests).
    #[cfg(test)]
    pub(crate) fn refused(&self) -> bool {
        self.0.load(Relaxed) == REFUSED
    }
}

#[cfg(all(test, not(loom), not(miri), target_os = "linux"))]
mod tests {
    use super::DrainHint;
    use std::io::{self, ErrorKind, Write};
    use std::mem::MaybeUninit;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    /// A connected loopback pair: (writer, reader), the reader non-blocking.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        reader.set_nonblocking(true).unwrap();
        (writer, reader)
    }

    /// Wait (with a deadline) until exactly `n` bytes are queued on `reader`.
    fn wait_queued(reader: &TcpStream, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut peek = vec![0u8; n + 1];
        loop {
            match reader.peek(&mut peek) {
                Ok(got) if got == n => return,
                Ok(got) => assert!(got < n, "more than {n} bytes queued"),
                Err(e) => assert_eq!(e.kind(), ErrorKind::WouldBlock),
            }
            assert!(Instant::now() < deadline, "{n} bytes never arrived");
            std::thread::yield_now();
        }
    }

    fn read(hint: &DrainHint, fd: i32, len: usize) -> io::Result<(usize, bool)> {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); len];
        hint.recv(fd, &mut buf)
    }

    fn would_block(res: io::Result<(usize, bool)>) -> bool {
        matches!(res, Err(e) if e.kind() == ErrorKind::WouldBlock)
    }

    /// The kernel's `TCP_INQ` setting of `fd` (0 or 1).
    fn inq_option(fd: i32) -> libc::c_int {
        crate::platform::getsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_INQ).unwrap()
    }

    /// Short reads never pay for the report, nor does a full read followed by a short one
    /// (hyper's 24-byte protocol sniff, then the rest of the request). A full read followed
    /// by one that finds nothing switches the stream; from then on an exact fill that empties
    /// the socket says "drained", one that leaves data says not.
    #[test]
    fn only_a_fill_then_nothing_switches_to_inq() {
        let (mut writer, reader) = pair();
        let fd = reader.as_raw_fd();
        let hint = DrainHint::default();
        for _ in 0..3 {
            writer.write_all(&[1; 40]).unwrap();
            wait_queued(&reader, 40);
            assert_eq!(read(&hint, fd, 8192).unwrap(), (40, false));
            assert!(would_block(read(&hint, fd, 8192)));
        }
        writer.write_all(&[2; 40]).unwrap();
        wait_queued(&reader, 40);
        assert_eq!(read(&hint, fd, 24).unwrap(), (24, false));
        assert_eq!(read(&hint, fd, 8192).unwrap(), (16, false));
        assert!(would_block(read(&hint, fd, 8192)));
        assert!(!hint.uses_inq());
        assert_eq!(inq_option(fd), 0, "set without cause");

        // An exact fill cannot tell while plain; the EAGAIN after it switches the stream.
        writer.write_all(&[3; 64]).unwrap();
        wait_queued(&reader, 64);
        assert_eq!(read(&hint, fd, 64).unwrap(), (64, false));
        assert!(would_block(read(&hint, fd, 64)));
        assert!(hint.uses_inq());
        assert_eq!(inq_option(fd), 1);

        writer.write_all(&[4; 64]).unwrap();
        wait_queued(&reader, 64);
        assert_eq!(read(&hint, fd, 64).unwrap(), (64, true));
        writer.write_all(&[5; 128]).unwrap();
        wait_queued(&reader, 128);
        assert_eq!(read(&hint, fd, 64).unwrap(), (64, false));
        assert_eq!(read(&hint, fd, 64).unwrap(), (64, true));
        assert!(hint.uses_inq());
    }

    /// A socket that refuses `TCP_INQ` (here a Unix stream, as an old kernel or a non-TCP fd
    /// would) is remembered as refused: reads go on plain and correct, and the option is not
    /// asked for again.
    #[test]
    fn a_refused_option_leaves_plain_reads() {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let fd = b.as_raw_fd();
        let hint = DrainHint::default();
        a.write_all(&[7; 64]).unwrap();
        assert_eq!(read(&hint, fd, 64).unwrap(), (64, false));
        assert!(would_block(read(&hint, fd, 64)));
        assert!(hint.refused());
        a.write_all(&[8; 64]).unwrap();
        assert_eq!(read(&hint, fd, 64).unwrap(), (64, false));
        assert!(would_block(read(&hint, fd, 64)));
        assert!(hint.refused());
    }

    /// End of stream and errors pass through and switch nothing.
    #[test]
    fn eof_and_errors_pass_through() {
        let (writer, reader) = pair();
        drop(writer);
        let hint = DrainHint::default();
        let fd = reader.as_raw_fd();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match read(&hint, fd, 16) {
                Ok(r) => break assert_eq!(r, (0, false)),
                Err(e) => assert_eq!(e.kind(), ErrorKind::WouldBlock),
            }
            assert!(Instant::now() < deadline, "no EOF");
            std::thread::yield_now();
        }
        assert!(!hint.uses_inq() && !hint.refused());
        let err = read(&hint, -1, 16).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        assert!(!hint.uses_inq() && !hint.refused());
    }
}
