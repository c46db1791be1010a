//! The other unix targets (`cfg(not(target_os = "linux"))`): the Linux features are absent,
//! and each stands in the way the callers already handle a refusal on an old Linux kernel.
//! Untested off Linux; on Linux this file is built and tested too (`cfg(test)`), so it keeps
//! compiling against the same API.

use mio::{Registry, Token};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::time::Duration;

/// No timer fd: nothing is registered, and [`TimerFd::set`] fails, so the reactor passes the
/// deadline to the poll as its timeout instead.
pub(crate) struct TimerFd {
    _private: (),
}

impl TimerFd {
    pub(crate) fn new(_registry: &Registry, _token: Token) -> io::Result<TimerFd> {
        Ok(TimerFd { _private: () })
    }

    /// Always fails: there is no timer to arm.
    pub(crate) fn set(&self, _d: Duration) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no timerfd on this platform",
        ))
    }

    pub(crate) fn disarm(&self) -> io::Result<()> {
        Ok(())
    }

    /// Never called (nothing is registered under the timer's token).
    pub(crate) fn drain(&self) {}
}

/// Timer slack is a Linux knob: nothing to do.
pub(crate) fn set_timer_slack(_ns: u64) {}

/// `TCP_INQ` is Linux-only: always "refused".
pub(crate) fn enable_tcp_inq(_fd: RawFd) -> bool {
    false
}

/// One `read(2)` into `buf` (retried on `EINTR`): the bytes read, and never "drained"
/// (unknown without `TCP_INQ`; a short read still says it).
pub(crate) fn recv_tcp_inq(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, bool)> {
    let (ptr, len) = (buf.as_mut_ptr().cast::<libc::c_void>(), buf.len());
    // SAFETY: `ptr` is valid for writes of `len` bytes: it points into `buf`, which is
    // borrowed mutably for this whole call. read(2) writes at most `len` bytes there; `fd` is
    // the caller's open socket.
    super::retry_eintr(|| unsafe { libc::read(fd, ptr, len) }).map(|n| (n, false))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{enable_tcp_inq, recv_tcp_inq, set_timer_slack, TimerFd};
    use std::io::Write;
    use std::mem::MaybeUninit;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn the_timer_never_arms_so_the_poll_times_out_itself() {
        let poll = mio::Poll::new().unwrap();
        let t = TimerFd::new(poll.registry(), mio::Token(0)).unwrap();
        assert!(t.set(Duration::from_millis(1)).is_err());
        assert!(t.disarm().is_ok());
        t.drain();
        set_timer_slack(1_000);
    }

    #[test]
    fn reads_never_claim_the_socket_drained() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        assert!(!enable_tcp_inq(reader.as_raw_fd()));
        writer.write_all(&[5; 64]).unwrap();
        // Blocking socket: the read waits for the data; exactly 64 bytes fill the buffer.
        let mut buf = [MaybeUninit::<u8>::uninit(); 64];
        let mut got = 0;
        while got < 64 {
            let (n, drained) = recv_tcp_inq(reader.as_raw_fd(), &mut buf[got..]).unwrap();
            assert!(n > 0 && !drained);
            got += n;
        }
    }
}
