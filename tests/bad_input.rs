//! The rows of README's "Bad input: what you get" table that no other file tests, one test per
//! row, named after it. (`procs(0)`, `GMAXPROCS`, `max_threads < procs`, `time_slice(0)`:
//! `config.rs`; `block_on` misuse, `JoinHandle` after `Ready`, spawn after shutdown, task
//! panics: `executor.rs`; blocking-closure panics: `sysmon.rs`; timers after shutdown:
//! `time.rs`; `GMPDEBUG`: `observability.rs`; cgroup files: `cgroup_procs.rs`; macro misuse:
//! `ui/`.)
//!
//! Rows whose promise is "reported once on stderr" run their scenario in a child process (this
//! binary, re-run with `GMP_BAD_INPUT_CHILD=<scenario>`) so that the parent can read the
//! child's stderr and a hang fails the test instead of stalling the suite. Waits are on
//! conditions with generous deadlines, never bare sleeps.

use futures::channel::oneshot;
use std::future::Future;
use std::io::{ErrorKind, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(60);

/// Poll `cond` until it holds, failing after `DEADLINE`.
fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    support::wait_until(DEADLINE, what, cond)
}

fn with_deadline<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    support::with_deadline(DEADLINE, what, body)
}

/// Run `scenario` in a child process; fail if it hangs past `DEADLINE` or fails. Returns its
/// stderr.
fn run_child(scenario: &str) -> String {
    let (_, stderr) = support::run_child("child", "GMP_BAD_INPUT_CHILD", scenario, DEADLINE, |c| {
        // One malloc arena: under the address-space limit of the thread scenarios, each new
        // thread's first malloc would otherwise reserve a 64-128 MiB arena, and a few of them
        // eat the headroom that the limit leaves for small mappings — such as the signal stack
        // std maps when a thread (created just before the limit) starts, whose failure aborts.
        c.env("MALLOC_ARENA_MAX", "1");
    });
    stderr
}

/// Child mode: run the scenario named by `GMP_BAD_INPUT_CHILD`.
#[test]
fn child() {
    let Ok(scenario) = std::env::var("GMP_BAD_INPUT_CHILD") else {
        return; // only meaningful when run by `run_child`
    };
    match scenario.as_str() {
        "panicking_wakers" => panicking_wakers_scenario(),
        "no_m_can_start" => no_m_can_start_scenario(),
        "extra_m_cannot_start" => extra_m_cannot_start_scenario(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario {scenario} ok");
}

// ---- a panic in a future's `Drop` ----------------------------------------------------------

struct PanicOnDrop(&'static str, Arc<AtomicUsize>);
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
        panic!("{}", self.0);
    }
}

fn panic_message(err: gmp::JoinError) -> String {
    assert!(err.is_panic(), "{err:?}");
    let payload = err.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn panic_in_a_futures_drop_during_abort_is_the_tasks_join_error() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (d, s) = (drops.clone(), started.clone());
    let h = rt.spawn(async move {
        let _guard = PanicOnDrop("drop boom on abort", d);
        s.store(1, SeqCst);
        std::future::pending::<()>().await;
    });
    wait_until("the task started", || started.load(SeqCst) == 1);
    h.abort();
    let err = rt.block_on(h).unwrap_err();
    assert!(!err.is_cancelled());
    assert_eq!(panic_message(err), "drop boom on abort");
    assert_eq!(drops.load(SeqCst), 1);
    // The M that dropped it is fine.
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    wait_until("no live task", || rt.handle().metrics().live_tasks == 0);
}

#[test]
fn panic_in_a_futures_drop_during_shutdown_is_the_tasks_join_error() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..100 {
        // Made outside the async block: a future that never started holds it too.
        let guard = PanicOnDrop("drop boom on shutdown", drops.clone());
        handles.push(rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }));
    }
    // Some started and wait, the rest may still be queued: shutdown drops all of them.
    with_deadline("shutdown", move || drop(rt));
    assert_eq!(drops.load(SeqCst), 100);
    for h in handles {
        let err = futures::executor::block_on(h).unwrap_err();
        assert_eq!(panic_message(err), "drop boom on shutdown");
    }
}

