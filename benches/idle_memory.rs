//! Bytes per idle task: 100,000 tasks parked on a oneshot, on `gmp`, tokio and smol.
//!
//! Not a criterion bench (it measures memory, not time): a plain `main` that prints a
//! markdown table and writes `target/criterion/idle_memory/results.json` (for
//! `scripts/plot_ratios.py`). Run it with `cargo bench --bench idle_memory`; a
//! non-flag argument (`gmp`, `tokio`, `smol`) runs only the runtimes whose name contains it.
//!
//! Method, per runtime, each in a fresh child process (this same binary, re-run with
//! `--child <runtime>`), so no runtime inherits another one's freed memory or RSS:
//!
//! 1. Build the runtime with `BENCH_PROCS` workers (default 2; smol: an
//!    `smol::Executor` run by that many std threads, see `benches/support/mod.rs`) and
//!    warm it up: 1,000 tasks of the same shape, spawned, parked, released and finished,
//!    so the runtime's lazily built structures exist before the baseline.
//! 2. Pre-allocate the two `Vec`s (senders, receivers) of the harness, wait for the heap to
//!    settle, then take the baseline: live heap bytes (`heap0`) and RSS (`rss0`).
//! 3. Create the 100,000 `tokio::sync::oneshot` channels (the same type on all three
//!    runtimes; it works on any executor) and read the heap again (`heap1`):
//!    `(heap1 - heap0) / N` is the oneshot's share.
//! 4. Spawn 100,000 tasks from the bench thread (`spawn_remote`; the `JoinHandle`s are
//!    dropped, i.e. detached). Each task increments a static `AtomicUsize`, then awaits
//!    its receiver. Wait until the counter reaches 100,000 (every task has been polled
//!    once and is parked on its receiver), then until the heap count is unchanged over
//!    50 ms (settled), and read heap and RSS (`heap2`, `rss2`).
//! 5. Send on every sender, wait until all tasks have finished (a second counter), let the
//!    heap settle and read it again (`heap3`): it should come back near `heap0`; what is
//!    left is capacity the runtime keeps (queues, slabs grown to 100k entries), reported
//!    as "kept after release".
//! 6. Leak check: the same round again (channels, spawn, park, release); the heap after it
//!    (`heap4`) should equal `heap3` ("2nd round growth" ~ 0; a warning otherwise).
//!
//! Heap bytes are counted by a `#[global_allocator]` wrapper around `System` that keeps the
//! number of bytes currently allocated (requested sizes, not the allocator's rounding or
//! headers): exact and free of noise. RSS (`/proc/self/statm`) is the second figure and does
//! include malloc's overhead and rounding (and any pages the allocator already held).
//!
//! What is counted in `heap2 - heap0` per task: the task's allocation (header, scheduler
//! links and the future's state, which holds the receiver), the runtime's per-task
//! bookkeeping (queues, slabs, lists grown for 100k tasks) and the oneshot channel's shared
//! state. The table reports it with the oneshot (`heap B/task`, the headline figure, ratio
//! to tokio on that) and without it (`excl. oneshot`, the oneshot share measured in step 3
//! subtracted; identical for all runtimes, so it only moves the ratios towards the
//! runtimes' own cost).
//!
//! When run without `--bench` (as `cargo test --benches` does), it runs a quick check with
//! 1,000 tasks and writes no JSON.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

#[path = "support/mod.rs"]
mod support;

use support::{procs, Exec, Gmp, Smol, Tokio};

/// Bytes currently allocated through the global allocator.
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: forwards to `System`; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            ALLOCATED.fetch_sub(layout.size(), Relaxed);
            ALLOCATED.fetch_add(new_size, Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Tasks that have been polled once (and are about to park on their receiver).
static PARKED: AtomicUsize = AtomicUsize::new(0);
/// Tasks that have received and finished.
static DONE: AtomicUsize = AtomicUsize::new(0);

const FULL_TASKS: usize = 100_000;
const QUICK_TASKS: usize = 1_000;
const WARMUP_TASKS: usize = 1_000;
/// Give up waiting for a condition after this long.
const WAIT_LIMIT: Duration = Duration::from_secs(60);
const RUNTIMES: [&str; 3] = ["gmp", "tokio", "smol"];

fn heap() -> usize {
    ALLOCATED.load(SeqCst)
}

/// Resident set size in bytes (`/proc/self/statm`, second field, in pages).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(1) as usize
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < WAIT_LIMIT,
            "idle_memory: timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Wait until the live heap count is unchanged over 50 ms (at most 2 s); returns it.
fn settled_heap() -> usize {
    let start = Instant::now();
    let mut last = heap();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = heap();
        if now == last || start.elapsed() > Duration::from_secs(2) {
            return now;
        }
        last = now;
    }
}

/// `n` more oneshot pairs, the shape each parked task waits on.
fn channels(
    n: usize,
    senders: &mut Vec<oneshot::Sender<()>>,
    receivers: &mut Vec<oneshot::Receiver<()>>,
) {
    for _ in 0..n {
        let (tx, rx) = oneshot::channel::<()>();
        senders.push(tx);
        receivers.push(rx);
    }
}

