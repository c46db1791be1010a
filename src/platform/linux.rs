//! The Linux implementations (see the module above for what each is for). Everything here
//! has a fallback in `fallback.rs` for the other unix targets.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

// ---- the monotonic clock ----

/// `CLOCK_MONOTONIC` in nanoseconds: the clock std's `Instant` reads on Linux, without
/// `Instant`'s arithmetic (a checked `Timespec` subtraction, then a `Duration`), which cost
/// about three times the clock read itself on the scheduler's timer checks.
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; `CLOCK_MONOTONIC` exists on every Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

// ---- timerfd ----

// A timerfd in the poll set, so a blocking poll can end at a deadline with microsecond
// precision (`epoll_wait` takes whole milliseconds; mio rounds a timeout up to the next one,
// which would make every timer up to 1ms late).

/// A timerfd registered in a `mio::Poll`, readable once its deadline passes.
pub(crate) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<TimerFd> {
        // SAFETY: plain syscall; the result is checked before use.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(TimerFd { fd })
    }

    /// Arm the timer to fire once after `d` (a zero `d` fires at once: a zero `it_value`
    /// would disarm it instead).
    pub(crate) fn set(&self, d: Duration) -> io::Result<()> {
        let d = if d.is_zero() {
            Duration::from_nanos(1)
        } else {
            d
        };
        self.settime(d)
    }

    pub(crate) fn disarm(&self) -> io::Result<()> {
        self.settime(Duration::ZERO)
    }

    fn settime(&self, d: Duration) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec and the fd is ours.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consume the expiration count so the fd stops being readable.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reading at most 8 bytes into an 8-byte buffer from our own fd.
        unsafe {
            libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len());
        }
    }
}

// ---- timer slack ----

/// Ask the kernel for `ns` of timer slack on this thread (default 50µs): sysmon's 20µs naps
/// and the poller's timerfd deadlines would otherwise run ~50µs late.
pub(crate) fn set_timer_slack(ns: u64) {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0);
    }
}

// ---- thread scheduling times ----

