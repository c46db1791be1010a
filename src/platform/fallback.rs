//! The other unix targets (`cfg(not(target_os = "linux"))`), and Linux under Miri: the Linux
//! features are absent, and each stands in the way the callers already handle a refusal on an
//! old Linux kernel. Untested off Linux; on Linux this file is built and tested too
//! (`cfg(test)`), so it keeps compiling against the same API.

use mio::{Registry, Token};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Nanoseconds on `Instant`'s own clock, from a process-wide base (the raw clock behind
/// `Instant` differs between unix targets, e.g. `CLOCK_UPTIME_RAW` on macOS, so this goes
/// through `Instant`).
pub(crate) fn monotonic_ns() -> u64 {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(std::time::Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

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

/// No kernel thread ids needed here: [`thread_cpu_ns`] never answers.
pub(crate) fn gettid() -> libc::pid_t {
    0
}

/// No per-thread CPU clock by thread id: the stuck-P rescue waits its two time slices.
pub(crate) fn thread_cpu_ns(_tid: libc::pid_t) -> Option<u64> {
    None
}

/// No thread states: see [`thread_cpu_ns`].
pub(crate) fn thread_sleeping(_tid: libc::pid_t) -> Option<bool> {
    None
}

/// The CPUs this process may run on: `std`'s answer (online CPUs, or the affinity set where
/// the platform has one).
pub(crate) fn cpu_count() -> Option<usize> {
    std::thread::available_parallelism().ok().map(|n| n.get())
}

/// Where this platform's C library keeps the calling thread's `errno`.
fn errno_location() -> *mut libc::c_int {
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly"
    ))]
    // SAFETY: `__error` only returns the address of this thread's `errno`.
    let p = unsafe { libc::__error() };
    #[cfg(any(target_os = "netbsd", target_os = "openbsd", target_os = "android"))]
    // SAFETY: `__errno` only returns the address of this thread's `errno`.
    let p = unsafe { libc::__errno() };
    #[cfg(target_os = "linux")] // under Miri, or this file's tests on Linux
    // SAFETY: `__errno_location` only returns the address of this thread's `errno`.
    let p = unsafe { libc::__errno_location() };
    p
}

/// The calling thread's `errno` (for a signal handler, which must leave it as it found it).
pub(crate) fn errno() -> libc::c_int {
    // SAFETY: `errno_location` returns a valid pointer to this thread's `errno`.
    unsafe { *errno_location() }
}

/// Set the calling thread's `errno`.
pub(crate) fn set_errno(value: libc::c_int) {
    // SAFETY: as in `errno`; the pointer is valid for writes too.
    unsafe { *errno_location() = value };
}

/// No pidfds off Linux: `ENOSYS`, which switches the process to the SIGCHLD reaper for good.
pub(crate) fn pidfd_open(_pid: libc::pid_t) -> io::Result<OwnedFd> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// A new non-blocking, close-on-exec stream socket of `domain` (`AF_INET`, `AF_INET6`). Not
/// every platform takes `SOCK_NONBLOCK | SOCK_CLOEXEC`, so the flags are set after
/// `socket(2)` (a thread forking in between would leak the fd into its child).
pub(crate) fn stream_socket(domain: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; it returns a new fd or -1.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2): open, and owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl(2) with F_SETFD/F_GETFL/F_SETFL and integer arguments reads no memory;
    // `fd` is open (owned above).
    let ok = unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0 && {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            fl >= 0 && libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) == 0
        }
    };
    if !ok {
        return Err(io::Error::last_os_error());
    }
    Ok(owned)
}

/// The address family of socket `fd`, from its local address (`SO_DOMAIN` is not portable).
pub(crate) fn socket_domain(fd: RawFd) -> io::Result<libc::c_int> {
    // SAFETY: `sockaddr_storage` is a plain C struct: all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `ss` is live and writable for `len` bytes, large enough for any address;
    // getsockname(2) writes at most that and updates `len`; `fd` is the caller's socket.
    let rc = unsafe {
        libc::getsockname(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(libc::c_int::from(ss.ss_family))
}

/// `TCP_INQ` is Linux-only: always "refused".
pub(crate) fn enable_tcp_inq(_fd: RawFd) -> bool {
    false
}

/// One `read(2)` into `buf` (retried on `EINTR`): the bytes read.
pub(crate) fn recv_plain(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    let (ptr, len) = (buf.as_mut_ptr().cast::<libc::c_void>(), buf.len());
    // SAFETY: `ptr` is valid for writes of `len` bytes: it points into `buf`, which is
    // borrowed mutably for this whole call. read(2) writes at most `len` bytes there; `fd` is
    // the caller's open socket.
    super::retry_eintr(|| unsafe { libc::read(fd, ptr, len) })
}

/// [`recv_plain`], and never "drained" (unknown without `TCP_INQ`; a short read still says
/// it).
pub(crate) fn recv_tcp_inq(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, bool)> {
    recv_plain(fd, buf).map(|n| (n, false))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{enable_tcp_inq, recv_tcp_inq, set_timer_slack, TimerFd};
    use std::io::Write;
    use std::mem::MaybeUninit;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    /// Both clocks tick with `Instant`: an interval `Instant` measures is at least as long
    /// on them (read inside it), and they never go backwards.
    #[test]
    fn the_monotonic_clock_follows_instant() {
        for now in [super::monotonic_ns, crate::platform::monotonic_ns] {
            let outer = std::time::Instant::now();
            let a = now();
            std::thread::sleep(Duration::from_millis(2));
            let b = now();
            let outer = outer.elapsed().as_nanos() as u64;
            assert!(b >= a + 2_000_000, "{a} -> {b}: less than the 2 ms slept");
            assert!(b - a <= outer, "{} ns inside {outer} ns", b - a);
        }
    }

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
    fn sockets_are_non_blocking_close_on_exec_and_know_their_family() {
        use std::os::fd::AsRawFd;
        for domain in [libc::AF_INET, libc::AF_INET6] {
            let fd = super::stream_socket(domain).unwrap();
            let raw = fd.as_raw_fd();
            // SAFETY: fcntl(2) getters on an open fd read no memory.
            let (fd_flags, fl) = unsafe {
                (
                    libc::fcntl(raw, libc::F_GETFD),
                    libc::fcntl(raw, libc::F_GETFL),
                )
            };
            assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
            assert_ne!(fl & libc::O_NONBLOCK, 0);
            assert_eq!(super::socket_domain(raw).unwrap(), domain);
        }
    }

    #[test]
    fn errno_reads_back_what_was_set() {
        let saved = super::errno();
        super::set_errno(libc::EINTR);
        assert_eq!(super::errno(), libc::EINTR);
        super::set_errno(saved);
    }

    /// No thread ids or per-thread CPU clocks here: the rescue's early path never fires.
    #[test]
    fn thread_times_never_answer() {
        let tid = super::gettid();
        assert_eq!(tid, 0);
        assert_eq!(super::thread_cpu_ns(tid), None);
        assert_eq!(super::thread_sleeping(tid), None);
    }

    #[test]
    fn cpu_count_is_stds() {
        let std = std::thread::available_parallelism().ok().map(|n| n.get());
        assert_eq!(super::cpu_count(), std);
    }

    #[test]
    fn there_are_no_pidfds() {
        let e = super::pidfd_open(1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSYS));
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