// ---- a panic in a waker --------------------------------------------------------------------

static FOREIGN_WAKES: AtomicUsize = AtomicUsize::new(0);

/// A foreign executor's waker whose `wake` panics (after counting the call).
fn panicking_waker() -> Waker {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
    unsafe fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    unsafe fn wake(_: *const ()) {
        FOREIGN_WAKES.fetch_add(1, SeqCst);
        panic!("foreign waker boom");
    }
    unsafe fn drop(_: *const ()) {}
    // SAFETY: the vtable's functions ignore the data pointer.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

fn poll_with<F: Future + Unpin>(f: &mut F, w: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(w))
}

/// A gmp task's `JoinHandle`, a gmp timer and a gmp socket, each polled by a "foreign executor"
/// (this plain thread) with a waker that panics; gmp's Ms, sysmon and poller wake them.
fn panicking_wakers_scenario() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let bad = panicking_waker();
    let noop = futures::task::noop_waker();

    // 1. JoinHandles: two, so the report shows up once for both.
    for round in 0..2u64 {
        let before = FOREIGN_WAKES.load(SeqCst);
        let (tx, rx) = oneshot::channel::<u64>();
        let mut h = rt.spawn(async move { rx.await.unwrap() * 2 });
        assert!(poll_with(&mut h, &bad).is_pending());
        tx.send(round + 20).unwrap();
        wait_until("the M woke the foreign join waker", || {
            FOREIGN_WAKES.load(SeqCst) > before
        });
        wait_until("the task finished", || h.is_finished());
        // Nothing lost: the output is there.
        match poll_with(&mut h, &noop) {
            Poll::Ready(out) => assert_eq!(out.unwrap(), (round + 20) * 2),
            Poll::Pending => panic!("finished task not ready"),
        }
    }

    // 2. A timer.
    let before = FOREIGN_WAKES.load(SeqCst);
    // (On a loaded machine a short sleep may be due before its first poll: lengthen it then.)
    let mut sleep = [5, 50, 500, 5000]
        .into_iter()
        .map(|ms| {
            let _g = rt.enter();
            Box::pin(gmp::time::sleep(Duration::from_millis(ms)))
        })
        .find_map(|mut s| {
            let first = s.as_mut().poll(&mut Context::from_waker(&bad));
            first.is_pending().then_some(s)
        })
        .expect("a 5s sleep was due at its first poll");
    wait_until("the timer woke the foreign waker", || {
        FOREIGN_WAKES.load(SeqCst) > before
    });
    assert!(sleep
        .as_mut()
        .poll(&mut Context::from_waker(&noop))
        .is_ready());

    // 3. A socket.
    let before = FOREIGN_WAKES.load(SeqCst);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let mut stream = {
        let _g = rt.enter();
        gmp::net::TcpStream::from_std(std_stream).unwrap()
    };
    let mut buf = [0u8; 4];
    let mut read = |w: &Waker| {
        futures::io::AsyncRead::poll_read(
            Pin::new(&mut stream),
            &mut Context::from_waker(w),
            &mut buf,
        )
    };
    assert!(read(&bad).is_pending());
    peer.write_all(b"ping").unwrap();
    wait_until("the poller woke the foreign waker", || {
        FOREIGN_WAKES.load(SeqCst) > before
    });
    match read(&noop) {
        Poll::Ready(n) => assert_eq!(n.unwrap(), 4),
        Poll::Pending => panic!("readable socket not ready"),
    }
    assert_eq!(&buf, b"ping");

    // Every M survived: the runtime still runs work and accounts for every task.
    let sum: u64 = rt.block_on(async {
        let hs: Vec<_> = (0..1000u64).map(|i| gmp::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 999 * 1000 / 2);
    wait_until("no live task", || rt.handle().metrics().live_tasks == 0);
    let m = rt.handle().metrics();
    assert_eq!(m.tasks_completed, 1002, "{m:?}");
    drop(rt); // a dead M would make this wait forever
}

#[test]
fn panic_in_a_waker_is_caught_and_reported_once() {
    let stderr = run_child("panicking_wakers");
    let report = "gmp: a waker panicked when gmp woke it (foreign waker boom); the panic was \
                  caught and the thread carries on (reported once)";
    assert_eq!(stderr.matches(report).count(), 1, "{stderr}");
}

// ---- a Waker used after its runtime is gone ------------------------------------------------

#[test]
fn waker_used_after_its_runtime_is_gone_is_a_no_op() {
    let slot: Arc<Mutex<Option<Waker>>> = Default::default();
    let polls = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let rt = gmp::Runtime::builder().procs(1).build().unwrap();
        let (s, p) = (slot.clone(), polls.clone());
        let guard = DropCount(drops.clone());
        let h = rt.spawn(futures::future::poll_fn(move |cx| {
            let _ = &guard;
            *s.lock().unwrap() = Some(cx.waker().clone());
            p.fetch_add(1, SeqCst);
            Poll::<()>::Pending
        }));
        wait_until("the task was polled", || polls.load(SeqCst) == 1);
        drop(rt);
        assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    }
    assert_eq!(drops.load(SeqCst), 1);
    let w = slot.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    let w2 = w.clone();
    w2.wake();
    w.wake();
    // Not polled again, not dropped again.
    assert_eq!(polls.load(SeqCst), 1);
    assert_eq!(drops.load(SeqCst), 1);
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

// ---- socket I/O after its runtime shut down ------------------------------------------------

#[test]
fn socket_io_after_its_runtime_shut_down_is_an_io_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_peer, _) = listener.accept().unwrap();
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    let mut stream = {
        let _g = rt.enter();
        gmp::net::TcpStream::from_std(std_stream).unwrap()
    };
    drop(rt);
    let mut buf = [0u8; 8];
    let err = futures::executor::block_on(futures::io::AsyncReadExt::read(&mut stream, &mut buf))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert_eq!(
        err.to_string(),
        "gmp: the runtime this I/O source belongs to has shut down"
    );
}

