//! Timer tail latency under CPU hogs and blocking calls: `gmp` vs. tokio.
//!
//! Not a criterion bench (it reports percentiles, not a mean): a plain `main`
//! that prints a markdown table. Run it with
//! `cargo bench --bench tail_latency`.
//!
//! For each runtime (same worker count: env `BENCH_PROCS`, else 2) and each
//! scenario, a fresh runtime runs a 1ms ticker task for 2 seconds: tick `i` is
//! `start + i * 1ms`; the task does `sleep_until(tick)` and records
//! `now - tick` (its lateness). Ticks are on a fixed schedule, so one stall of
//! N ms shows up as ~N late ticks (N, N-1, ... ms late): p99 of the 2,000
//! samples is the stall length once stalls add up to more than 1% of the
//! time. Scenarios (the load starts 100ms before the ticker):
//!
//! - `idle`: nothing else runs.
//! - `spin`: `procs + 1` tasks each loop { spin the CPU for 50ms without
//!   yielding; `yield_now().await` }. One more hog than workers, so the ticker
//!   always queues behind a hog that will not yield for up to 50ms.
//! - `thread_sleep`: `procs + 1` tasks each loop { `std::thread::sleep(50ms)`
//!   (an unmarked blocking call, no await inside it); `yield_now().await` }.
//! - `spawn_blocking`: 2 tasks each loop on
//!   `spawn_blocking(|| std::thread::sleep(500ms)).await`.
//!
//! The ticker is a spawned task on both runtimes (not the `block_on` thread,
//! which is not a worker on either runtime). The hogs check a stop flag after
//! every burst; after the ticker finishes the flag is set, the hogs are
//! awaited, and the runtime is shut down with `shutdown_timeout`, so the
//! program ends. A watchdog exits the process (code 2) if one phase of a run
//! (load start, ticker, stopping the load, shutdown) takes more than 30s,
//! naming the runtime, scenario and phase, the ticks done so far and, for
//! gmp, the runtime's metrics.
//!
//! Targets: gmp p99 under 25ms in `spin` and `thread_sleep` (sysmon's
//! stuck-P rescue, after two 10ms time slices), idle p99 under 0.5ms.
//! A second table shows gmp's scheduler counters for each scenario.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

use support::{procs, Exec, Gmp, Tokio};

const TICK: Duration = Duration::from_millis(1);
const TICKS: u32 = 2_000;
const BURST: Duration = Duration::from_millis(50);
const BLOCKING_SLEEP: Duration = Duration::from_millis(500);
const SETTLE: Duration = Duration::from_millis(100);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
const WATCHDOG: Duration = Duration::from_secs(30);

/// Ticks done by the current ticker (for the watchdog's report).
static TICKS_DONE: AtomicU32 = AtomicU32::new(0);

/// What the report and the watchdog want from a runtime, on top of the shared [`Exec`].
trait Report: Exec {
    /// Scheduler counters worth reporting, if the runtime has them.
    fn activity(&self) -> Option<String>;

    /// The gmp handle, for the watchdog's report.
    fn gmp_handle(&self) -> Option<gmp::Handle>;
}

impl Report for Gmp {
    fn activity(&self) -> Option<String> {
        let m = self.0.handle().metrics();
        Some(format!(
            "{} | {} | {} | {}",
            m.threads, m.handoffs, m.preemptions, m.rescues
        ))
    }

    fn gmp_handle(&self) -> Option<gmp::Handle> {
        Some(self.0.handle().clone())
    }
}

impl Report for Tokio {
    fn activity(&self) -> Option<String> {
        None
    }

    fn gmp_handle(&self) -> Option<gmp::Handle> {
        None
    }
}

#[derive(Clone, Copy)]
enum Scenario {
    Idle,
    Spin,
    ThreadSleep,
    SpawnBlocking,
}

impl Scenario {
    const ALL: [Scenario; 4] = [
        Scenario::Idle,
        Scenario::Spin,
        Scenario::ThreadSleep,
        Scenario::SpawnBlocking,
    ];

    fn label(self, procs: usize) -> String {
        match self {
            Scenario::Idle => "(a) idle".to_string(),
            Scenario::Spin => format!("(b) {} tasks spin 50ms", procs + 1),
            Scenario::ThreadSleep => format!("(c) {} tasks thread::sleep 50ms", procs + 1),
            Scenario::SpawnBlocking => "(d) 2 tasks spawn_blocking(sleep 500ms)".to_string(),
        }
    }
}

