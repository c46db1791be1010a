//! The flight recorder: `Handle::trace_snapshot`, `Handle::write_trace` (Chrome trace-event
//! JSON, parsed back here with serde_json), `GMPDEBUG=tracefile` at exit and on SIGUSR1, and
//! the bad-input cases. Waits are on conditions with generous deadlines.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// The rescue test needs sysmon to see a stuck P: keep the other tests off the CPUs meanwhile.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gmp-trace-{}-{name}.json", std::process::id()))
}

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Parse a trace file; returns the `traceEvents` array.
fn read_trace(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"));
    v["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .clone()
}

/// tid -> track name, from the `thread_name` metadata events.
fn track_names(events: &[Value]) -> HashMap<u64, String> {
    events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A runtime of `procs` Ps with the flight recorder on.
fn recorded(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder()
        .procs(procs)
        .flight_recorder(true)
        .build()
        .unwrap()
}

#[test]
fn trace_file_has_a_track_per_p_and_m_and_polls_named_by_spawn_site() {
    let _serial = serial();
    let rt = recorded(2);
    rt.block_on(async {
        let hs: Vec<_> = (0..20)
            .map(|_| {
                gmp::spawn(async {
                    for _ in 0..20 {
                        gmp::yield_now().await;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let path = temp_path("tracks");
    rt.handle().write_trace(&path).unwrap();
    let events = read_trace(&path);
    std::fs::remove_file(&path).unwrap();
    let names = track_names(&events);
    let tracks: BTreeSet<&str> = names.values().map(String::as_str).collect();
    assert!(tracks.contains("P0") && tracks.contains("P1"), "{tracks:?}");
    assert!(tracks.iter().any(|t| t.starts_with('M')), "{tracks:?}");
    // Every event sits on a named track; every M that polled has one.
    let mut ms = BTreeSet::new();
    for e in events.iter().filter(|e| e["ph"] != "M") {
        let tid = e["tid"].as_u64().unwrap();
        assert!(names.contains_key(&tid), "event on an unnamed track: {e}");
        if let Some(m) = e["args"]["m"].as_u64() {
            ms.insert(m);
        }
    }
    for m in ms {
        assert!(
            tracks.contains(format!("M{m}").as_str()),
            "no track for M{m}"
        );
    }
    // The 20 yielding tasks: 21 polls each, as slices named by their spawn site (this file).
    let polls: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"].as_str().unwrap().contains("tests/trace.rs"))
        .collect();
    let on_p = polls
        .iter()
        .filter(|e| names[&e["tid"].as_u64().unwrap()].starts_with('P'))
        .count();
    assert!(on_p >= 20 * 21, "{on_p} poll slices on P tracks");
    assert!(polls.iter().all(|e| e["dur"].as_f64().unwrap() >= 0.0));
    // The snapshot agrees: polls carry their spawn site.
    let snap = rt.handle().trace_snapshot();
    assert!(snap.enabled);
    assert!(snap
        .events
        .iter()
        .filter(|e| e.kind == gmp::TraceEventKind::PollStart)
        .all(|e| e.spawned_at.is_some() && e.task.is_some() && e.p.is_some()));
}

/// procs = 1: a task spins 300ms without an await, with a task queued behind it; sysmon's
/// stuck-P rescue moves that task out, and the trace shows the rescue on P0's track and the
/// long poll as one slice.
#[test]
fn stuck_p_rescue_shows_in_the_trace() {
    let _serial = serial();
    let rt = recorded(1);
    let (ran_tx, ran_rx) = mpsc::channel();
    let hog = rt.spawn(async move {
        drop(gmp::spawn(async move { ran_tx.send(()).unwrap() }));
        spin(Duration::from_millis(300));
    });
    ran_rx.recv_timeout(DEADLINE).unwrap();
    let hog_id = hog.id();
    rt.block_on(hog).unwrap();
    assert!(rt.handle().metrics().rescues >= 1);
    // The JoinHandle is ready before the M records the end of the poll: wait for that.
    let start = Instant::now();
    while !rt
        .handle()
        .trace_snapshot()
        .events
        .iter()
        .any(|e| e.kind == gmp::TraceEventKind::PollEnd && e.task == Some(hog_id))
    {
        assert!(start.elapsed() < DEADLINE, "the hog's poll never ended");
        std::thread::sleep(Duration::from_millis(1));
    }
    let path = temp_path("rescue");
    rt.handle().write_trace(&path).unwrap();
    let events = read_trace(&path);
    std::fs::remove_file(&path).unwrap();
    let names = track_names(&events);
    let rescue = events
        .iter()
        .find(|e| e["ph"] == "i" && e["name"].as_str().unwrap().starts_with("rescue"))
        .unwrap_or_else(|| panic!("no rescue event: {events:?}"));
    assert_eq!(names[&rescue["tid"].as_u64().unwrap()], "P0");
    assert_eq!(rescue["args"]["p"], 0);
    // The hog's poll: one slice of about 300ms on P0, named by its spawn site.
    let long = events.iter().find(|e| {
        e["ph"] == "X"
            && e["tid"] == rescue["tid"]
            && e["dur"].as_f64().unwrap() >= 250_000.0
            && e["name"].as_str().unwrap().contains("tests/trace.rs")
    });
    let p0: Vec<String> = events
        .iter()
        .filter(|e| e["tid"] == rescue["tid"] && e["ph"] == "X")
        .map(|e| format!("{} {} {}", e["name"], e["ts"], e["dur"]))
        .collect();
    assert!(long.is_some(), "no long poll slice on P0: {p0:#?}");
    // The reserve P lent ran the queued task: it has a track too.
    assert!(
        names.values().any(|n| n.ends_with("(reserve)")),
        "{names:?}"
    );
}

/// Snapshots taken in a loop while 2 Ps run a yield-heavy load: no panic, and every event is
/// whole (its fields agree with its kind).
#[test]
fn snapshots_under_load_are_consistent() {
    let _serial = serial();
    let rt = recorded(2);
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(SeqCst) {
                    gmp::yield_now().await;
                }
            })
        })
        .collect();
    let start = Instant::now();
    let mut snapshots = 0;
    let mut seen = 0;
    while snapshots < 50 || seen < 10_000 {
        assert!(start.elapsed() < DEADLINE, "too few events: {seen}");
        let snap = rt.handle().trace_snapshot();
        assert!(snap.events.windows(2).all(|w| w[0].time <= w[1].time));
        for e in &snap.events {
            use gmp::TraceEventKind::*;
            match e.kind {
                PollStart => {
                    assert!(e.task.is_some() && e.p.is_some_and(|p| p < 4), "{e:?}");
                    let at = e.spawned_at.expect("a poll names its spawn site");
                    assert!(at.file().ends_with("trace.rs"), "{e:?}");
                }
                PollEnd | Wake => assert!(e.task.is_some(), "{e:?}"),
                Steal => assert!((e.arg >> 8) < 4 && (e.arg & 0xFF) > 0, "{e:?}"),
                _ => {}
            }
        }
        seen += snap.events.len();
        snapshots += 1;
    }
    stop.store(true, SeqCst);
    for h in load {
        rt.block_on(h).unwrap();
    }
}

/// Bad input: an unwritable path gives the file system's error, with the path; the recorder
/// off gives `Unsupported`, saying how to turn it on.
#[test]
fn write_trace_errors() {
    let rt = recorded(1);
    let bad = std::env::temp_dir().join("gmp-no-such-dir-7731/trace.json");
    let err = rt.handle().write_trace(&bad).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("gmp-no-such-dir-7731"), "{err}");
    let off = gmp::Runtime::builder().procs(1).build().unwrap();
    if std::env::var_os("GMPDEBUG").is_none() {
        let err = off.handle().write_trace(temp_path("off")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("flight_recorder(true)"), "{err}");
        assert!(!off.handle().trace_snapshot().enabled);
    }
}

// ---- GMPDEBUG=tracefile, in a child process (the flags are read from the environment) ----

/// Run `entry` of this binary in a child with `GMPDEBUG=gmpdebug`; its stderr and status.
fn child(entry: &str, gmpdebug: &str) -> (String, std::process::ExitStatus) {
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env("GMP_TRACE_CHILD", "1")
        .env("GMPDEBUG", gmpdebug)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = c.stderr.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = c.kill();
            panic!("child {entry} did not exit");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (reader.join().unwrap(), status)
}

/// Child: run a few tasks, then drop the runtime (which writes the tracefile, if any).
#[test]
fn tracefile_child() {
    if std::env::var_os("GMP_TRACE_CHILD").is_none() {
        return; // only meaningful when run by the tests below
    }
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    rt.block_on(async {
        let hs: Vec<_> = (0..10).map(|_| gmp::spawn(gmp::yield_now())).collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    drop(rt);
}

/// Child: with `dumpsignal` and `tracefile`, SIGUSR1 writes the trace while running.
#[test]
fn tracefile_signal_child() {
    let Some(path) = std::env::var_os("GMP_TRACE_SIGNAL_PATH") else {
        return;
    };
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    rt.block_on(rt.spawn(async {})).unwrap();
    let status = Command::new("kill")
        .args(["-USR1", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    // Wait for the whole file (sysmon writes it; the last bytes close the JSON object).
    while !std::fs::read_to_string(&path).is_ok_and(|s| s.ends_with("]}\n")) {
        assert!(start.elapsed() < DEADLINE, "no trace written on SIGUSR1");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::mem::forget(rt); // no second write at exit: the file seen is the signal's
}

#[test]
fn tracefile_is_written_at_exit() {
    let path = temp_path("exit");
    let _ = std::fs::remove_file(&path);
    let (err, status) = child("tracefile_child", &format!("tracefile={}", path.display()));
    assert!(status.success(), "{err}");
    let events = read_trace(&path);
    std::fs::remove_file(&path).unwrap();
    let names = track_names(&events);
    assert!(names.values().any(|n| n == "P0"), "{names:?}");
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "X" && e["name"].as_str().unwrap().contains("tests/trace.rs")),
        "no poll slices: {events:?}"
    );
}

#[test]
fn tracefile_is_written_on_sigusr1() {
    let path = temp_path("signal");
    let _ = std::fs::remove_file(&path);
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tracefile_signal_child", "--nocapture"])
        .env("GMP_TRACE_SIGNAL_PATH", &path)
        .env(
            "GMPDEBUG",
            format!("dumpsignal=1,tracefile={}", path.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < DEADLINE, "child did not exit");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success());
    let events = read_trace(&path);
    std::fs::remove_file(&path).unwrap();
    assert!(!events.is_empty());
}

/// Bad input: `tracefile=` with no path, and an unwritable path at exit: one clear stderr
/// line each, no panic, a normal exit.
#[test]
fn bad_tracefile_is_one_stderr_line() {
    let (err, status) = child("tracefile_child", "tracefile=");
    assert!(status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("tracefile")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("needs a path"), "{err}");

    let bad = std::env::temp_dir().join("gmp-no-such-dir-7731/t.json");
    let (err, status) = child("tracefile_child", &format!("tracefile={}", bad.display()));
    assert!(status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("tracefile")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("gmp: GMPDEBUG=tracefile: cannot write the trace to")
            && lines[0].contains("gmp-no-such-dir-7731"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
