//! netpoll's OS half on Linux: one epoll set that any number of Ms poll at once, as Go's
//! `netpoll` does (`runtime/netpoll_epoll.go`), with a break eventfd and a deadline timerfd.
//!
//! - **Non-blocking polls** ([`Wait::Now`]) may run on any number of threads at once, beside
//!   the blocked one. Each call has its own event buffer on its stack; the kernel hands each
//!   edge-triggered source event to exactly one caller.
//! - **One blocking poll at a time** ([`Wait::Block`]): the caller guarantees it (the reactor
//!   claims the poll before it calls). Only the blocking poll arms the timerfd and takes a
//!   break.
//! - **A non-blocking poll never swallows a break.** The break eventfd is edge-triggered,
//!   like the sources: each write is one event, handed to one caller. A non-blocking poll
//!   that gets it writes the eventfd again, so the blocked poll (or the next one to block)
//!   gets the break after all. The eventfd is never read, as mio's waker: the counter is
//!   emptied only if it ever fills up. (Go registers its break eventfd level-triggered and
//!   the blocking poll reads it. That read on every break, on the path that wakes an idle
//!   M, cost `chained_spawn` 17% on 2 Ps, BENCHMARKS.md.)
//! - The timerfd is level-triggered, armed only by the blocking poll and disarmed (which
//!   empties it) when that poll returns; a non-blocking poll ignores it.
//!
//! `mio::Poll` still owns the epoll fd and its `Registry` registers the sources; it is never
//! polled itself (`Poll::poll` takes `&mut self`, one caller at a time: that was the mutex
//! that made a busy M's poll and the blocked M's exclude each other).

use mio::{Poll, Registry};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{EventReady, Wait};

/// Events one `epoll_wait` returns at most (Go's `netpoll` takes 128 too). More ready
/// sources stay on the kernel's ready list for the next poll.
const EVENTS: usize = 128;
/// The tokens of the break eventfd and the timerfd. Source tokens are the reactor's slab
/// key and generation, which never reach these in practice (a key of 2^24 - 1 is refused).
const BREAK_TOKEN: u64 = u64::MAX;
const TIMER_TOKEN: u64 = u64::MAX - 1;

/// One epoll set, its break eventfd and its deadline timerfd.
pub(crate) struct Poller {
    /// Owns the epoll fd (closed on drop) and its `Registry`; never polled through mio.
    poll: Poll,
    epfd: RawFd,
    break_fd: OwnedFd,
    timer: TimerFd,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let poll = Poll::new()?;
        let epfd = poll.as_raw_fd();
        // SAFETY: plain syscall; the result is checked before use.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let break_fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let timer = TimerFd::new()?;
        add(epfd, break_fd.as_raw_fd(), BREAK_TOKEN, libc::EPOLLET)?;
        add(epfd, timer.fd.as_raw_fd(), TIMER_TOKEN, 0)?;
        Ok(Poller {
            poll,
            epfd,
            break_fd,
            timer,
        })
    }

    /// Registers and deregisters sources (edge-triggered).
    pub(crate) fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Make the blocked poll (or the next one) return: Go's `netpollBreak`. Coalescing is the
    /// caller's business; an eventfd whose counter is full is readable anyway.
    pub(crate) fn wake(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        loop {
            // SAFETY: writing 8 bytes from an 8-byte buffer to our own eventfd.
            let n = unsafe { libc::write(self.break_fd.as_raw_fd(), one.as_ptr().cast(), 8) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
            // The counter is full (never read: see `poll`): empty it and write again.
            self.drain_break();
        }
    }

    /// Poll once; `woke` runs as the wait returns, before any event is handed to `on_event`
    /// (token, readiness) (for sources only). Returns whether a break was taken (only a
    /// blocking poll takes one; a non-blocking poll that gets one passes it on). An
    /// interrupted wait (`EINTR`) is an empty poll.
    ///
    /// [`Wait::Block`] must not run on two threads at once (the reactor's poll claim).
    pub(crate) fn poll(
        &self,
        wait: Wait,
        woke: impl FnOnce(),
        mut on_event: impl FnMut(usize, EventReady),
    ) -> io::Result<bool> {
        let (blocking, timeout_ms, armed) = match wait {
            Wait::Now => (false, 0, false),
            Wait::Block(Some(d)) if d.is_zero() => (true, 0, false),
            Wait::Block(Some(d)) => match self.timer.set(d) {
                // The timerfd ends the wait to the microsecond; epoll's own timeout, in
                // whole milliseconds, only if the timer cannot be armed.
                Ok(()) => (true, -1, true),
                Err(_) => (true, ceil_ms(d), false),
            },
            Wait::Block(None) => (true, -1, false),
        };
        let mut buf = [const { MaybeUninit::<libc::epoll_event>::uninit() }; EVENTS];
        // SAFETY: `buf` has room for `EVENTS` events and is borrowed mutably for the call;
        // `epfd` stays open as long as `self.poll` lives. epoll_wait is thread-safe.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd,
                buf.as_mut_ptr().cast(),
                EVENTS as libc::c_int,
                timeout_ms,
            )
        };
        let err = (n < 0).then(io::Error::last_os_error);
        if armed {
            // Disarming resets the expiration count: the fd is no longer readable.
            let _ = self.timer.disarm();
        }
        woke();
        if let Some(e) = err {
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(e);
        }
        let mut broke = false;
        for slot in &buf[..n as usize] {
            // SAFETY: the kernel wrote the first `n` entries.
            let ev = unsafe { slot.assume_init() };
            match ev.u64 {
                BREAK_TOKEN => {
                    if blocking {
                        broke = true;
                    } else {
                        let _ = self.wake();
                    }
                }
                TIMER_TOKEN => {}
                token => on_event(token as usize, decode(ev.events)),
            }
        }
        Ok(broke)
    }

    fn drain_break(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reading at most 8 bytes into an 8-byte buffer from our own eventfd.
        unsafe {
            libc::read(self.break_fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8);
        }
    }
}

