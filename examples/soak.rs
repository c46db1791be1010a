//! Soak: a realistic mixed load for a fixed time, with exact accounting and a flatness verdict.
//!
//! `cargo run --release --example soak -- --minutes 10` (or `--seconds N` for a short run).
//!
//! The load, all on one runtime until the time is up:
//! - a loopback TCP echo server (127.0.0.1 only) and 16 clients, each doing round trips of
//!   random sizes over connections it reopens every 100 round trips, every read under a timeout;
//! - 64 timer loops (random 0–20ms sleeps) and timeouts that must fire and must not;
//! - spawn storms: 500 tasks each spawning 2 nested children, all joined;
//! - short `spawn_blocking` calls, and a 200ms one every couple of seconds;
//! - tasks that abort other tasks (waiting on a long sleep) and check they were cancelled;
//! - bounded channels: a producer and a consumer passing 10,000 numbers, the sum checked.
//!
//! Every 10 s it prints one line: elapsed, ops/s in the last interval, total ops, RSS, OS
//! threads, gmp Ms and live tasks. At the end: the accounting (every future spawned was
//! dropped exactly once, every byte sent was received, every task's end is in the metrics) and
//! the verdict — RSS and thread count are flat if the largest values of the last third stay
//! within a margin (RSS +10% +16 MiB, threads +4 +25%) of the largest values seen in the second half of the first third (after
//! warm-up). It exits 1 on FAIL or any accounting mismatch, 2 on bad arguments.

use futures::channel::mpsc;
use futures::io::AsyncWriteExt;
use futures::{SinkExt, StreamExt};
use gmp::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str =
    "usage: soak [--minutes N | --seconds N]   (N a positive integer; default --minutes 10)";
const REPORT_EVERY: Duration = Duration::from_secs(10);
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
const CLIENTS: usize = 16;
const TIMER_LOOPS: usize = 64;
/// Any single step that takes longer than this is a failure (a hang, not slowness).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

fn parse_args() -> Result<Duration, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(Duration::from_secs(600)),
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            std::process::exit(0);
        }
        [flag, n] if flag == "--minutes" || flag == "--seconds" => {
            let n: u64 = n
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("soak: {flag} needs a positive integer, got {n:?}"))?;
            let secs = if flag == "--minutes" {
                n.checked_mul(60).ok_or("soak: --minutes is too large")?
            } else {
                n
            };
            Ok(Duration::from_secs(secs))
        }
        _ => Err(format!("soak: unexpected arguments {args:?}")),
    }
}

/// Everything counted, checked at the end.
#[derive(Default)]
struct Ledger {
    created: AtomicU64,
    dropped: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    ops: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Ledger {
    fn op(&self) {
        self.ops.fetch_add(1, SeqCst);
    }

    fn error(&self, what: String) {
        self.errors.fetch_add(1, SeqCst);
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            eprintln!("soak: error: {what}");
            *first = Some(what);
        }
    }
}

/// Owned by every spawned future: counts its creation and its drop.
struct Token(Arc<Ledger>);
impl Token {
    fn new(l: &Arc<Ledger>) -> Token {
        l.created.fetch_add(1, SeqCst);
        Token(l.clone())
    }
}
impl Drop for Token {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, SeqCst);
    }
}

/// Spawn `fut` with a token: the ledger sees the future created and dropped.
#[track_caller]
fn spawn<F>(l: &Arc<Ledger>, fut: F) -> gmp::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let t = Token::new(l);
    gmp::spawn(async move {
        let _t = t;
        fut.await
    })
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn echo_server(listener: TcpListener, l: Arc<Ledger>) {
    loop {
        let (mut s, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                l.error(format!("accept: {e}"));
                continue;
            }
        };
        drop(spawn(&l, async move {
            let mut buf = vec![0u8; 8192];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) => return,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        }));
    }
}