// ---- thread creation failure ---------------------------------------------------------------

#[test]
fn thread_stack_size_below_the_minimum_is_invalid_input() {
    for n in [0, 1, 65_535] {
        let e = gmp::Runtime::builder()
            .procs(1)
            .thread_stack_size(n)
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            format!("gmp: thread_stack_size({n}) is invalid: it must be at least 65536 bytes")
        );
    }
    let rt = gmp::Runtime::builder()
        .procs(1)
        .thread_stack_size(65_536)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
}

/// The OS really refuses the thread: a 1 PiB stack cannot be mapped (it is more than the whole
/// user address space of x86-64 and aarch64 Linux), so `build` cannot start sysmon and says so.
#[test]
fn thread_creation_failure_at_build_is_the_os_error() {
    const HUGE: usize = 1 << 50;
    let e = gmp::Runtime::builder()
        .procs(2)
        .thread_stack_size(HUGE)
        .build()
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::OutOfMemory | ErrorKind::WouldBlock),
        "{:?}: {e}",
        e.kind()
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "gmp: the OS refused to start the sysmon thread with thread_stack_size({HUGE}): "
        )),
        "{msg}"
    );
    assert!(msg.contains("os error"), "{msg}");
}

// Later Ms: the stack size is fine, but the address space runs out (RLIMIT_AS, which binds
// root too, unlike RLIMIT_NPROC), so `pthread_create` fails when gmp wants another M.

const STACK: usize = 512 << 20;

fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// Lower the soft address-space limit to what is mapped now plus 192 MiB: enough for the heap,
/// not for another 512 MiB stack. The hard limit is kept, so it can be raised again.
fn limit_address_space() -> libc::rlimit {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut old), 0);
        let new = libc::rlimit {
            rlim_cur: vm_size() + (192 << 20),
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &new), 0);
    }
    old
}