/// Spawn one parked task per receiver (detached).
fn spawn_parked<E: Exec>(rt: &E, receivers: &mut Vec<oneshot::Receiver<()>>) {
    for rx in receivers.drain(..) {
        drop(rt.spawn_remote(async move {
            PARKED.fetch_add(1, SeqCst);
            let _ = rx.await;
            DONE.fetch_add(1, SeqCst);
        }));
    }
}

/// Release every parked task and wait until they have all finished.
fn release(senders: &mut Vec<oneshot::Sender<()>>, expect_done: usize) {
    for tx in senders.drain(..) {
        let _ = tx.send(());
    }
    wait_for("tasks finish after release", || {
        DONE.load(SeqCst) == expect_done
    });
}

struct Sample {
    tasks: usize,
    heap0: usize,
    heap1: usize,
    heap2: usize,
    heap3: usize,
    heap4: usize,
    rss0: usize,
    rss2: usize,
}

fn measure<E: Exec>(tasks: usize, procs: usize) -> Sample {
    let rt = E::build(procs);

    let mut senders = Vec::with_capacity(tasks.max(WARMUP_TASKS));
    let mut receivers = Vec::with_capacity(tasks.max(WARMUP_TASKS));

    // Warm-up: the same shape, smaller.
    channels(WARMUP_TASKS, &mut senders, &mut receivers);
    spawn_parked(&rt, &mut receivers);
    wait_for("warm-up tasks park", || PARKED.load(SeqCst) == WARMUP_TASKS);
    release(&mut senders, WARMUP_TASKS);
    PARKED.store(0, SeqCst);
    DONE.store(0, SeqCst);

    let heap0 = settled_heap();
    let rss0 = rss();

    channels(tasks, &mut senders, &mut receivers);
    let heap1 = heap();

    spawn_parked(&rt, &mut receivers);
    wait_for("tasks park", || PARKED.load(SeqCst) == tasks);
    let heap2 = settled_heap();
    let rss2 = rss();

    release(&mut senders, tasks);
    let heap3 = settled_heap();

    // A second round: what the first one left behind should be reused, not added to.
    PARKED.store(0, SeqCst);
    DONE.store(0, SeqCst);
    channels(tasks, &mut senders, &mut receivers);
    spawn_parked(&rt, &mut receivers);
    wait_for("second-round tasks park", || PARKED.load(SeqCst) == tasks);
    release(&mut senders, tasks);
    let heap4 = settled_heap();

    rt.shutdown();
    Sample {
        tasks,
        heap0,
        heap1,
        heap2,
        heap3,
        heap4,
        rss0,
        rss2,
    }
}

/// `--child <runtime>`: measure one runtime and print one `key=value` line.
fn child(runtime: &str, tasks: usize) {
    let procs = procs();
    let s = match runtime {
        "gmp" => measure::<Gmp>(tasks, procs),
        "tokio" => measure::<Tokio>(tasks, procs),
        "smol" => measure::<Smol>(tasks, procs),
        other => panic!("idle_memory: unknown runtime {other:?}"),
    };
    println!(
        "IDLE_MEMORY tasks={} procs={procs} heap0={} heap1={} heap2={} heap3={} heap4={} rss0={} \
         rss2={}",
        s.tasks, s.heap0, s.heap1, s.heap2, s.heap3, s.heap4, s.rss0, s.rss2
    );
}

struct Row {
    runtime: &'static str,
    tasks: usize,
    procs: usize,
    /// Per task, heap: everything (task + bookkeeping + oneshot).
    heap: f64,
    /// Per task, heap: the oneshot channel's share.
    oneshot: f64,
    /// Per task, RSS growth.
    rss: f64,
    /// Per task, heap still allocated after release (vs. the baseline): capacity the
    /// runtime keeps (or a leak).
    residual: f64,
    /// Per task, heap growth over a second identical round (vs. after the first): a leak.
    leak: f64,
}