/// Round trips of random sizes over connections reopened every 100 round trips.
async fn client(id: u64, addr: SocketAddr, stop: Arc<AtomicBool>, l: Arc<Ledger>) {
    let mut rng = Rng(0x9E37_79B9 ^ ((id + 1) * 0x1234_5678_9ABC));
    while !stop.load(SeqCst) {
        let mut conn = match gmp::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return l.error(format!("client {id}: connect: {e}")),
            Err(_) => return l.error(format!("client {id}: connect timed out")),
        };
        for _ in 0..100 {
            if stop.load(SeqCst) {
                break;
            }
            let n = 1 + rng.below(4096) as usize;
            let byte = rng.next() as u8;
            let out = vec![byte; n];
            let mut back = vec![0u8; n];
            let trip = async {
                conn.write_all(&out).await?;
                l.bytes_sent.fetch_add(n as u64, SeqCst);
                conn.read_exact(&mut back).await?;
                l.bytes_received.fetch_add(n as u64, SeqCst);
                Ok::<(), std::io::Error>(())
            };
            match gmp::time::timeout(STEP_TIMEOUT, trip).await {
                Ok(Ok(())) if back == out => l.op(),
                Ok(Ok(())) => return l.error(format!("client {id}: echo corrupted")),
                Ok(Err(e)) => return l.error(format!("client {id}: {e}")),
                Err(_) => return l.error(format!("client {id}: round trip timed out")),
            }
        }
        let _ = conn.close().await;
    }
}

async fn timer_loop(id: u64, stop: Arc<AtomicBool>, l: Arc<Ledger>) {
    let mut rng = Rng(0xDEAD_BEEF ^ ((id + 1) * 0x51_7CC1_B727));
    while !stop.load(SeqCst) {
        let d = Duration::from_micros(rng.below(20_000));
        let start = Instant::now();
        gmp::time::sleep(d).await;
        if start.elapsed() < d {
            return l.error(format!("a {d:?} sleep woke early"));
        }
        l.op();
        if rng.below(8) == 0 {
            // A timeout that must fire, and one that must not.
            let fired = gmp::time::timeout(Duration::from_millis(1), std::future::pending::<()>());
            if fired.await.is_ok() {
                return l.error("a pending future beat its timeout".into());
            }
            let quick =
                gmp::time::timeout(STEP_TIMEOUT, gmp::time::sleep(Duration::from_millis(1)));
            if quick.await.is_err() {
                return l.error("a 1ms sleep timed out".into());
            }
            l.op();
        }
    }
}

async fn spawn_storms(stop: Arc<AtomicBool>, l: Arc<Ledger>) {
    while !stop.load(SeqCst) {
        let hs: Vec<_> = (0..500u64)
            .map(|i| {
                let l2 = l.clone();
                spawn(&l, async move {
                    let a = spawn(&l2, async move { i });
                    let b = spawn(&l2, async move {
                        gmp::yield_now().await;
                        i
                    });
                    a.await.unwrap() + b.await.unwrap()
                })
            })
            .collect();
        let mut sum = 0;
        for h in hs {
            match h.await {
                Ok(v) => sum += v,
                Err(e) => return l.error(format!("storm task: {e}")),
            }
        }
        if sum != 2 * (499 * 500 / 2) {
            return l.error(format!("storm sum {sum}"));
        }
        l.ops.fetch_add(1500, SeqCst);
    }
}

