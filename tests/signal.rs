//! `gmp::signal`: signals raised to this process reach their listeners (SIGUSR2, SIGHUP),
//! every listener of one signal wakes (on one runtime and across runtimes), a handler
//! installed before gmp's is chained, `ctrl_c` with a real SIGINT sent by the parent to a
//! child process, gmp's `GMPDEBUG=dumpsignal` and a program's SIGUSR1 listener together,
//! and `InvalidInput` for signals that cannot be caught.
//!
//! Tests in this binary run in parallel threads of one process, so each uses its own signal
//! (a signal is shared by the whole process), and always creates its listener before it
//! raises the signal (a signal without a handler would end the test process). Scenarios
//! that need a process of their own run in a child (this binary, re-run with
//! `GMP_SIGNAL_CHILD=<scenario>`). Waits are on conditions with generous deadlines.

use gmp::signal::unix::{signal, Signal, SignalKind};
use std::future::{poll_fn, Future};
use std::io::{BufRead, BufReader, ErrorKind};
use std::pin::pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::task::Poll;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(60);

fn runtime(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder().procs(procs).build().unwrap()
}

fn raise(sig: libc::c_int) {
    // SAFETY: kill(2) to our own pid; every caller has a listener (a handler) for `sig`.
    assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
}

/// `recv`, failing the test after `DEADLINE`.
async fn recv(s: &mut Signal) -> Option<()> {
    gmp::time::timeout(DEADLINE, s.recv())
        .await
        .expect("no signal delivered within the deadline")
}

/// Raise `kind` to ourselves `rounds` times; each delivery is received before the next.
fn raise_and_receive(kind: SignalKind, rounds: usize) {
    support::with_deadline(DEADLINE, "raise and receive", move || {
        let rt = runtime(2);
        rt.block_on(async move {
            let mut s = signal(kind).unwrap();
            assert_eq!(s.kind(), kind);
            for _ in 0..rounds {
                raise(kind.as_raw_value());
                assert_eq!(recv(&mut s).await, Some(()));
            }
        });
    });
}

#[test]
fn sigusr2_raised_to_self_is_received() {
    raise_and_receive(SignalKind::user_defined2(), 20);
}

#[test]
fn sighup_raised_to_self_is_received() {
    raise_and_receive(SignalKind::hangup(), 20);
}

/// Three listeners of SIGWINCH: two tasks on one runtime and one on a second runtime. Every
/// raise wakes all three.
#[test]
fn several_listeners_of_one_signal_all_wake_across_runtimes() {
    support::with_deadline(DEADLINE, "several listeners", || {
        let (a, b) = (runtime(2), runtime(1));
        let kind = SignalKind::window_change();
        let rounds = 10;
        let got = std::sync::Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut listeners = Vec::new();
        for rt in [&a, &a, &b] {
            let mut s = rt.block_on(async { signal(kind) }).unwrap();
            let (got, ready_tx) = (got.clone(), ready_tx.clone());
            listeners.push(rt.spawn(async move {
                for _ in 0..rounds {
                    assert_eq!(recv(&mut s).await, Some(()));
                    got.fetch_add(1, SeqCst);
                    ready_tx.send(()).unwrap();
                }
            }));
        }
        for round in 1..=rounds {
            raise(libc::SIGWINCH);
            // All three have it before the next raise (else two raises could coalesce).
            for _ in 0..3 {
                ready_rx
                    .recv_timeout(DEADLINE)
                    .expect("a listener missed a signal");
            }
            assert_eq!(got.load(SeqCst), 3 * round);
        }
        for l in listeners {
            a.block_on(l).unwrap();
        }
    });
}

static CHAINED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn counting_handler(_: libc::c_int) {
    CHAINED.fetch_add(1, SeqCst);
}

/// A SIGUSR1 handler the program installed before gmp's still runs, once per delivery.
#[test]
fn a_handler_installed_before_is_chained() {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler only
    // increments an atomic (async-signal-safe).
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = counting_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut())
    };
    assert_eq!(rc, 0);
    support::with_deadline(DEADLINE, "chained handler", || {
        runtime(1).block_on(async {
            let mut s = signal(SignalKind::user_defined1()).unwrap();
            for round in 1..=5 {
                raise(libc::SIGUSR1);
                assert_eq!(recv(&mut s).await, Some(()));
                assert_eq!(
                    CHAINED.load(SeqCst),
                    round,
                    "the earlier handler ran each time"
                );
            }
        });
    });
}

