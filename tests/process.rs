//! `gmp::process`: piped stdio round trips, exit codes, kill, `kill_on_drop`, 200 children
//! on 2 Ps, no zombie left (checked in `/proc`), `NotFound`, kill after exit, and both ways
//! of learning a child's exit: the pidfd path (this process) and the SIGCHLD reaper (the same
//! scenarios in a child process run with `GMP_NO_PIDFD=1`, see `sigchld_fallback_…`).
//!
//! Waits are on conditions with generous deadlines, never bare sleeps.

use futures::{AsyncReadExt, AsyncWriteExt};
use gmp::process::{Command, Stdio};
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(60);

fn runtime(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder().procs(procs).build().unwrap()
}

/// Run `f` on a fresh runtime of `procs` Ps, failing if it takes past `DEADLINE`.
fn on_runtime<T, F>(procs: usize, what: &str, f: impl FnOnce() -> F + Send + 'static) -> T
where
    F: std::future::Future<Output = T>,
    T: Send + 'static,
{
    support::with_deadline(DEADLINE, what, move || runtime(procs).block_on(f()))
}

fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    support::wait_until(DEADLINE, what, cond)
}

// ---- /proc ---------------------------------------------------------------------------------

/// `(state, ppid)` of process `pid`, or `None` if there is no such process.
fn stat(pid: u32) -> Option<(char, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Child `pid` of this process has been reaped (no process, zombie or not, is our child
/// with that pid).
fn reaped(pid: u32) -> bool {
    match stat(pid) {
        None => true,
        Some((_, ppid)) => ppid != std::process::id(),
    }
}

/// Our children that are zombies right now.
fn zombies() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| matches!(stat(pid), Some(('Z', ppid)) if ppid == me))
        .collect()
}

// ---- scenarios (run here on the pidfd path, and by `fallback_child` on the SIGCHLD path) --

async fn cat_round_trip() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    for round in 0..10 {
        let msg = format!("line {round}\n");
        stdin.write_all(msg.as_bytes()).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        stdout.read_exact(&mut back).await.unwrap();
        assert_eq!(back, msg.as_bytes());
    }
    stdin.close().await.unwrap(); // cat sees end-of-file
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert!(child.wait().await.unwrap().success());
}

/// 1 MiB through `cat`, writing and reading at once (either alone would fill a pipe and
/// stall): the pipes' readiness in both directions.
async fn cat_streams_a_megabyte() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut stdin = child.stdin.take().unwrap();
    let sent = data.clone();
    let writer = gmp::spawn(async move {
        for chunk in sent.chunks(10_000) {
            stdin.write_all(chunk).await.unwrap();
        }
        // Dropping stdin closes the pipe.
    });
    let out = child.wait_with_output().await.unwrap();
    writer.await.unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "cat's output differs from its input");
}

async fn exit_codes() {
    for code in [0, 1, 3, 42, 255] {
        let status = Command::new("sh")
            .args(["-c", &format!("exit {code}")])
            .status()
            .await
            .unwrap();
        assert_eq!(status.code(), Some(code));
        assert_eq!(status.success(), code == 0);
    }
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 7"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
}

async fn kill_then_wait() {
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id().unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().await.unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(child.id(), None, "no pid once reaped");
    assert!(reaped(pid));
    // `start_kill` then `wait`.
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    child.start_kill().unwrap();
    assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
}

async fn kill_after_exit_is_ok() {
    // Exited and reaped.
    let mut child = Command::new("true").spawn().unwrap();
    assert!(child.wait().await.unwrap().success());
    child.kill().await.unwrap();
    child.start_kill().unwrap();
    assert!(child.wait().await.unwrap().success(), "the status is kept");
    // Exited, not reaped yet (a zombie until `wait`).
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().unwrap();
    wait_until("the child to become a zombie", || {
        matches!(stat(pid), Some(('Z', _)))
    });
    child.start_kill().unwrap();
    assert!(
        child.wait().await.unwrap().success(),
        "exited before the kill"
    );
}

fn kill_on_drop_reaps(rt: &gmp::Runtime) {
    let pid = rt.block_on(async {
        let child = Command::new("sleep")
            .arg("100")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        child.id().unwrap()
        // dropped here
    });
    wait_until("the kill_on_drop child to be killed and reaped", || {
        reaped(pid)
    });
}