/// The calling thread's kernel thread id (`gettid`), for [`thread_cpu_ns`] and
/// [`thread_sleeping`].
pub(crate) fn gettid() -> libc::pid_t {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// CPU time of thread `tid` of this process, in ns, up to this instant (the kernel adds the
/// running slice, unlike schedstat's `sum_exec_runtime`, which lags by up to a tick). The
/// clock id is the kernel's encoding of a per-thread CPU clock, `(~tid << 3) | 6`
/// (`CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED`), what glibc's `pthread_getcpuclockid` builds;
/// addressed by tid, a thread that has exited gives `EINVAL`, not undefined behaviour.
/// `None` if the call fails.
pub(crate) fn thread_cpu_ns(tid: libc::pid_t) -> Option<u64> {
    let clock = (!tid << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; a bad clock id is an error return.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Whether thread `tid` of this process is asleep or blocked in the kernel right now (state
/// `S` or `D` in `/proc/self/task/TID/stat`), rather than running or waiting for a CPU
/// (`R`). `None` if the file cannot be read or parsed (the thread is gone, no procfs).
pub(crate) fn thread_sleeping(tid: libc::pid_t) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // "TID (COMM) STATE ...": COMM may hold spaces and parentheses, so split at the last ')'.
    let state = stat[stat.rfind(')')? + 1..]
        .split_ascii_whitespace()
        .next()?;
    Some(matches!(state, "S" | "D"))
}

// ---- CPU count ----

/// The CPUs this process may run on: the online CPUs, fewer when the affinity mask
/// (`sched_getaffinity`, e.g. `taskset`, a cpuset) allows fewer. Not
/// `std::thread::available_parallelism`, which also applies the cgroup quota, rounded down:
/// gmp applies the quota itself, by Go's rule. `None` when neither call answers.
pub(crate) fn cpu_count() -> Option<usize> {
    // SAFETY: sysconf takes a plain integer.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let online = usize::try_from(online).ok().filter(|&n| n > 0);
    // SAFETY: an all-zero cpu_set_t is a valid empty set; the kernel fills at most its size.
    let affinity = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            usize::try_from(libc::CPU_COUNT(&set))
                .ok()
                .filter(|&n| n > 0)
        } else {
            None // more than 1024 CPUs (EINVAL), or refused: the online count stands
        }
    };
    match (online, affinity) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

// ---- errno ----

/// The calling thread's `errno` (for a signal handler, which must leave it as it found it).
pub(crate) fn errno() -> libc::c_int {
    // SAFETY: `__errno_location` returns a valid pointer to this thread's `errno`.
    unsafe { *libc::__errno_location() }
}

/// Set the calling thread's `errno`.
pub(crate) fn set_errno(value: libc::c_int) {
    // SAFETY: as in `errno`; the pointer is valid for writes too.
    unsafe { *libc::__errno_location() = value };
}

// ---- pidfd ----

/// `pidfd_open(pid, 0)` (Linux 5.3+): a descriptor that becomes readable when the child
/// exits. `ENOSYS` on older kernels, `EPERM` in some seccomp sandboxes.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it reads
    // and writes no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor (close-on-exec, as pidfd_open always makes it) that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

// ---- sockets ----

/// A new non-blocking, close-on-exec stream socket of `domain` (`AF_INET`, `AF_INET6`), both
/// flags set in the same call (no window where a forked child inherits it).
pub(crate) fn stream_socket(domain: libc::c_int) -> io::Result<OwnedFd> {
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket(2) takes no pointers; it returns a new fd or -1.
    let fd = unsafe { libc::socket(domain, ty, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2): open, and owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The address family of socket `fd` (`SO_DOMAIN`).
pub(crate) fn socket_domain(fd: RawFd) -> io::Result<libc::c_int> {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)
}

/// An `int`-valued socket option of `fd` (`getsockopt(2)`).
pub(crate) fn getsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is a live `c_int`, writable for `len` bytes; getsockopt(2) writes at
    // most that and updates `len`; `fd` is the caller's open socket.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

// ---- TCP_INQ ----

// Reads that say whether the socket is drained (Linux `TCP_INQ`), so a read that fills the
// caller's buffer exactly need not be followed by one that only returns `EAGAIN`.
//
// Edge-triggered readiness (see `reactor::scheduled_io`) stays set until a read fails with
// `WouldBlock`, or comes back *short* (`0 < n < len`: the queue was emptied). A read that
// fills its buffer cannot tell, so the next read makes a syscall that, in a request/response
// protocol whose message ends where the buffer does (`read_exact` of a fixed-size header or
// message), only returns `EAGAIN`: one wasted `recv` per message on each side.
//
// With `TCP_INQ` set on the socket (Linux 4.18+), `recvmsg(2)` appends a control message
// (`TCP_CM_INQ`) holding the bytes left in the receive queue *after* this read. Zero means
// drained exactly as a short read does, and the reader clears the readiness the same way
// (`ScheduledIo::clear_readable` keeps an event that arrived meanwhile, so data that lands
// just after the read is not lost: its edge sets the readiness again).
//
// Invariants:
// - Only a successful read with `n > 0` and a reported remainder of 0 counts as drained;
//   a missing control message (option refused, old kernel, a socket that is not TCP)
//   leaves only the short-read rule, which is what every read had before.
// - `enable_tcp_inq` is best effort: a refusal is not an error, the stream reads as before.

/// Ask the kernel to report the receive queue's remainder on each `recvmsg` (best effort:
/// false when refused, e.g. on a kernel older than 4.18).
pub(crate) fn enable_tcp_inq(fd: RawFd) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: `fd` is an open socket owned by the caller; the option value is a live
    // `c_int` whose size is passed alongside; setsockopt(2) only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INQ,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// One plain `recv(2)` into `buf` (retried on `EINTR`): the bytes read. No control message,
/// so about 160 ns cheaper in the kernel than [`recv_tcp_inq`] on loopback (a 40-byte read
/// into an 8 KiB buffer: 1.75 against 1.92 µs); see `reactor/drain_hint.rs` for who picks which.
pub(crate) fn recv_plain(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    let (ptr, len) = (buf.as_mut_ptr().cast::<libc::c_void>(), buf.len());
    // SAFETY: `ptr` is valid for writes of `len` bytes: it points into `buf`, which is
    // borrowed mutably for this whole call. recv(2) writes at most `len` bytes there; `fd` is
    // the caller's open socket.
    super::retry_eintr(|| unsafe { libc::recv(fd, ptr, len, 0) })
}

/// One `recvmsg(2)` into `buf` (retried on `EINTR`): the bytes read, and whether the kernel
/// reported the receive queue empty after them (only with `TCP_INQ` set; false when not
/// reported).
pub(crate) fn recv_tcp_inq(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<(usize, bool)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one control message with an `int` payload: CMSG_SPACE(4) is 24 bytes on
    // 64-bit Linux, 16 on 32-bit; `u64`s keep it aligned for `cmsghdr`.
    let mut control = [0u64; 4];
    // SAFETY: `msghdr` is a plain C struct for which all-zero is a valid value (null
    // pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at one iovec covering `buf` (valid for writes of its length,
    // borrowed mutably for this call) and at `control` (valid for writes of `msg_controllen`
    // bytes); recvmsg(2) writes only within those and updates `msg`.
    let n = super::retry_eintr(|| unsafe { libc::recvmsg(fd, &mut msg, 0) })?;
    Ok((n, n > 0 && remainder(&msg) == Some(0)))
}

/// The `TCP_CM_INQ` value among the control messages recvmsg(2) returned in `msg`.
fn remainder(msg: &libc::msghdr) -> Option<libc::c_int> {
    // SAFETY: `msg` was filled by a successful recvmsg(2): `msg_control`/`msg_controllen`
    // describe the control bytes the kernel wrote, which is what CMSG_FIRSTHDR/CMSG_NXTHDR
    // walk (each returns null past the end).
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        // SAFETY: non-null headers from CMSG_FIRSTHDR/CMSG_NXTHDR lie within the control
        // buffer, aligned for `cmsghdr`.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_TCP && header.cmsg_type == libc::TCP_CM_INQ {
            // SAFETY: a TCP_CM_INQ message carries one `int` after its header (CMSG_DATA);
            // read unaligned, as its alignment is the header's, not necessarily the int's.
            return Some(unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) });
        }
        // SAFETY: as for CMSG_FIRSTHDR; `cmsg` is a header within the buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    None
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{enable_tcp_inq as enable, recv_tcp_inq as recv};
    use std::io::Write;
    use std::mem::MaybeUninit;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    /// A thread's CPU clock, read by its tid from another thread, grows while it computes and
    /// stands still while it sleeps; its state reads "sleeping" then, "running" when it spins,
    /// and nothing once it is gone.
    #[test]
    fn thread_cpu_clock_and_state_by_tid() {
        use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
        use std::sync::Arc;
        let tid = Arc::new(AtomicI32::new(0));
        let (sleep, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let t = std::thread::spawn({
            let (tid, sleep, stop) = (tid.clone(), sleep.clone(), stop.clone());
            move || {
                tid.store(super::gettid(), SeqCst);
                while !stop.load(SeqCst) {
                    if sleep.load(SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    } else {
                        std::hint::spin_loop();
                    }
                }
            }
        });
        while tid.load(SeqCst) == 0 {
            std::thread::yield_now();
        }
        let tid = tid.load(SeqCst);
        assert_ne!(tid, super::gettid());
        // Spinning: its CPU time grows (by at least a tenth of 50 ms even on a loaded box).
        let a = super::thread_cpu_ns(tid).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let b = super::thread_cpu_ns(tid).unwrap();
        assert!(b - a >= 5_000_000, "{a} -> {b}");
        assert_eq!(super::thread_sleeping(tid), Some(false));
        // Sleeping: caught asleep within the deadline, and its clock nearly still.
        sleep.store(true, SeqCst);
        let start = Instant::now();
        while super::thread_sleeping(tid) != Some(true) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never seen asleep"
            );
            std::thread::yield_now();
        }
        stop.store(true, SeqCst);
        t.join().unwrap();
        // Gone (the kernel may release the task a moment after `join` returns).
        let start = Instant::now();
        while super::thread_cpu_ns(tid).is_some() || super::thread_sleeping(tid).is_some() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tid {tid} still there"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn cpu_count_is_the_affinity_mask_at_most() {
        let n = super::cpu_count().unwrap();
        // SAFETY: as in cpu_count.
        let in_mask = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
                0
            );
            libc::CPU_COUNT(&set) as usize
        };
        assert!(n >= 1 && n <= in_mask, "{n} CPUs, {in_mask} in the mask");
    }

    /// A connected loopback pair (blocking std sockets): (writer, reader).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        (writer, reader)
    }

    /// Wait (with a deadline) until `n` bytes are queued on `reader`, read without consuming.
    fn wait_queued(reader: &TcpStream, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut peek = vec![0u8; n + 1];
        loop {
            let queued = reader.peek(&mut peek).unwrap();
            assert!(queued <= n, "more than {n} bytes queued");
            if queued == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {queued} of {n} bytes arrived"
            );
            std::thread::yield_now();
        }
    }

    fn recv_n(reader: &TcpStream, len: usize) -> (usize, bool) {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); len];
        recv(reader.as_raw_fd(), &mut buf).unwrap()
    }

    #[test]
    fn a_read_that_leaves_nothing_queued_says_so() {
        let (mut writer, reader) = pair();
        assert!(
            enable(reader.as_raw_fd()),
            "TCP_INQ refused (kernel older than 4.18?)"
        );

        // The buffer is filled exactly and nothing is left: drained.
        writer.write_all(&[1; 64]).unwrap();
        wait_queued(&reader, 64);
        assert_eq!(recv_n(&reader, 64), (64, true));

        // Filled exactly with more queued: not drained, until the rest is read.
        writer.write_all(&[2; 128]).unwrap();
        wait_queued(&reader, 128);
        assert_eq!(recv_n(&reader, 64), (64, false));
        assert_eq!(recv_n(&reader, 64), (64, true));
    }

    #[test]
    fn without_the_option_nothing_is_reported() {
        let (mut writer, reader) = pair();
        writer.write_all(&[3; 64]).unwrap();
        wait_queued(&reader, 64);
        assert_eq!(recv_n(&reader, 64), (64, false));
    }

    #[test]
    fn data_before_end_of_file_is_not_drained() {
        // After the peer's FIN the kernel reports a non-zero remainder, so the reader reads
        // again and sees the end of the stream instead of waiting for an edge.
        let (mut writer, reader) = pair();
        assert!(enable(reader.as_raw_fd()));
        writer.write_all(&[4; 64]).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut fd = libc::pollfd {
                fd: reader.as_raw_fd(),
                events: libc::POLLRDHUP,
                revents: 0,
            };
            // SAFETY: one valid `pollfd`, count 1, no timeout.
            let rc = unsafe { libc::poll(&mut fd, 1, 0) };
            assert!(rc >= 0, "poll: {}", std::io::Error::last_os_error());
            if fd.revents & libc::POLLRDHUP != 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the FIN never arrived");
            std::thread::yield_now();
        }
        assert_eq!(recv_n(&reader, 64), (64, false));
        assert_eq!(recv_n(&reader, 64), (0, false));
    }
}
