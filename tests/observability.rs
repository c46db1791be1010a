//! Observability: metrics add up, the task dump finds leaks and survives load, and the
//! `GMPDEBUG` trace lines have Go's shape.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn metrics_add_up_after_quiescence() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    rt.block_on(async {
        let mut hs = Vec::new();
        for i in 0..10_000u32 {
            hs.push(gmp::spawn(async move {
                if i % 100 == 0 {
                    std::future::pending::<()>().await;
                }
                gmp::yield_now().await;
            }));
        }
        for (i, h) in hs.into_iter().enumerate() {
            if i % 100 == 0 {
                h.abort();
                assert!(h.await.unwrap_err().is_cancelled());
            } else {
                h.await.unwrap();
            }
        }
    });
    let _forever: Vec<_> = (0..7)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    wait_until("quiescence", || {
        let m = rt.handle().metrics();
        m.tasks_spawned == m.tasks_completed + m.tasks_cancelled + m.live_tasks as u64
            && m.live_tasks == 7
    });
    let m = rt.handle().metrics();
    assert_eq!(m.tasks_spawned, 10_007);
    assert_eq!(m.tasks_cancelled, 100);
    assert_eq!(m.tasks_completed, 9_900);
    assert!(m.polls >= 19_800);
    assert_eq!(m.per_p.len(), 2);
}

/// 1,000 tasks blocked forever on a channel show up under their spawn line.
#[test]
fn leaked_tasks_are_grouped_by_spawn_location() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded::<()>();
    let rx = Arc::new(futures::lock::Mutex::new(rx));
    let line = line!() + 3;
    for _ in 0..1_000 {
        let rx = rx.clone();
        drop(rt.spawn(async move {
            use futures::StreamExt;
            let _ = rx.lock().await.next().await; // never sent
        }));
    }
    wait_until("all leaked tasks waiting", || {
        let d = rt.handle().dump();
        d.count_at(file!(), line) == 1_000
            && d.tasks
                .iter()
                .filter(|t| t.spawned_at.line() == line)
                .all(|t| t.state == gmp::TaskState::Waiting)
    });
    let text = rt.handle().dump().to_string();
    let expect = format!("1000 at {}:{line}", file!());
    assert!(text.contains(&expect), "{text}");
    assert!(text.contains("Waiting: 1000"), "{text}");
    drop(tx);
}

/// A dump taken during a 100,000-task spawn storm lists every polled task alive throughout,
/// once.
#[test]
fn dump_under_a_spawn_storm_counts_long_lived_tasks_exactly() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let line = line!() + 4;
    let keep: Vec<_> = (0..1_000)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(SeqCst) {
                    gmp::time::sleep(Duration::from_millis(1)).await;
                }
            })
        })
        .collect();
    // A task is listed from its first poll (before that, `unpolled` counts it).
    wait_until("long-lived tasks polled", || {
        rt.handle().dump().count_at(file!(), line) == 1_000
    });
    let storm = rt.spawn(async {
        for _ in 0..100 {
            let hs: Vec<_> = (0..1_000).map(|_| gmp::spawn(async {})).collect();
            for h in hs {
                h.await.unwrap();
            }
        }
    });
    let mut dumps = 0;
    while !storm.is_finished() {
        let d = rt.handle().dump();
        assert_eq!(d.count_at(file!(), line), 1_000);
        let mut ids: Vec<_> = d.tasks.iter().map(|t| t.id).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "a task listed twice");
        dumps += 1;
    }
    rt.block_on(storm).unwrap();
    stop.store(true, SeqCst);
    for k in keep {
        rt.block_on(k).unwrap();
    }
    assert!(dumps >= 1);
}

