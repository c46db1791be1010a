//! Leaked tasks (Go's leaked goroutines): `Handle::leaked_tasks` reports a waiting task that
//! no `Waker` can reach any more, and only those; `GMPDEBUG=leakcheck=N` has sysmon print the
//! new ones. Every wait is on a condition, with a generous deadline.

#[path = "support/mod.rs"]
mod support;

use std::future::Future;
use std::io::{BufRead, Read, Write};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(60);

fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    support::wait_until(DEADLINE, what, cond);
}

/// Returns `Pending` and keeps no waker: nothing can ever wake it.
struct Forgetful;

impl Future for Forgetful {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// Returns `Pending` after storing its waker in `slot` (every poll).
struct Parked {
    slot: Arc<Mutex<Option<Waker>>>,
}

impl Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The task has been polled and returned `Pending`, and waits (as the dump sees it).
fn is_waiting(rt: &gmp::Runtime, id: gmp::TaskId) -> bool {
    rt.handle()
        .dump()
        .tasks
        .iter()
        .any(|t| t.id == id && t.state == gmp::TaskState::Waiting)
}

#[test]
fn a_pending_future_without_a_waker_is_reported_with_its_spawn_location() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let (kept, line) = (rt.spawn(Forgetful), line!());
    let detached = rt.spawn(Forgetful);
    let detached_id = detached.id();
    drop(detached);
    wait_until("both tasks reported", || {
        let r = rt.handle().leaked_tasks();
        r.contains(kept.id()) && r.contains(detached_id)
    });
    let report = rt.handle().leaked_tasks();
    let t = report.tasks.iter().find(|t| t.id == kept.id()).unwrap();
    assert_eq!(t.spawned_at.file(), file!());
    assert_eq!(t.spawned_at.line(), line);
    assert_eq!(t.state, gmp::TaskState::Waiting);
    assert_eq!(t.polls, 1);
    assert!(t.age >= t.in_state, "{t:?}");
    assert_eq!(report.count_at(file!(), line), 1);
    let text = report.to_string();
    assert!(
        text.contains(&format!("1 at {}:{line}:", file!())),
        "{text}"
    );
    assert!(text.contains(&format!("ids {}", kept.id())), "{text}");
    // Its JoinHandle can still end it; then it is gone from the report.
    kept.abort();
    let id = kept.id();
    assert!(rt.block_on(kept).unwrap_err().is_cancelled());
    assert!(!rt.handle().leaked_tasks().contains(id));
    assert!(rt.handle().leaked_tasks().contains(detached_id));
}

#[test]
fn a_task_awaiting_a_live_oneshot_is_not_reported_nor_once_woken() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let h = rt.spawn(rx);
    let id = h.id();
    // Polled once, its waker in the channel: waiting, and reachable through the sender.
    wait_until("the receiver waits", || is_waiting(&rt, id));
    assert!(!rt.handle().leaked_tasks().contains(id));
    // Dropping the sender wakes it (Canceled): it completes, and is not reported either.
    drop(tx);
    let out = rt.block_on(h).unwrap();
    assert_eq!(out, Err(futures::channel::oneshot::Canceled));
    assert!(!rt.handle().leaked_tasks().contains(id));
}

#[test]
fn a_task_whose_stored_waker_is_dropped_without_waking_is_reported() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let slot = Arc::new(Mutex::new(None));
    let h = rt.spawn(Parked { slot: slot.clone() });
    let id = h.id();
    wait_until("the task waits with its waker stored", || {
        slot.lock().unwrap().is_some() && is_waiting(&rt, id)
    });
    assert!(!rt.handle().leaked_tasks().contains(id));
    // The struct holding the waker goes away without waking it.
    drop(slot.lock().unwrap().take());
    wait_until("the task is reported", || {
        rt.handle().leaked_tasks().contains(id)
    });
}

/// An `AbortHandle`'s reference cannot be told from a waker's: while one is alive the task is
/// not reported (documented); once it is dropped, it is.
#[test]
fn a_live_abort_handle_keeps_a_task_off_the_report() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let h = rt.spawn(Forgetful);
    let id = h.id();
    let abort = h.abort_handle();
    wait_until("the task waits", || is_waiting(&rt, id));
    assert!(!rt.handle().leaked_tasks().contains(id));
    drop(abort);
    wait_until("the task is reported", || {
        rt.handle().leaked_tasks().contains(id)
    });
}