fn restore_address_space(old: libc::rlimit) {
    // SAFETY: as above.
    unsafe { assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &old), 0) };
}

/// Not even the first M can start: the spawned task waits (sysmon keeps trying) and runs as
/// soon as the OS allows threads again.
fn no_m_can_start_scenario() {
    let rt = gmp::Runtime::builder()
        .procs(2)
        .thread_stack_size(STACK)
        .build()
        .unwrap();
    let old = limit_address_space();
    // From a non-M thread the spawn tries to start an M right away, and fails.
    let h = rt.spawn(async { gmp::spawn(async { 21 }).await.unwrap() * 2 });
    // `threads` counts an M from just before the OS is asked for it, so sysmon's retries
    // make it read 1 for a moment now and then: wait for a reading between attempts.
    wait_until("no M running", || rt.handle().metrics().threads == 0);
    assert!(!h.is_finished());
    restore_address_space(old);
    let out = with_deadline("the task after threads are allowed again", {
        let handle = rt.handle().clone();
        move || handle.block_on(h)
    });
    assert_eq!(out.unwrap(), 42);
    wait_until("no live task", || rt.handle().metrics().live_tasks == 0);
    drop(rt);
}

#[test]
fn thread_creation_failure_with_no_m_waits_until_one_can_start() {
    let stderr = run_child("no_m_can_start");
    let report = "gmp: the OS refused to start an M thread (";
    assert_eq!(stderr.matches(report).count(), 1, "{stderr}");
    assert!(
        stderr.contains("work waits for the existing Ms"),
        "{stderr}"
    );
}

/// Ms exist, but no more can start while every one of them sits in a long blocking section:
/// the queued work waits for them and none of it is lost.
fn extra_m_cannot_start_scenario() {
    let rt = gmp::Runtime::builder()
        .procs(2)
        .thread_stack_size(STACK)
        .build()
        .unwrap();
    // Start the Ms this load would normally use.
    rt.block_on(async {
        let hs: Vec<_> = (0..100).map(|_| gmp::spawn(gmp::yield_now())).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let threads = rt.handle().metrics().threads;
    assert!(threads >= 1);
    let old = limit_address_space();
    let done = Arc::new(AtomicUsize::new(0));
    let total: usize = rt.block_on({
        let done = done.clone();
        async move {
            // More 100ms blocking calls than there are Ms: sysmon hands their Ps off and
            // wants new Ms, which the OS refuses.
            let blocking: Vec<_> = (0..threads + 4)
                .map(|i| {
                    gmp::spawn_blocking(move || {
                        std::thread::sleep(Duration::from_millis(100));
                        i
                    })
                })
                .collect();
            let small: Vec<_> = (0..1000)
                .map(|i| {
                    let done = done.clone();
                    gmp::spawn(async move {
                        gmp::yield_now().await;
                        done.fetch_add(1, SeqCst);
                        i
                    })
                })
                .collect();
            let mut total = 0;
            for h in blocking {
                total += h.await.unwrap();
            }
            for h in small {
                total += h.await.unwrap();
            }
            total
        }
    });
    let n = threads + 4;
    assert_eq!(total, n * (n - 1) / 2 + 999 * 1000 / 2);
    assert_eq!(done.load(SeqCst), 1000);
    wait_until("no live task", || rt.handle().metrics().live_tasks == 0);
    let m = rt.handle().metrics();
    assert!(m.threads <= threads, "{m:?}, {threads} Ms before the limit");
    restore_address_space(old);
    drop(rt);
}

#[test]
fn thread_creation_failure_for_an_extra_m_is_reported_once_and_work_waits() {
    let stderr = run_child("extra_m_cannot_start");
    let report = "gmp: the OS refused to start an M thread (";
    assert_eq!(stderr.matches(report).count(), 1, "{stderr}");
}