/// Child mode: run a small workload with GMPDEBUG set, so the parent can read the trace.
#[test]
fn trace_child() {
    if std::env::var_os("GMP_TRACE_CHILD").is_none() {
        return; // only meaningful when run by `schedtrace_lines_have_gos_shape`
    }
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    rt.block_on(async {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            let hs: Vec<_> = (0..100).map(|_| gmp::spawn(gmp::yield_now())).collect();
            for h in hs {
                h.await.unwrap();
            }
            gmp::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

#[test]
fn schedtrace_lines_have_gos_shape() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "trace_child", "--nocapture", "--test-threads=1"])
        .env("GMP_TRACE_CHILD", "1")
        .env("GMPDEBUG", "schedtrace=50,scheddetail=1,bogus=1,seed=777")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("gmp: GMPDEBUG: unknown option \"bogus\""),
        "{stderr}"
    );
    let sched: Vec<&str> = stderr.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(sched.len() >= 2, "{stderr}");
    for line in &sched {
        // SCHED 1004ms: gomaxprocs=2 idleprocs=.. threads=.. spinningthreads=.. needspinning=..
        //   idlethreads=.. runqueue=.. [ a b ] schedticks=[ c d ] seed=777
        let rest = line.strip_prefix("SCHED ").unwrap();
        let (ms, rest) = rest.split_once("ms: ").expect(line);
        ms.parse::<u64>().expect(line);
        let (fields, brackets) = rest.split_once(" [").expect(line);
        let keys: Vec<&str> = fields
            .split(' ')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect(line);
                v.parse::<u64>().expect(line);
                k
            })
            .collect();
        assert_eq!(
            keys,
            [
                "gomaxprocs",
                "idleprocs",
                "threads",
                "spinningthreads",
                "needspinning",
                "idlethreads",
                "runqueue"
            ]
        );
        assert!(fields.starts_with("gomaxprocs=2 "));
        let (runqs, ticks) = brackets.split_once(" ] schedticks=[").expect(line);
        assert_eq!(runqs.split_whitespace().count(), 2, "{line}");
        // Last, gmp's own fields: the scheduler's seed, here from `GMPDEBUG=seed=777`, then
        // the scheduling latency's median and 99th percentile, whole µs (`-`: no sample yet).
        let (ticks, tail) = ticks.rsplit_once(" ] seed=").expect(line);
        let (seed, latency) = tail.split_once(' ').expect(line);
        assert_eq!(seed, "777", "{line}");
        let (p50, p99) = latency
            .strip_prefix("latency_p50=")
            .and_then(|l| l.split_once(" latency_p99="))
            .expect(line);
        // Then the CPU count that limits `wakep`: at least one (`-`: no limit).
        let (p99, cpus) = p99.split_once(" cpus=").expect(line);
        assert!(
            cpus == "-" || cpus.parse::<usize>().expect(line) >= 1,
            "{line}"
        );
        let us = |v: &str| (v != "-").then(|| v.strip_suffix("us").expect(line).parse::<u64>());
        if let (Some(p50), Some(p99)) = (us(p50), us(p99)) {
            assert!(p50.expect(line) <= p99.expect(line), "{line}");
        }
        assert_eq!(ticks.split_whitespace().count(), 2, "{line}");
        for n in runqs.split_whitespace().chain(ticks.split_whitespace()) {
            n.parse::<u64>().expect(line);
        }
    }
    let p_lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("P0: ") || l.starts_with("P1: "))
        .collect();
    assert!(!p_lines.is_empty(), "{stderr}");
    for l in p_lines {
        let (_, fields) = l.split_once(": ").unwrap();
        let keys: Vec<&str> = fields
            .split(' ')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect(l);
                v.parse::<i64>().expect(l);
                k
            })
            .collect();
        assert_eq!(
            keys,
            [
                "status",
                "schedtick",
                "syscalltick",
                "m",
                "runqsize",
                "timerslen"
            ]
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.trim_start().starts_with('M') && l.contains(" p=")),
        "{stderr}"
    );
}

/// Child mode for the dumpsignal test: a few leaked tasks, then SIGUSR1 to ourselves.
#[test]
fn dumpsignal_child() {
    if std::env::var_os("GMP_DUMPSIGNAL_CHILD").is_none() {
        return; // only meaningful when run by `dumpsignal_prints_a_task_dump`
    }
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    for _ in 0..3 {
        drop(rt.spawn(std::future::pending::<()>()));
    }
    // Signal only once all three have been polled and parked: on a loaded machine the M may
    // not have run them yet, and the dump would (rightly) list them as Runnable.
    wait_until("three waiting tasks", || {
        let dump = rt.handle().dump();
        dump.len() == 3
            && dump
                .tasks
                .iter()
                .all(|t| t.state == gmp::TaskState::Waiting)
    });
    let status = Command::new("kill")
        .args(["-USR1", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // sysmon prints within a cycle. The parent closes our stdin once it has read the dump;
    // then exit normally (the signal must not have killed us).
    let mut sink = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink).unwrap();
}

#[test]
fn dumpsignal_prints_a_task_dump() {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dumpsignal_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GMP_DUMPSIGNAL_CHILD", "1")
        .env("GMPDEBUG", "dumpsignal=1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    // Read stderr on a thread so a child that never prints fails at the deadline, not hangs.
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut seen = String::new();
    while !seen.contains("(Waiting: 3)") {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no task dump on stderr within {DEADLINE:?}:\n{seen}");
            }
        }
    }
    drop(stdin); // lets the child exit
    let status = child.wait().unwrap();
    drop(rx);
    reader.join().unwrap();
    assert!(status.success(), "{seen}");
    assert!(seen.contains("SCHED "), "{seen}");
    assert!(seen.contains("3 tasks, 1 spawn locations"), "{seen}");
}