/// Register `fd` for reading, with `flags` (`EPOLLET` or 0: mio's registry makes
/// everything edge-triggered).
fn add(epfd: RawFd, fd: RawFd, token: u64, flags: libc::c_int) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | flags) as u32,
        u64: token,
    };
    // SAFETY: `ev` is a valid epoll_event; both fds are open and ours.
    if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `d` in whole milliseconds, rounded up (a wait must not end before its deadline), at most
/// `c_int::MAX`.
fn ceil_ms(d: Duration) -> libc::c_int {
    let ms = d.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}

/// An epoll event's flags, read as mio reads them (`mio::event::Event`'s accessors).
fn decode(events: u32) -> EventReady {
    let e = events as libc::c_int;
    let (inp, out, err, hup) = (
        e & libc::EPOLLIN != 0,
        e & libc::EPOLLOUT != 0,
        e & libc::EPOLLERR != 0,
        e & libc::EPOLLHUP != 0,
    );
    EventReady {
        readable: inp || e & libc::EPOLLPRI != 0,
        writable: out,
        read_closed: hup || (inp && e & libc::EPOLLRDHUP != 0),
        write_closed: hup || (out && err) || e == libc::EPOLLERR,
        error: err,
    }
}

// A timerfd in the poll set, so a blocking poll can end at a deadline with microsecond
// precision (`epoll_wait` takes whole milliseconds; rounding a timeout up to the next one
// would make every timer up to 1ms late).