/// Burn the CPU for `d` without yielding.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Start the scenario's load; returns its tasks.
fn start_load<E: Exec>(
    rt: &E,
    scenario: Scenario,
    procs: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<E::JoinHandle<()>> {
    let hogs = match scenario {
        Scenario::Idle => 0,
        Scenario::Spin | Scenario::ThreadSleep => procs + 1,
        Scenario::SpawnBlocking => 2,
    };
    (0..hogs)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn_remote(async move {
                while !stop.load(Relaxed) {
                    match scenario {
                        Scenario::Idle => unreachable!(),
                        Scenario::Spin => {
                            spin_for(BURST);
                            E::yield_now().await;
                        }
                        Scenario::ThreadSleep => {
                            std::thread::sleep(BURST);
                            E::yield_now().await;
                        }
                        Scenario::SpawnBlocking => {
                            E::spawn_blocking(|| std::thread::sleep(BLOCKING_SLEEP))
                                .await
                                .unwrap();
                        }
                    }
                }
            })
        })
        .collect()
}

/// The ticker: lateness of each of `TICKS` 1ms ticks on a fixed schedule.
async fn ticker<E: Exec>() -> Vec<Duration> {
    let mut lateness = Vec::with_capacity(TICKS as usize);
    let start = Instant::now();
    for i in 1..=TICKS {
        let tick = start + TICK * i;
        E::sleep_until(tick).await;
        lateness.push(Instant::now().saturating_duration_since(tick));
        TICKS_DONE.store(i, Relaxed);
    }
    lateness
}

struct Stats {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at = |q: f64| {
        let rank = (q * samples.len() as f64).ceil() as usize;
        samples[rank.clamp(1, samples.len()) - 1]
    };
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        max: *samples.last().expect("at least one tick"),
    }
}

/// One scenario on a fresh runtime of type `E`.
fn run<E: Report>(
    scenario: Scenario,
    procs: usize,
    progress: &mpsc::Sender<Phase>,
) -> (Stats, Option<String>) {
    let label = scenario.label(procs);
    let phase = |what: &str, handle: Option<gmp::Handle>| {
        let what = format!("{}, {label}, {what}", E::NAME);
        progress.send(Phase { what, handle }).unwrap();
    };

    phase("starting the load", None);
    let rt = E::build(procs);
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&rt, scenario, procs, &stop);
    std::thread::sleep(SETTLE);

    phase("ticker", rt.gmp_handle());
    TICKS_DONE.store(0, Relaxed);
    let lateness = rt.block_on(rt.spawn_remote(ticker::<E>())).unwrap();
    let activity = rt.activity();

    phase("stopping the load", rt.gmp_handle());
    stop.store(true, Relaxed);
    rt.block_on(async {
        for h in load {
            h.await.unwrap();
        }
    });

    phase("shutdown", None);
    rt.shutdown_timeout(SHUTDOWN_TIMEOUT);
    (stats(lateness), activity)
}

/// What the watchdog is waiting for.
struct Phase {
    what: String,
    handle: Option<gmp::Handle>,
}

/// Exits the process if a phase takes longer than `WATCHDOG`.
fn watchdog() -> mpsc::Sender<Phase> {
    let (tx, rx) = mpsc::channel::<Phase>();
    std::thread::spawn(move || {
        let mut current = Phase {
            what: String::from("startup"),
            handle: None,
        };
        loop {
            match rx.recv_timeout(WATCHDOG) {
                Ok(next) => current = next,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    eprintln!(
                        "tail_latency: HANG: {} made no progress for {WATCHDOG:?} \
                         ({} of {TICKS} ticks done); giving up",
                        current.what,
                        TICKS_DONE.load(Relaxed)
                    );
                    if let Some(h) = &current.handle {
                        eprintln!("{:#?}", h.metrics());
                    }
                    std::process::exit(2);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    });
    tx
}

fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument (like criterion's) picks scenarios.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let procs = procs();
    let progress = watchdog();
    let started = Instant::now();

    let mut rows = Vec::new();
    let mut activity = Vec::new();
    for scenario in Scenario::ALL {
        let label = scenario.label(procs);
        if filter.as_ref().is_some_and(|f| !label.contains(f.as_str())) {
            continue;
        }
        eprintln!("tail_latency: {label} ...");
        let (g, g_activity) = run::<Gmp>(scenario, procs, &progress);
        let (t, _) = run::<Tokio>(scenario, procs, &progress);
        rows.push(format!(
            "| {label} | {} | {} | {} | {} | {} | {} |",
            ms(g.p50),
            ms(g.p99),
            ms(g.max),
            ms(t.p50),
            ms(t.p99),
            ms(t.max)
        ));
        if let Some(a) = g_activity {
            activity.push(format!("| {label} | {a} |"));
        }
    }
    drop(progress);

    println!();
    println!(
        "1ms ticker lateness, {TICKS} ticks, {procs} workers (gmp procs = tokio worker_threads)"
    );
    println!();
    println!("| scenario | gmp p50 | gmp p99 | gmp max | tokio p50 | tokio p99 | tokio max |");
    println!("|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }
    println!();
    println!("gmp scheduler counters at the end of each run:");
    println!();
    println!("| scenario | threads | handoffs | preemptions | rescues |");
    println!("|---|---|---|---|---|");
    for row in &activity {
        println!("{row}");
    }
    println!();
    eprintln!(
        "tail_latency: done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
