//! `gmp::io::AsyncFd` over a pipe and an eventfd: readiness, `try_io` (which clears only on
//! `WouldBlock`), a clear that keeps a newer event, a write from another thread waking a
//! waiting reader, deregistration on drop and `into_inner`, and the OS's refusal of a
//! regular file.
//!
//! Every test runs under a watchdog; waits are on conditions, never bare sleeps.

use futures::FutureExt;
use gmp::io::{AsyncFd, Interest};
use std::fs::File;
use std::future::Future;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

use support::run_task as run;

/// A non-blocking pipe: (read end, write end).
fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2(2) writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: pipe2 returned two fresh fds that nothing else owns.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

/// A non-blocking eventfd with counter 0.
fn eventfd() -> File {
    // SAFETY: eventfd(2) takes no pointers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", io::Error::last_os_error());
    // SAFETY: a fresh fd that nothing else owns.
    File::from(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn io_sources() -> usize {
    gmp::Handle::current().metrics().io_sources
}

fn netpoll_events() -> u64 {
    gmp::Handle::current().metrics().netpoll_events
}

/// Yield until `cond` holds (the reactor runs on the other Ms meanwhile).
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        gmp::yield_now().await;
    }
}

/// Wrap a future; report on `tx` the first time it returns `Pending` (the task is then
/// parked on it).
struct SignalPending<F> {
    inner: F,
    tx: Option<mpsc::Sender<()>>,
}

impl<F: Future + Unpin> Future for SignalPending<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let p = Pin::new(&mut self.inner).poll(cx);
        if p.is_pending() {
            if let Some(tx) = self.tx.take() {
                tx.send(()).unwrap();
            }
        }
        p
    }
}

#[test]
fn pipe_try_io_keeps_readiness_on_success_and_clears_it_on_would_block() {
    run("pipe try_io", || async {
        let (rx, mut tx) = pipe();
        let rx = AsyncFd::new(rx).unwrap();
        // Nothing written: not readable.
        assert!(rx.readable().now_or_never().is_none());

        tx.write_all(b"abc").unwrap();
        let mut guard = rx.readable().await.unwrap();
        assert!(guard.ready().is_readable());
        let mut buf = [0; 16];
        let n = guard
            .try_io(|fd| fd.get_ref().read(&mut buf))
            .expect("data was there")
            .unwrap();
        assert_eq!(&buf[..n], b"abc");
        // A success keeps the readiness: the next wait returns at once.
        assert!(guard.ready().is_readable());
        drop(guard);
        let mut guard = rx
            .readable()
            .now_or_never()
            .expect("readiness kept after a successful read")
            .unwrap();
        // The pipe is empty now: WouldBlock clears the readiness.
        assert!(guard.try_io(|fd| fd.get_ref().read(&mut buf)).is_err());
        assert!(guard.ready().is_empty());
        drop(guard);
        assert!(
            rx.readable().now_or_never().is_none(),
            "WouldBlock did not clear the readiness"
        );

        // A later write makes it readable again.
        tx.write_all(b"de").unwrap();
        let n = rx
            .async_io(Interest::READABLE, |f| (&*f).read(&mut buf))
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"de");
    });
}

#[test]
fn clear_ready_keeps_an_event_newer_than_the_guard() {
    run("clear keeps newer event", || async {
        let (rx, mut tx) = pipe();
        let rx = AsyncFd::with_interest(rx, Interest::READABLE).unwrap();
        let mut buf = [0; 16];

        // Without a newer event, clear_ready clears.
        tx.write_all(b"a").unwrap();
        let mut guard = rx.readable().await.unwrap();
        assert_eq!(guard.get_inner().read(&mut buf).unwrap(), 1);
        guard.clear_ready();
        drop(guard);
        assert!(rx.readable().now_or_never().is_none());

        // An event delivered after the guard's: clear_ready must keep it.
        tx.write_all(b"b").unwrap();
        let mut guard = rx.readable().await.unwrap();
        assert_eq!(guard.get_inner().read(&mut buf).unwrap(), 1);
        let before = netpoll_events();
        tx.write_all(b"c").unwrap();
        until("the reactor delivered the write's event", || {
            netpoll_events() > before
        })
        .await;
        guard.clear_ready(); // stale: the tick moved on
        drop(guard);
        let mut guard = rx
            .readable()
            .now_or_never()
            .expect("the newer event was erased by a stale clear")
            .unwrap();
        let n = guard
            .try_io(|fd| fd.get_ref().read(&mut buf))
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"c");
    });
}

#[test]
fn a_write_from_another_thread_wakes_a_parked_reader() {
    run("cross-thread wake", || async {
        let (rx, tx) = pipe();
        let rx = AsyncFd::new(rx).unwrap();
        let (parked_tx, parked_rx) = mpsc::channel();
        let writer = std::thread::spawn(move || {
            // Write only once the reader's task is parked on the readiness.
            parked_rx.recv().unwrap();
            (&tx).write_all(b"wake").unwrap();
            tx
        });
        let wait = SignalPending {
            inner: Box::pin(rx.readable()),
            tx: Some(parked_tx),
        };
        let mut guard = wait.await.unwrap();
        let mut buf = [0; 8];
        let n = guard
            .try_io(|fd| fd.get_ref().read(&mut buf))
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"wake");
        writer.join().unwrap();
    });
}