/// A timerfd, readable once its deadline passes.
struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    fn new() -> io::Result<TimerFd> {
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
        Ok(TimerFd { fd })
    }

    /// Arm the timer to fire once after `d` (a zero `d` fires at once: a zero `it_value`
    /// would disarm it instead).
    fn set(&self, d: Duration) -> io::Result<()> {
        self.settime(d.max(Duration::from_nanos(1)))
    }

    /// Disarm it; this also clears a pending expiration.
    fn disarm(&self) -> io::Result<()> {
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
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Instant;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(rc, 0);
        // SAFETY: both are fresh descriptors we own.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn write_byte(fd: &OwnedFd) {
        // SAFETY: one byte from a one-byte buffer to our own pipe.
        let n = unsafe { libc::write(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        assert_eq!(n, 1);
    }

    fn tokens(p: &Poller, wait: Wait) -> (Vec<usize>, bool) {
        let mut got = Vec::new();
        let broke = p.poll(wait, || {}, |t, _| got.push(t)).unwrap();
        (got, broke)
    }

    /// A non-blocking poll sees a break but leaves it for the blocking poll, which consumes
    /// it exactly once.
    #[test]
    fn only_a_blocking_poll_consumes_a_break() {
        let p = Poller::new().unwrap();
        p.wake().unwrap();
        assert_eq!(tokens(&p, Wait::Now), (vec![], false));
        assert_eq!(tokens(&p, Wait::Now), (vec![], false));
        // (A bound, so that a lost break fails the test instead of hanging it.)
        let bound = Wait::Block(Some(Duration::from_secs(30)));
        assert_eq!(tokens(&p, bound), (vec![], true));
        let start = Instant::now();
        let (got, broke) = tokens(&p, Wait::Block(Some(Duration::from_millis(20))));
        assert!(got.is_empty() && !broke, "the break was seen twice");
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    /// While one thread is blocked in the poll, another polls without blocking (no lock
    /// between them), and sees a source's event; a break then still reaches the blocked
    /// thread, though the non-blocking polls saw it first.
    #[test]
    fn a_non_blocking_poll_runs_beside_the_blocked_one() {
        let p = Arc::new(Poller::new().unwrap());
        let (r, w) = pipe();
        let blocked = Arc::new(AtomicBool::new(true));
        let tid = Arc::new(AtomicI32::new(0));
        let (p2, b2, t2) = (p.clone(), blocked.clone(), tid.clone());
        let poller = std::thread::spawn(move || {
            t2.store(crate::platform::gettid(), SeqCst);
            let broke = p2.poll(Wait::Block(None), || {}, |_, _| {}).unwrap();
            b2.store(false, SeqCst);
            broke
        });
        // Wait until the thread sleeps in the kernel: nothing but epoll_wait follows its
        // store of the tid. 30 s at most.
        let start = Instant::now();
        loop {
            let t = tid.load(SeqCst);
            if t != 0 && crate::platform::thread_sleeping(t) == Some(true) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "never blocked");
            std::thread::yield_now();
        }
        assert_eq!(tokens(&p, Wait::Now), (vec![], false));
        assert!(
            blocked.load(SeqCst),
            "the non-blocking poll woke the blocked one"
        );
        // A source registered now, made ready: this thread's poll may take its edge (the
        // blocked one, woken by it, then finds nothing and sleeps on).
        let fd = r.as_raw_fd();
        p.registry()
            .register(
                &mut mio::unix::SourceFd(&fd),
                mio::Token(7),
                mio::Interest::READABLE,
            )
            .unwrap();
        write_byte(&w);
        let mine = tokens(&p, Wait::Now).0;
        assert!(mine.is_empty() || mine == vec![7], "{mine:?}");
        p.wake().unwrap();
        for _ in 0..3 {
            assert!(
                !tokens(&p, Wait::Now).1,
                "a non-blocking poll took the break"
            );
        }
        let broke = poller.join().unwrap();
        // It returned either for the break or, if it won the pipe's edge, for that; then
        // the break is still pending for the next blocking poll.
        assert!(broke || tokens(&p, Wait::Block(None)).1);
    }

    /// The deadline is kept by the timerfd, finer than epoll's milliseconds, and a timer
    /// expiry is not reported as a break.
    #[test]
    fn a_blocking_poll_ends_at_its_deadline() {
        let p = Poller::new().unwrap();
        let start = Instant::now();
        assert_eq!(
            tokens(&p, Wait::Block(Some(Duration::from_micros(300)))),
            (vec![], false)
        );
        let took = start.elapsed();
        assert!(took >= Duration::from_micros(300), "{took:?}");
        // Disarmed after the wait: the next non-blocking poll sees nothing pending.
        assert_eq!(tokens(&p, Wait::Now), (vec![], false));
    }

    #[test]
    fn a_long_timeout_rounds_up_to_whole_milliseconds() {
        assert_eq!(ceil_ms(Duration::from_micros(1)), 1);
        assert_eq!(ceil_ms(Duration::from_millis(2)), 2);
        assert_eq!(ceil_ms(Duration::from_secs(u64::MAX)), libc::c_int::MAX);
    }
}
