//! Every Linux-specific call the runtime makes beyond what `mio` and `std` cover, in one place
//! (the rest of gmp uses only POSIX calls, through `libc`).
//!
//! Supported platforms:
//!
//! - **Linux** (`linux.rs`): the real thing, and the only platform that is tested.
//!   - [`TimerFd`]: a timerfd in the poll set, so the M blocked in the poll wakes at the
//!     earliest timer to the microsecond (`epoll_wait` takes whole milliseconds).
//!   - [`set_timer_slack`]: `prctl(PR_SET_TIMERSLACK)`, so the kernel does not defer a
//!     thread's sleeps by its default 50µs of slack.
//!   - [`enable_tcp_inq`] / [`recv_tcp_inq`]: `TCP_INQ` (Linux 4.18+), so a TCP read learns
//!     whether it drained the socket and the reader is spared a read that only returns
//!     `EAGAIN`; [`recv_plain`], the cheaper `recv(2)` for streams whose reads come back
//!     short anyway (`reactor/drain_hint.rs` picks).
//!   - [`pidfd_open`] (Linux 5.3+): a child's exit as a readiness event on the reactor.
//!   - [`errno`] / [`set_errno`]: the signal handler saves and restores `errno`
//!     (`__errno_location`, which each C library names differently).
//!   - [`cpu_count`]: the online CPUs, fewer if the affinity mask (`sched_getaffinity`)
//!     allows fewer (the base of the default `procs`; `runtime/cgroup.rs` applies the cgroup
//!     limit).
//!   - [`stream_socket`]: `SOCK_NONBLOCK | SOCK_CLOEXEC` in the `socket(2)` call itself;
//!     [`socket_domain`]: `SO_DOMAIN`.
//!   - [`monotonic_ns`]: `clock_gettime(CLOCK_MONOTONIC)` read directly — `Instant`'s
//!     clock on Linux — for the scheduler's "now" without `Instant`'s arithmetic.
//!   - [`gettid`], [`thread_cpu_ns`] (a thread's CPU clock by tid), [`thread_sleeping`]
//!     (its state in `/proc/self/task/TID/stat`): so sysmon can tell a poll blocked in the
//!     kernel from one computing (`sysmon/rescue.rs`).
//! - **Other unix targets** (`fallback.rs`, `cfg(not(target_os = "linux"))`), type-checked for
//!   FreeBSD and macOS but untested:
//!   - [`TimerFd`] never arms ([`TimerFd::set`] fails), so the reactor passes the deadline to
//!     the poll itself (mio's timeout: whole milliseconds with epoll, finer with kqueue).
//!   - [`set_timer_slack`] does nothing.
//!   - [`enable_tcp_inq`] reports the option refused; [`recv_tcp_inq`] and [`recv_plain`]
//!     are a plain `read(2)`, and the former never says "drained" (unknown): only a short
//!     read clears the readiness.
//!   - [`pidfd_open`] fails with `ENOSYS`, so child processes are reaped on SIGCHLD (the path
//!     old Linux kernels take).
//!   - [`cpu_count`] is `std::thread::available_parallelism`.
//!   - [`thread_cpu_ns`] never answers, so a stuck-P rescue always waits two time slices.
//!   - [`monotonic_ns`] goes through `Instant` (from a process-wide base).
//!   - [`errno`] / [`set_errno`] through the C library's own accessor (`__error`, `__errno`).
//!   - [`stream_socket`] sets close-on-exec and non-blocking with `fcntl` after `socket(2)`
//!     (a fork in between can leak the fd); [`socket_domain`] reads the family from
//!     `getsockname`.
//!
//! Without the timerfd, `TCP_INQ` or pidfds, the callers take the path they already take on
//! Linux when the kernel refuses the feature (an old kernel, a sandbox).
//!
//! Under Miri the fallback stands in on Linux too: Miri implements neither timerfd nor
//! `prctl`, and the fallback lets its tests build a runtime.
//!
//! Not here: the socket address layout (`sin_len` on the BSDs) in `net::sys`.
//!
//! Windows is not supported (the runtime is built on unix file descriptors throughout).

#[cfg(all(target_os = "linux", not(miri)))]
mod linux;
/// Tests read socket options back (`reactor/drain_hint.rs`).
#[cfg(all(test, target_os = "linux", not(miri)))]
pub(crate) use linux::getsockopt_int;
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) use linux::{
    cpu_count, enable_tcp_inq, errno, gettid, monotonic_ns, pidfd_open, recv_plain, recv_tcp_inq,
    set_errno, set_timer_slack, socket_domain, stream_socket, thread_cpu_ns, thread_sleeping,
    TimerFd,
};

#[cfg(any(not(target_os = "linux"), miri))]
mod fallback;
#[cfg(any(not(target_os = "linux"), miri))]
pub(crate) use fallback::{
    cpu_count, enable_tcp_inq, errno, gettid, monotonic_ns, pidfd_open, recv_plain, recv_tcp_inq,
    set_errno, set_timer_slack, socket_domain, stream_socket, thread_cpu_ns, thread_sleeping,
    TimerFd,
};

/// On Linux the fallback is built (and tested) too, so it keeps compiling against the API.
#[cfg(all(test, target_os = "linux", not(miri)))]
mod fallback;

use std::io;

/// Run a syscall that returns a byte count or -1 (with `errno`) until it is not interrupted
/// (`EINTR`).
pub(crate) fn retry_eintr(mut call: impl FnMut() -> libc::ssize_t) -> io::Result<usize> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