#[test]
fn eventfd_counts_writes_and_readable_mut_reads_them() {
    run("eventfd", || async {
        let mut efd = AsyncFd::new(eventfd()).unwrap();
        // A fresh eventfd is writable, not readable.
        let guard = efd.writable().await.unwrap();
        assert!(guard.ready().is_writable());
        drop(guard);
        assert!(efd.readable().now_or_never().is_none());

        // Three writes from another thread (a dup of the fd) add up to 6.
        let other = efd.get_ref().try_clone().unwrap();
        std::thread::spawn(move || {
            for v in [1u64, 2, 3] {
                (&other).write_all(&v.to_ne_bytes()).unwrap();
            }
        })
        .join()
        .unwrap();
        let mut guard = efd.readable_mut().await.unwrap();
        let mut buf = [0; 8];
        let n = guard
            .try_io(|fd| fd.get_mut().read(&mut buf))
            .unwrap()
            .unwrap();
        assert_eq!((n, u64::from_ne_bytes(buf)), (8, 6));
        // The counter is 0 again: the next read says WouldBlock and clears.
        assert!(guard.try_io(|fd| fd.get_mut().read(&mut buf)).is_err());
        drop(guard);
        // The read made the eventfd writable again: that edge bumps the source's event tick,
        // so the clear above may have been (conservatively) refused — as in tokio. Any
        // readiness left is stale: its read says WouldBlock and clears it for good.
        let mut stale = 0;
        while let Some(guard) = efd.readable().now_or_never() {
            let mut guard = guard.unwrap();
            let res = guard.try_io(|fd| fd.get_ref().read(&mut buf));
            assert!(res.is_err(), "readable with nothing to read: {res:?}");
            stale += 1;
            assert!(stale <= 3, "a stale readiness was never cleared");
        }
        let err = efd
            .try_io(Interest::READABLE, |f| (&*f).read(&mut buf))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
    });
}

#[test]
fn drop_and_into_inner_deregister() {
    run("deregister", || async {
        let base = io_sources();
        let efd = AsyncFd::new(eventfd()).unwrap();
        assert_eq!(io_sources(), base + 1);
        drop(efd);
        assert_eq!(io_sources(), base, "drop left the reactor slot");

        let efd = AsyncFd::new(eventfd()).unwrap();
        assert_eq!(io_sources(), base + 1);
        let file = efd.into_inner();
        assert_eq!(io_sources(), base, "into_inner left the reactor slot");
        // The fd is still open, and out of epoll: registering it again works (epoll would
        // say EEXIST if it were still registered).
        (&file).write_all(&7u64.to_ne_bytes()).unwrap();
        let efd = AsyncFd::new(file).unwrap();
        let mut buf = [0; 8];
        let n = efd
            .async_io(Interest::READABLE, |f| (&*f).read(&mut buf))
            .await
            .unwrap();
        assert_eq!((n, u64::from_ne_bytes(buf)), (8, 7));
        // The same fd twice in one runtime (a `RawFd` is `AsRawFd` too): the OS's EEXIST,
        // not a panic, and no slot left behind.
        let err = AsyncFd::new(efd.get_ref().as_raw_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
        assert_eq!(io_sources(), base + 1);
    });
}

#[test]
fn a_regular_file_is_refused_with_the_os_error() {
    run("regular file", || async {
        let base = io_sources();
        let file = File::open(env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml").unwrap();
        let err = AsyncFd::try_new(file).unwrap_err();
        let (mut file, cause) = err.into_parts();
        assert_eq!(cause.raw_os_error(), Some(libc::EPERM), "{cause}");
        assert_eq!(cause.kind(), ErrorKind::PermissionDenied);
        // The file came back intact, and no reactor slot was left behind.
        let mut head = [0; 9];
        file.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"[workspac");
        assert_eq!(io_sources(), base);
        let err = AsyncFd::new(file).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    });
}

#[test]
fn waiting_outside_the_registered_interest_is_invalid_input() {
    run("interest", || async {
        let efd = AsyncFd::with_interest(eventfd(), Interest::READABLE).unwrap();
        assert_eq!(efd.interest(), Interest::READABLE);
        let err = efd.writable().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("WRITABLE"), "{err}");
        let err = efd
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn ready_for_both_directions_reports_both() {
    run("ready both", || async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let a = AsyncFd::new(a).unwrap();
        let guard = a
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert!(guard.ready().is_writable() && !guard.ready().is_readable());
        drop(guard);
        (&b).write_all(b"x").unwrap();
        drop(b); // and hang up
        let mut guard = a.readable().await.unwrap();
        let mut buf = [0; 4];
        let n = guard
            .try_io(|fd| fd.get_ref().read(&mut buf))
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
        // Wait for the hang-up if the first event carried only the data.
        drop(guard);
        loop {
            let mut guard = a.readable().await.unwrap();
            if guard.ready().is_read_closed() {
                break;
            }
            guard.clear_ready();
        }
        // A hang-up is final: clearing does not make the fd wait again.
        let mut guard = a.readable().await.unwrap();
        guard.clear_ready();
        drop(guard);
        let guard = a.readable().now_or_never().unwrap().unwrap();
        assert!(guard.ready().is_read_closed());
        assert_eq!(guard.get_inner().read(&mut buf).unwrap(), 0);
    });
}