fn run_child(runtime: &'static str, tasks: usize) -> Result<Row, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("--child")
        .arg(runtime)
        .arg(tasks.to_string())
        .output()
        .map_err(|e| format!("run child: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("IDLE_MEMORY "))
        .ok_or_else(|| {
            format!(
                "child {runtime} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    let field = |key: &str| -> Result<usize, String> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("child {runtime}: no {key} in {line:?}"))
    };
    let n = field("tasks")? as f64;
    let (heap0, heap1, heap2, heap3, heap4) = (
        field("heap0")? as f64,
        field("heap1")? as f64,
        field("heap2")? as f64,
        field("heap3")? as f64,
        field("heap4")? as f64,
    );
    let (rss0, rss2) = (field("rss0")? as f64, field("rss2")? as f64);
    Ok(Row {
        runtime,
        tasks: field("tasks")?,
        procs: field("procs")?,
        heap: (heap2 - heap0) / n,
        oneshot: (heap1 - heap0) / n,
        rss: (rss2 - rss0) / n,
        residual: (heap3 - heap0) / n,
        leak: (heap4 - heap3) / n,
    })
}

/// `<target>/criterion/idle_memory/results.json`, next to criterion's own output.
fn results_path() -> Option<PathBuf> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        // <target>/<profile>/deps/idle_memory-<hash>
        None => std::env::current_exe()
            .ok()?
            .parent()?
            .parent()?
            .parent()?
            .to_path_buf(),
    };
    Some(
        target
            .join("criterion")
            .join("idle_memory")
            .join("results.json"),
    )
}

fn write_json(rows: &[Row]) -> std::io::Result<PathBuf> {
    let path = results_path().ok_or_else(|| std::io::Error::other("no target directory"))?;
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let tokio = rows.iter().find(|r| r.runtime == "tokio");
    let mut json = String::from("{\n  \"bench\": \"idle_memory\",\n  \"unit\": \"bytes/task\",\n");
    json.push_str("  \"runtimes\": {\n");
    for (i, r) in rows.iter().enumerate() {
        let ratio = |mine: f64, theirs: Option<f64>| match theirs {
            Some(t) if t > 0.0 => format!("{:.4}", mine / t),
            _ => String::from("null"),
        };
        json.push_str(&format!(
            "    \"{}\": {{\"tasks\": {}, \"procs\": {}, \"heap_bytes_per_task\": {:.1}, \
             \"heap_bytes_per_task_excl_oneshot\": {:.1}, \"oneshot_bytes_per_task\": {:.1}, \
             \"rss_bytes_per_task\": {:.1}, \"residual_bytes_per_task\": {:.1}, \
             \"second_round_growth_bytes_per_task\": {:.1}, \"ratio_to_tokio\": {}, \"ratio_to_tokio_excl_oneshot\": {}}}{}\n",
            r.runtime,
            r.tasks,
            r.procs,
            r.heap,
            r.heap - r.oneshot,
            r.oneshot,
            r.rss,
            r.residual,
            r.leak,
            ratio(r.heap, tokio.map(|t| t.heap)),
            ratio(r.heap - r.oneshot, tokio.map(|t| t.heap - t.oneshot)),
            if i + 1 < rows.len() { "," } else { "" },
        ));
    }
    json.push_str("  }\n}\n");
    let mut f = std::fs::File::create(&path)?;
    f.write_all(json.as_bytes())?;
    Ok(path)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let runtime = args.get(i + 1).expect("--child <runtime> <tasks>");
        let tasks = args
            .get(i + 2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(FULL_TASKS);
        child(runtime, tasks);
        return;
    }

    // `cargo bench` passes `--bench`; `cargo test --benches` does not: a quick check then.
    let full = args.iter().any(|a| a == "--bench");
    let tasks = if full { FULL_TASKS } else { QUICK_TASKS };
    let filter = args.iter().find(|a| !a.starts_with('-'));

    let mut rows = Vec::new();
    let mut failed = false;
    for runtime in RUNTIMES {
        if filter.is_some_and(|f| !runtime.contains(f.as_str())) {
            continue;
        }
        eprintln!("idle_memory: {runtime}, {tasks} tasks ...");
        match run_child(runtime, tasks) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("idle_memory: {e}");
                failed = true;
            }
        }
    }

    let tokio = rows
        .iter()
        .find(|r| r.runtime == "tokio")
        .map(|t| (t.heap, t.oneshot));
    let ratio = |mine: f64, theirs: Option<f64>| match theirs {
        Some(t) if t > 0.0 => format!("{:.2}", mine / t),
        _ => String::from("n/a"),
    };
    println!();
    println!(
        "Live heap per idle task: {tasks} tasks parked on a tokio oneshot, {} workers; \
         oneshot share measured separately",
        procs()
    );
    println!();
    println!(
        "| runtime | bytes/task (heap) | excl. oneshot | RSS/task | ratio to tokio | \
         ratio excl. oneshot | kept after release | 2nd round growth |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} B | {:.1} B | {:.1} B | {} | {} | {:.1} B | {:.1} B |",
            r.runtime,
            r.heap,
            r.heap - r.oneshot,
            r.rss,
            ratio(r.heap, tokio.map(|t| t.0)),
            ratio(r.heap - r.oneshot, tokio.map(|t| t.0 - t.1)),
            r.residual,
            r.leak
        );
        // Back near the baseline: whatever the first round left (capacity of queues and
        // slabs grown for N tasks) is reused by the second round, not added to.
        if r.leak > 1.0 {
            eprintln!(
                "idle_memory: warning: {} grew by {:.1} B/task over a second round (a leak?)",
                r.runtime, r.leak
            );
        }
    }
    if let Some(r) = rows.first() {
        println!();
        println!("oneshot channel share: {:.1} B/task", r.oneshot);
    }
    println!();

    if full && !rows.is_empty() {
        match write_json(&rows) {
            Ok(path) => eprintln!("idle_memory: wrote {}", path.display()),
            Err(e) => {
                eprintln!("idle_memory: writing results.json: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