/// A `JoinSet` holds its tasks' `JoinHandle`s (known references), not abort handles: a task of
/// a set whose returned `AbortHandle` was dropped is reported like any other.
#[test]
fn a_join_set_task_is_reported_once_its_abort_handle_is_gone() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let _g = rt.enter();
    let mut set = gmp::task::JoinSet::new();
    let (abort, line) = (set.spawn(Forgetful), line!());
    let id = abort.id();
    drop(abort);
    wait_until("the set's task is reported", || {
        rt.handle().leaked_tasks().contains(id)
    });
    assert_eq!(rt.handle().leaked_tasks().count_at(file!(), line), 1);
    drop(set); // aborts it
    wait_until("the aborted task is gone", || {
        !rt.handle().leaked_tasks().contains(id)
    });
}

/// A sleeping task's waker is in its timer: never reported.
#[test]
fn a_sleeping_task_is_not_reported() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let h = rt.spawn(gmp::time::sleep(Duration::from_secs(3600)));
    let id = h.id();
    wait_until("the task sleeps", || is_waiting(&rt, id));
    assert!(!rt.handle().leaked_tasks().contains(id));
    h.abort();
}

// ---- GMPDEBUG=leakcheck, in a child process (the flags are read from the environment) ----

/// A child of this test binary running `entry`, its stderr read line by line on a thread.
struct Child {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Child {
    fn start(entry: &str, gmpdebug: &str) -> Child {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", entry, "--nocapture", "--test-threads=1"])
            .env("GMP_LEAKS_CHILD", "1")
            .env("GMPDEBUG", gmpdebug)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Child {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next stderr line for which `pred` holds (every line is kept in `seen`).
    fn expect(&mut self, what: &str, mut pred: impl FnMut(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "child: no line for {what}; stderr so far:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin.as_mut().unwrap(), "{line}").unwrap();
    }

    /// Close its stdin (its signal to exit), wait for it, and return all of its stderr.
    fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        let status = support::with_deadline(DEADLINE, "the child exits", move || {
            let status = self.child.wait().unwrap();
            (status, self)
        });
        let (status, mut me) = status;
        while let Ok(line) = me.lines.recv_timeout(DEADLINE) {
            me.seen.push(line);
        }
        assert!(status.success(), "child failed:\n{}", me.seen.join("\n"));
        me.seen
    }
}

fn read_line_from_parent() -> String {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    line
}

/// Child mode: three leaked tasks at one site; when the parent says so, one more at another.
#[test]
fn leakcheck_child() {
    if std::env::var_os("GMP_LEAKS_CHILD").is_none() {
        return; // only meaningful when run by `leakcheck_reports_each_leak_once`
    }
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    let mut ids = Vec::new();
    let mut site_a = 0;
    for _ in 0..3 {
        let (h, line) = (rt.spawn(Forgetful), line!());
        ids.push(h.id());
        site_a = line;
    }
    eprintln!("SITE A {}:{site_a}:", file!());
    wait_until("three leaks", || {
        let r = rt.handle().leaked_tasks();
        ids.iter().all(|&id| r.contains(id))
    });
    assert_eq!(read_line_from_parent().trim(), "next");
    let (h, site_b) = (rt.spawn(Forgetful), line!());
    eprintln!("SITE B {}:{site_b}:", file!());
    wait_until("the fourth leak", || {
        rt.handle().leaked_tasks().contains(h.id())
    });
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest).unwrap();
}

/// A report line `  N at FILE:LINE:COL  longest waiting …, ids A B C`: N and the ids.
fn count_and_ids(line: &str) -> (usize, Vec<String>) {
    let n = line.split_whitespace().next().unwrap().parse().expect(line);
    let ids = line.rsplit_once(", ids ").expect(line).1;
    (n, ids.split_whitespace().map(str::to_string).collect())
}

/// Each leak is reported once, however many checks see it: the three at site A (perhaps
/// over more than one report, if a check runs between their first polls), then the one at
/// site B alone.
#[test]
fn leakcheck_reports_each_leak_once() {
    let mut child = Child::start("leakcheck_child", "leakcheck=10");
    let site = |l: &str, tag: &str| l.strip_prefix(tag).map(|s| format!(" at {s}"));
    let a = child.expect("site A", |l| l.starts_with("SITE A "));
    let at_a = site(&a, "SITE A ").unwrap();
    let mut reported_a = 0;
    while reported_a < 3 {
        let line = child.expect("the report of site A", |l| l.contains(&at_a));
        assert!(line.contains("longest waiting"), "{line}");
        reported_a += count_and_ids(&line).0;
    }
    child.send("next");
    let b = child.expect("site B", |l| l.starts_with("SITE B "));
    let at_b = site(&b, "SITE B ").unwrap();
    let line = child.expect("the report of site B", |l| l.contains(&at_b));
    assert_eq!(count_and_ids(&line).0, 1, "{line}");
    let all = child.finish();
    let text = all.join("\n");
    let mut ids_a: Vec<String> = Vec::new();
    for l in all.iter().filter(|l| l.contains(&at_a)) {
        let (n, ids) = count_and_ids(l);
        assert_eq!(n, ids.len(), "{l}");
        ids_a.extend(ids);
    }
    let n = ids_a.len();
    ids_a.sort();
    ids_a.dedup();
    assert_eq!((n, ids_a.len()), (3, 3), "site A reported again:\n{text}");
    assert_eq!(
        all.iter().filter(|l| l.contains(&at_b)).count(),
        1,
        "site B reported again:\n{text}"
    );
    // Each report starts with its header, naming only the new leaks.
    let headers = all
        .iter()
        .filter(|l| l.starts_with("gmp: leakcheck: new "))
        .count();
    let sites = all
        .iter()
        .filter(|l| l.contains(&at_a) || l.contains(&at_b))
        .count();
    assert_eq!(headers, sites, "{text}");
    assert!(
        all.iter()
            .any(|l| l.starts_with("gmp: leakcheck: new 1 leaked tasks, 1 spawn locations")),
        "{text}"
    );
}

/// Child mode: one leaked task, then wait for the parent to close stdin.
#[test]
fn leakcheck_off_child() {
    if std::env::var_os("GMP_LEAKS_CHILD").is_none() {
        return; // only meaningful when run by `leakcheck_bad_values_are_treated_as_schedtrace_s`
    }
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    let h = rt.spawn(Forgetful);
    wait_until("the leak", || rt.handle().leaked_tasks().contains(h.id()));
    eprintln!("LEAKED");
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest).unwrap();
}

/// `leakcheck=0` turns the check off (as `schedtrace=0`); a value that is not a number is
/// reported once on stderr and ignored (as for every `GMPDEBUG` option). Either way, several
/// sysmon traces after the leak print no report.
#[test]
fn leakcheck_bad_values_are_treated_as_schedtrace_s() {
    for (value, complaint) in [
        ("leakcheck=0", None),
        (
            "leakcheck=abc",
            Some("gmp: GMPDEBUG: option \"leakcheck\" needs a number, got \"abc\" (ignored)"),
        ),
    ] {
        let mut child = Child::start("leakcheck_off_child", &format!("{value},schedtrace=5"));
        child.expect("the leak", |l| l == "LEAKED");
        for _ in 0..3 {
            child.expect("a SCHED line", |l| l.starts_with("SCHED "));
        }
        let all = child.finish();
        assert!(
            !all.iter().any(|l| l.contains("leakcheck: ")),
            "{value}: a leak report:\n{}",
            all.join("\n")
        );
        let complaints = all.iter().filter(|l| l.contains("GMPDEBUG")).count();
        match complaint {
            Some(c) => {
                assert!(all.iter().any(|l| l == c), "{value}:\n{}", all.join("\n"));
                assert_eq!(complaints, 1, "{value}: reported once:\n{}", all.join("\n"));
            }
            None => assert_eq!(complaints, 0, "{value}:\n{}", all.join("\n")),
        }
    }
}