/// Tasks not polled yet are counted in the dump, not listed; a task in its first poll is
/// listed (from its P's first-poll record: it enters the owned list only if that poll returns
/// `Pending`), and tasks finished by their first poll count as completed.
#[test]
fn dump_counts_tasks_not_polled_yet() {
    let rt = gmp::Runtime::builder()
        .procs(1)
        .stuck_rescue(false)
        .build()
        .unwrap();
    let hold = Arc::new(AtomicBool::new(true));
    let started = Arc::new(AtomicBool::new(false));
    let (h2, s2) = (hold.clone(), started.clone());
    // Occupies the only P without yielding, so nothing else can be polled.
    let blocker_line = line!() + 1;
    let blocker = rt.spawn(async move {
        s2.store(true, SeqCst);
        while h2.load(SeqCst) {
            std::hint::spin_loop();
        }
    });
    wait_until("blocker running", || started.load(SeqCst));
    let line = line!() + 1;
    let queued: Vec<_> = (0..10).map(|_| rt.spawn(async {})).collect();
    let d = rt.handle().dump();
    assert_eq!(d.unpolled, 10, "{d}");
    assert_eq!(d.count_at(file!(), line), 0);
    // The blocker is in its first poll: listed, running, once.
    assert_eq!(d.count_at(file!(), blocker_line), 1, "{d}");
    assert_eq!(d.len(), 1, "{d}");
    let b = &d.tasks[0];
    assert_eq!(
        (b.id, b.state, b.polls),
        (blocker.id(), gmp::TaskState::Running, 1)
    );
    assert!(
        d.to_string().contains("10 runnable tasks not polled yet"),
        "{d}"
    );
    assert_eq!(rt.handle().metrics().live_tasks, 11);
    hold.store(false, SeqCst);
    rt.block_on(async {
        blocker.await.unwrap();
        for h in queued {
            h.await.unwrap();
        }
    });
    wait_until("all gone", || {
        let d = rt.handle().dump();
        d.unpolled == 0 && d.is_empty()
    });
    // All eleven finished in their first poll, never listed, and are counted all the same.
    let m = rt.handle().metrics();
    assert_eq!(
        (m.tasks_spawned, m.tasks_completed, m.live_tasks),
        (11, 11, 0)
    );
}

/// A task whose first poll blocks (unmarked for the runtime: `block_in_place`) until sysmon
/// hands its P to another M stays in the dump, in state `Syscall`, while that M runs other
/// first polls on the P; once it returns, nothing of it is left behind.
#[test]
fn a_first_poll_that_loses_its_p_stays_in_the_dump() {
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let line = line!() + 1;
    let h = rt.spawn(async move {
        gmp::block_in_place(|| {
            entered_tx.send(()).unwrap();
            released.recv().unwrap();
        });
    });
    entered.recv_timeout(DEADLINE).unwrap();
    wait_until("the P handed off", || rt.handle().metrics().handoffs >= 1);
    // First polls on the P, now another M's, fill and empty its record again.
    for _ in 0..10 {
        rt.block_on(rt.spawn(async {})).unwrap();
    }
    let d = rt.handle().dump();
    assert_eq!(d.count_at(file!(), line), 1, "{d}");
    assert_eq!(d.len(), 1, "{d}");
    assert_eq!(
        (d.tasks[0].id, d.tasks[0].state),
        (h.id(), gmp::TaskState::Syscall)
    );
    release.send(()).unwrap();
    rt.block_on(h).unwrap();
    wait_until("nothing left in the dump", || {
        let d = rt.handle().dump();
        d.unpolled == 0 && d.is_empty()
    });
    assert_eq!(rt.handle().metrics().live_tasks, 0);
}