async fn blocking_calls(stop: Arc<AtomicBool>, l: Arc<Ledger>) {
    let mut last_long = Instant::now();
    while !stop.load(SeqCst) {
        let hs: Vec<_> = (0..50u64)
            .map(|i| {
                gmp::spawn_blocking(move || (0..1000u64).fold(i, |a, x| a ^ x.wrapping_mul(31)))
            })
            .collect();
        for h in hs {
            if let Err(e) = h.await {
                return l.error(format!("spawn_blocking: {e}"));
            }
            l.op();
        }
        if last_long.elapsed() > Duration::from_secs(2) {
            last_long = Instant::now();
            let h = gmp::spawn_blocking(|| std::thread::sleep(Duration::from_millis(200)));
            if let Err(e) = h.await {
                return l.error(format!("long spawn_blocking: {e}"));
            }
            l.op();
        }
        gmp::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn aborters(stop: Arc<AtomicBool>, l: Arc<Ledger>) {
    while !stop.load(SeqCst) {
        let victims: Vec<_> = (0..100)
            .map(|_| spawn(&l, gmp::time::sleep(Duration::from_secs(3600))))
            .collect();
        gmp::yield_now().await;
        // Another task does the aborting.
        let killer = spawn(&l, async move {
            for v in &victims {
                v.abort();
            }
            victims
        });
        let victims = killer.await.unwrap();
        for v in victims {
            match v.await {
                Err(e) if e.is_cancelled() => l.op(),
                other => return l.error(format!("aborted task gave {other:?}")),
            }
        }
        gmp::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn channels(stop: Arc<AtomicBool>, l: Arc<Ledger>) {
    while !stop.load(SeqCst) {
        let (mut tx, mut rx) = mpsc::channel::<u64>(64);
        let producer = spawn(&l, async move {
            for i in 0..10_000u64 {
                if tx.send(i).await.is_err() {
                    return false;
                }
            }
            true
        });
        let consumer = spawn(&l, async move {
            let mut sum = 0u64;
            let mut n = 0u64;
            while let Some(v) = rx.next().await {
                sum += v;
                n += 1;
            }
            (n, sum)
        });
        let sent = producer.await.unwrap();
        let (n, sum) = consumer.await.unwrap();
        if !sent || n != 10_000 || sum != 9_999 * 10_000 / 2 {
            return l.error(format!("channel: sent {sent}, got {n} summing {sum}"));
        }
        l.ops.fetch_add(10_000, SeqCst);
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    pages * page
}

fn os_threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    rss: u64,
    threads: u64,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn main() -> ExitCode {
    let total = match parse_args() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = gmp::Runtime::new().expect("runtime");
    let handle = rt.handle().clone();
    let l = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    println!(
        "soak: {}s on {} Ps (pid {})",
        total.as_secs(),
        handle.metrics().procs,
        std::process::id()
    );

    let (server, workers) = rt.block_on({
        let (l, stop) = (l.clone(), stop.clone());
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().unwrap();
            let server = spawn(&l, echo_server(listener, l.clone()));
            let mut workers = Vec::new();
            for i in 0..CLIENTS as u64 {
                workers.push(spawn(&l, client(i, addr, stop.clone(), l.clone())));
            }
            for i in 0..TIMER_LOOPS as u64 {
                workers.push(spawn(&l, timer_loop(i, stop.clone(), l.clone())));
            }
            workers.push(spawn(&l, spawn_storms(stop.clone(), l.clone())));
            workers.push(spawn(&l, blocking_calls(stop.clone(), l.clone())));
            workers.push(spawn(&l, aborters(stop.clone(), l.clone())));
            workers.push(spawn(&l, channels(stop.clone(), l.clone())));
            (server, workers)
        }
    });

    // Sample every second, report every 10 s, on this thread.
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut last_report = (start, 0u64);
    let mut stalled = false;
    while start.elapsed() < total {
        let next = start + SAMPLE_EVERY * (samples.len() as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let s = Sample {
            at: start.elapsed(),
            rss: rss_bytes(),
            threads: os_threads(),
        };
        samples.push(s);
        if last_report.0.elapsed() >= REPORT_EVERY - Duration::from_millis(50)
            || start.elapsed() >= total
        {
            let ops = l.ops.load(SeqCst);
            let secs = last_report.0.elapsed().as_secs_f64();
            let rate = (ops - last_report.1) as f64 / secs;
            let m = handle.metrics();
            println!(
                "t={:>4}s ops/s={:>9.0} ops={:>11} rss={:>7.1}MiB threads={:>3} ms={:>3} live_tasks={:>6}",
                s.at.as_secs(),
                rate,
                ops,
                mib(s.rss),
                s.threads,
                m.threads,
                m.live_tasks
            );
            if ops == last_report.1 {
                eprintln!("soak: no progress for {secs:.0}s\n{}", handle.dump());
                stalled = true;
            }
            last_report = (Instant::now(), ops);
        }
    }

    // Stop the load and wait for every worker loop to finish.
    stop.store(true, SeqCst);
    let finished = rt.block_on(gmp::time::timeout(Duration::from_secs(60), async {
        for w in workers {
            w.await.expect("worker loop");
        }
    }));
    if finished.is_err() {
        l.error(format!(
            "workers did not stop within 60s\n{}",
            handle.dump()
        ));
    }
    server.abort();
    let server_end = rt.block_on(server);
    if !matches!(&server_end, Err(e) if e.is_cancelled()) {
        l.error(format!("echo server ended with {server_end:?}"));
    }
    // The connection handlers end when their clients close.
    let deadline = Instant::now() + Duration::from_secs(30);
    while handle.metrics().live_tasks > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let m = handle.metrics();
    let live_at_end = m.live_tasks;
    drop(rt);

    // Accounting.
    let mut ok = true;
    let created = l.created.load(SeqCst);
    let dropped = l.dropped.load(SeqCst);
    let sent = l.bytes_sent.load(SeqCst);
    let received = l.bytes_received.load(SeqCst);
    let errors = l.errors.load(SeqCst);
    println!(
        "accounting: futures created={created} dropped={dropped}; bytes sent={sent} \
         received={received}; tasks spawned={} completed={} cancelled={} live={live_at_end}; \
         errors={errors}",
        m.tasks_spawned, m.tasks_completed, m.tasks_cancelled
    );
    if created != dropped {
        println!(
            "FAIL: {} futures were not dropped exactly once",
            created.abs_diff(dropped)
        );
        ok = false;
    }
    if sent != received || sent == 0 {
        println!("FAIL: {sent} bytes sent, {received} received");
        ok = false;
    }
    if live_at_end != 0 || m.tasks_spawned != m.tasks_completed + m.tasks_cancelled {
        println!("FAIL: task metrics do not add up: {m:?}");
        ok = false;
    }
    if errors > 0 {
        println!(
            "FAIL: {errors} error(s), first: {}",
            l.first_error.lock().unwrap().as_deref().unwrap_or("?")
        );
        ok = false;
    }
    if stalled {
        println!("FAIL: progress stopped for a whole report interval");
        ok = false;
    }

    // Flatness: the second half of the first third is the baseline (after warm-up); the last
    // third must not grow past it by more than the margins.
    let third = total / 3;
    let max_in = |from: Duration, to: Duration, f: fn(&Sample) -> u64| {
        samples
            .iter()
            .filter(|s| s.at >= from && s.at <= to)
            .map(f)
            .max()
    };
    let base_rss = max_in(third / 2, third, |s| s.rss);
    let last_rss = max_in(third * 2, total + SAMPLE_EVERY, |s| s.rss);
    let base_thr = max_in(third / 2, third, |s| s.threads);
    let last_thr = max_in(third * 2, total + SAMPLE_EVERY, |s| s.threads);
    match (base_rss, last_rss, base_thr, last_thr) {
        (Some(br), Some(lr), Some(bt), Some(lt)) => {
            let rss_limit = br + br / 10 + (16 << 20);
            let thr_limit = bt + 4 + bt / 4;
            let flat = lr <= rss_limit && lt <= thr_limit;
            println!(
                "verdict: {} — RSS max {:.1}MiB in the last third vs {:.1}MiB after warm-up \
                 (limit {:.1}MiB); threads max {lt} vs {bt} (limit {thr_limit})",
                if flat { "PASS" } else { "FAIL" },
                mib(lr),
                mib(br),
                mib(rss_limit)
            );
            ok &= flat;
        }
        _ => {
            println!("verdict: FAIL — too few samples for a verdict (run at least 6 s)");
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