#[test]
fn uncatchable_signals_are_invalid_input_naming_them() {
    for (sig, name) in [
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGSTOP, "SIGSTOP"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGILL, "SIGILL"),
    ] {
        let err = signal(SignalKind::from_raw(sig)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    for sig in [0, -1, 65, 1000] {
        let err = signal(SignalKind::from_raw(sig)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{sig}: {err}");
        assert!(err.to_string().contains(&sig.to_string()), "{err}");
    }
}

#[test]
fn signal_kinds_are_the_usual_numbers() {
    let table = [
        (SignalKind::alarm(), libc::SIGALRM),
        (SignalKind::child(), libc::SIGCHLD),
        (SignalKind::hangup(), libc::SIGHUP),
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::io(), libc::SIGIO),
        (SignalKind::pipe(), libc::SIGPIPE),
        (SignalKind::quit(), libc::SIGQUIT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::user_defined1(), libc::SIGUSR1),
        (SignalKind::user_defined2(), libc::SIGUSR2),
        (SignalKind::window_change(), libc::SIGWINCH),
    ];
    for (kind, raw) in table {
        assert_eq!(kind.as_raw_value(), raw);
        assert_eq!(SignalKind::from_raw(raw), kind);
        assert_eq!(SignalKind::from(raw), kind);
        assert_eq!(libc::c_int::from(kind), raw);
    }
}

/// A `Signal` whose runtime has shut down reports `None` instead of waiting forever.
#[test]
fn a_signal_of_a_shut_down_runtime_returns_none() {
    support::with_deadline(DEADLINE, "shut down", || {
        let rt = runtime(1);
        let mut s = rt
            .block_on(async { signal(SignalKind::from_raw(libc::SIGURG)) })
            .unwrap();
        drop(rt);
        let other = runtime(1);
        assert_eq!(other.block_on(s.recv()), None);
    });
}

// ---- child processes -------------------------------------------------------------------

/// This binary re-run as a child in `scenario`, with its output read line by line.
struct ChildRun {
    child: std::process::Child,
    lines: mpsc::Receiver<(bool, String)>,
    stdout: String,
    stderr: String,
}

impl ChildRun {
    fn start(scenario: &str, env: &[(&str, &str)]) -> ChildRun {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env("GMP_SIGNAL_CHILD", scenario)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        let err = BufReader::new(child.stderr.take().unwrap());
        for (is_err, r) in [
            (false, Box::new(out) as Box<dyn BufRead + Send>),
            (true, Box::new(err)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in r.lines().map_while(Result::ok) {
                    if tx.send((is_err, line)).is_err() {
                        break;
                    }
                }
            });
        }
        ChildRun {
            child,
            lines,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// Read lines until stdout (or stderr) has a line containing `needle`.
    fn wait_for(&mut self, on_stderr: bool, needle: &str) {
        let start = Instant::now();
        loop {
            let seen = if on_stderr {
                &self.stderr
            } else {
                &self.stdout
            };
            if seen.lines().any(|l| l.contains(needle)) {
                return;
            }
            let left = DEADLINE.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok((is_err, line)) => {
                    let to = if is_err {
                        &mut self.stderr
                    } else {
                        &mut self.stdout
                    };
                    to.push_str(&line);
                    to.push('\n');
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "child never printed {needle:?}\nstdout:\n{}\nstderr:\n{}",
                        self.stdout, self.stderr
                    );
                }
            }
        }
    }

    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Close the child's stdin (its cue to exit) and wait for it; it must succeed.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!(
                    "child hung\nstdout:\n{}\nstderr:\n{}",
                    self.stdout, self.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        while let Ok((is_err, line)) = self.lines.recv_timeout(Duration::from_secs(1)) {
            let to = if is_err {
                &mut self.stderr
            } else {
                &mut self.stdout
            };
            to.push_str(&line);
            to.push('\n');
        }
        assert!(
            status.success(),
            "child failed: {status}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// Poll `fut` once (so it registers), without waiting.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx))).await
}

/// `ctrl_c` with a real SIGINT from another process (the parent test).
#[test]
fn ctrl_c_receives_a_real_sigint_sent_by_the_parent() {
    let mut run = ChildRun::start("ctrl_c", &[]);
    run.wait_for(false, "listening for ctrl_c");
    // SAFETY: kill(2) to our own child, which has a SIGINT handler by now.
    assert_eq!(unsafe { libc::kill(run.pid(), libc::SIGINT) }, 0);
    run.wait_for(false, "got ctrl_c");
    run.finish();
}

/// gmp's own `GMPDEBUG=dumpsignal` and a program's SIGUSR1 listener share the signal: one
/// SIGUSR1 gives both the task dump on stderr and the listener's wakeup.
#[test]
fn dumpsignal_and_a_sigusr1_listener_both_work() {
    let mut run = ChildRun::start("dumpsignal_and_listener", &[("GMPDEBUG", "dumpsignal=1")]);
    run.wait_for(false, "listener got SIGUSR1");
    run.wait_for(true, "SCHED");
    run.finish();
}

/// The child side of the tests above.
#[test]
fn child() {
    let Ok(scenario) = std::env::var("GMP_SIGNAL_CHILD") else {
        return; // only meaningful in a child process
    };
    let rt = runtime(2);
    match scenario.as_str() {
        "ctrl_c" => rt.block_on(async {
            let mut ctrl_c = pin!(gmp::signal::ctrl_c());
            // The first poll installs the handler; only then may the parent send SIGINT.
            assert!(poll_once(&mut ctrl_c).await.is_pending());
            println!("listening for ctrl_c");
            gmp::time::timeout(DEADLINE, ctrl_c)
                .await
                .expect("no SIGINT within the deadline")
                .unwrap();
            println!("got ctrl_c");
        }),
        "dumpsignal_and_listener" => rt.block_on(async {
            let mut s = signal(SignalKind::user_defined1()).unwrap();
            raise(libc::SIGUSR1);
            assert_eq!(recv(&mut s).await, Some(()));
            println!("listener got SIGUSR1");
        }),
        other => panic!("unknown scenario {other}"),
    }
    // The parent closes our stdin once it has seen what it waits for.
    let mut sink = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink).unwrap();
}

#[test]
fn signal_is_send_and_sync() {
    fn send_sync<T: Send + Sync + Unpin>() {}
    send_sync::<Signal>();
    send_sync::<SignalKind>();
}