/// A child still running when its `Child` is dropped: it exits later (its stdin closes with
/// the `Child`) and the background reaper reaps it.
fn dropped_child_reaped(rt: &gmp::Runtime) {
    let pids = rt.block_on(async {
        let mut pids = Vec::new();
        for _ in 0..5 {
            let child = Command::new("sh")
                .args(["-c", "read line"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            pids.push(child.id().unwrap());
        }
        // And some that exit at once, dropped unwaited.
        for _ in 0..5 {
            pids.push(Command::new("true").spawn().unwrap().id().unwrap());
        }
        pids
    });
    wait_until("every dropped child to be reaped", || {
        pids.iter().all(|&p| reaped(p))
    });
}

/// `n` children at once (each `sh -c 'echo i; exit i % 7'`, output collected). Returns the
/// time taken.
async fn many_children(n: usize) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            gmp::spawn(async move {
                let out = Command::new("sh")
                    .args(["-c", &format!("echo {i}; exit {}", i % 7)])
                    .output()
                    .await
                    .unwrap();
                assert_eq!(out.status.code(), Some((i % 7) as i32));
                assert_eq!(out.stdout, format!("{i}\n").as_bytes());
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn no_zombie_left() {
    wait_until("no zombie child of this process", || zombies().is_empty());
}

// ---- tests ---------------------------------------------------------------------------------

#[test]
fn cat_round_trip_through_piped_stdin_and_stdout() {
    on_runtime(2, "cat round trip", cat_round_trip);
}

#[test]
fn cat_streams_a_megabyte_both_ways() {
    on_runtime(2, "cat 1 MiB", cat_streams_a_megabyte);
}

#[test]
fn exit_codes_and_output_come_back() {
    on_runtime(2, "exit codes", exit_codes);
}

#[test]
fn kill_a_sleeping_child_then_wait_gives_sigkill() {
    on_runtime(2, "kill", kill_then_wait);
}

#[test]
fn kill_of_an_exited_child_is_ok() {
    on_runtime(2, "kill after exit", kill_after_exit_is_ok);
}

#[test]
fn kill_on_drop_kills_and_reaps() {
    support::with_deadline(DEADLINE, "kill_on_drop", || kill_on_drop_reaps(&runtime(2)));
}

#[test]
fn dropped_child_is_reaped_in_background() {
    support::with_deadline(DEADLINE, "dropped child", || {
        dropped_child_reaped(&runtime(2))
    });
}

#[test]
fn process_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Unpin>() {}
    send_sync::<Command>();
    send_sync::<gmp::process::Child>();
    send_sync::<gmp::process::ChildStdin>();
    send_sync::<gmp::process::ChildStdout>();
    send_sync::<gmp::process::ChildStderr>();
}

#[test]
fn missing_program_is_not_found() {
    on_runtime(1, "NotFound", || async {
        for program in ["/no/such/dir/gmp-missing", "gmp-no-such-program-on-path"] {
            let err = Command::new(program).spawn().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{program}: {err}");
            let err = Command::new(program).output().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{program}: {err}");
        }
    });
}

#[test]
fn two_hundred_children_in_parallel_on_two_ps() {
    let took = on_runtime(2, "200 children", || many_children(200));
    println!("200 children (sh -c 'echo i; exit i%7', output collected) on 2 Ps: {took:?}");
    no_zombie_left();
}

#[test]
fn builder_settings_reach_the_child() {
    on_runtime(1, "builder", || async {
        let out = Command::new("/usr/bin/env")
            .env_clear()
            .env("A", "1")
            .envs([("B", "2"), ("C", "3")])
            .env_remove("C")
            .output()
            .await
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "A=1\nB=2\n");
        let out = Command::new("pwd").current_dir("/").output().await.unwrap();
        assert_eq!(out.stdout, b"/\n");
        // stdin not piped: `wait_with_output` with only stdout.
        let child = Command::new("echo")
            .arg("x")
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        assert!(child.stdin.is_none() && child.stderr.is_none());
        let out = child.wait_with_output().await.unwrap();
        assert_eq!((out.stdout.as_slice(), out.stderr.len()), (&b"x\n"[..], 0));
        let mut cmd = Command::new("true");
        assert!(!cmd.get_kill_on_drop());
        assert!(cmd.kill_on_drop(true).get_kill_on_drop());
        assert_eq!(cmd.as_std().get_program(), "true");
    });
}

#[test]
fn a_child_spawned_outside_any_runtime_is_awaited_on_the_global_one() {
    support::with_deadline(DEADLINE, "global runtime", || {
        let mut child = Command::new("sh").args(["-c", "exit 5"]).spawn().unwrap();
        assert_eq!(gmp::block_on(child.wait()).unwrap().code(), Some(5));
    });
}

/// A dropped child whose runtime shuts down before it exits: the reaper moves to the global
/// runtime and still reaps it.
fn outliving_its_runtime() {
    let rt = runtime(1);
    let (pid, stdin) = rt.block_on(async {
        let mut child = Command::new("sh")
            .args(["-c", "read line"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        (child.id().unwrap(), child.stdin.take().unwrap())
    });
    drop(rt);
    assert!(!reaped(pid), "still running: its stdin is open");
    drop(stdin); // now it exits
    wait_until("the child to be reaped after its runtime shut down", || {
        reaped(pid)
    });
}

/// A task holding a `kill_on_drop` child is dropped by its runtime's shutdown: the child is
/// killed, and reaped even though the runtime it belonged to is gone.
fn dropped_by_shutdown() {
    let rt = runtime(2);
    let (tx, rx) = std::sync::mpsc::channel();
    drop(rt.spawn(async move {
        let child = Command::new("sleep")
            .arg("100")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tx.send(child.id().unwrap()).unwrap();
        std::future::pending::<()>().await;
        drop(child);
    }));
    let pid = rx.recv_timeout(DEADLINE).unwrap();
    drop(rt);
    wait_until("the child of a shut-down runtime to be reaped", || {
        reaped(pid)
    });
}

#[test]
fn a_dropped_child_outliving_its_runtime_is_still_reaped() {
    support::with_deadline(DEADLINE, "outliving its runtime", outliving_its_runtime);
}

#[test]
fn a_child_dropped_by_runtime_shutdown_is_killed_and_reaped() {
    support::with_deadline(DEADLINE, "dropped by shutdown", dropped_by_shutdown);
}

#[cfg(feature = "tokio-io")]
#[test]
fn child_pipes_implement_tokio_io() {
    on_runtime(2, "tokio-io", || async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, b"tokio traits")
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::shutdown(&mut stdin)
            .await
            .unwrap();
        let mut s = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut s)
            .await
            .unwrap();
        assert_eq!(s, "tokio traits");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn pidfd_path_is_used_where_the_kernel_allows_it() {
    // SAFETY: pidfd_open of our own pid; the descriptor is closed at once.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        println!(
            "pidfd_open refused here ({}): only the fallback runs",
            std::io::Error::last_os_error()
        );
        return;
    }
    // SAFETY: `fd` is the descriptor just opened, owned by nothing else.
    unsafe { libc::close(fd as libc::c_int) };
    if std::env::var_os("GMP_NO_PIDFD").is_some() {
        return; // run by the fallback test's child
    }
    on_runtime(2, "pidfd", || async {
        let mut child = Command::new("true").spawn().unwrap();
        assert!(gmp::process::__pidfd_in_use());
        assert!(child.wait().await.unwrap().success());
    });
}

/// The SIGCHLD reaper: every scenario above, in a child process whose pidfd path is switched
/// off (`GMP_NO_PIDFD=1`).
#[test]
fn sigchld_fallback_runs_the_same_scenarios() {
    let start = Instant::now();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fallback_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GMP_NO_PIDFD", "1")
        .env("GMP_PROCESS_FALLBACK_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the fallback child hung for {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (out, err) = (out_reader.join().unwrap(), err_reader.join().unwrap());
    assert!(
        status.success(),
        "fallback child failed: {status}\n{out}\n{err}"
    );
    assert!(
        out.contains("fallback scenarios ok"),
        "the scenarios did not run:\n{out}\n{err}"
    );
    for line in out.lines().filter(|l| l.contains("children")) {
        println!("{line}");
    }
}

/// Child mode for `sigchld_fallback_runs_the_same_scenarios`.
#[test]
fn fallback_child() {
    if std::env::var_os("GMP_PROCESS_FALLBACK_CHILD").is_none() {
        return; // only meaningful in the child process
    }
    assert!(
        !gmp::process::__pidfd_in_use(),
        "GMP_NO_PIDFD=1 must force the fallback"
    );
    let rt = runtime(2);
    rt.block_on(cat_round_trip());
    rt.block_on(cat_streams_a_megabyte());
    rt.block_on(exit_codes());
    rt.block_on(kill_then_wait());
    rt.block_on(kill_after_exit_is_ok());
    kill_on_drop_reaps(&rt);
    dropped_child_reaped(&rt);
    outliving_its_runtime();
    dropped_by_shutdown();
    let took = rt.block_on(many_children(200));
    println!("200 children on 2 Ps, SIGCHLD reaper: {took:?}");
    no_zombie_left();
    assert!(!gmp::process::__pidfd_in_use());
    println!("fallback scenarios ok");
}
