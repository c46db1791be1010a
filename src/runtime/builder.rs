//! `Builder`: configure and start a runtime.

use super::{cgroup, Runtime};
use crate::executor::sched::{Config, Sched};
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Go's cap on GOMAXPROCS-like values that still make sense for one process.
const MAX_PROCS: usize = 1024;

/// Smallest `thread_stack_size` accepted: below this an M could not even poll a small future.
const MIN_STACK_SIZE: usize = 64 * 1024;

/// Builds a [`Runtime`] with custom settings.
///
/// ```
/// use std::time::Duration;
/// let rt = gmp::Runtime::builder()
///     .procs(2)
///     .max_threads(64)
///     .time_slice(Duration::from_millis(10))
///     .thread_name("my-app")
///     .build()
///     .expect("valid configuration");
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    procs: Option<usize>,
    max_procs: Option<usize>,
    max_threads: usize,
    time_slice: Duration,
    thread_name: String,
    stuck_rescue: bool,
    wake_within_cpus: bool,
    keep_alive: Duration,
    stack_size: Option<usize>,
    hooks: super::Hooks,
    rng_seed: Option<u64>,
    start_tokio: bool,
    start_paused: bool,
    flight_recorder: bool,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// `procs` from the environment: `GMAXPROCS` if set, else the container-aware default (the CPU
/// count, lowered to the cgroup CPU limit by Go 1.25's rule: see `cgroup.rs`). With the
/// default, also how it was chosen.
fn default_procs() -> io::Result<(usize, Option<cgroup::Decision>)> {
    match std::env::var_os("GMAXPROCS") {
        Some(raw) => {
            let s = raw.to_string_lossy();
            match s.trim().parse::<usize>() {
                Ok(0) => Err(invalid(format!(
                    "gmp: GMAXPROCS={s:?} is invalid: it must be at least 1"
                ))),
                Ok(n) if n > MAX_PROCS => Err(invalid(format!(
                    "gmp: GMAXPROCS={s:?} is invalid: it must be at most {MAX_PROCS}"
                ))),
                Ok(n) => Ok((n, None)),
                Err(_) => Err(invalid(format!(
                    "gmp: GMAXPROCS={s:?} is invalid: expected a positive integer"
                ))),
            }
        }
        None => {
            let cpus = cpu_count();
            let d = cgroup::decide(cpus, cgroup_root().as_deref(), MAX_PROCS);
            if let Some(problem) = &d.problem {
                if std::env::var_os("GMPDEBUG").is_some() {
                    eprintln!(
                        "gmp: cgroup CPU limit ignored: {problem}; procs={} from the CPU count",
                        d.procs
                    );
                }
            }
            Ok((d.procs, Some(d)))
        }
    }
}

/// sysmon's re-read of the container-aware default (`crate::sysmon::procs`): the CPU count and
/// the cgroup files under `root`, by the same rule as at `build`, capped at the `max` passed.
fn auto_procs(root: PathBuf) -> crate::executor::sched::AutoProcs {
    Box::new(move |max| {
        let cpus = cpu_count();
        let d = cgroup::decide(cpus, Some(&root), max);
        match d.problem {
            Some(problem) => Err(problem),
            None => Ok((d.procs, d.describe())),
        }
    })
}

/// The CPU count the default is computed from: the affinity mask's. Tests with a fake cgroup
/// root may fake it too (`GMP_CGROUP_CPUS=<n>`, read only while `GMP_CGROUP_ROOT` is set), so
/// that a limit below the CPU count can be seen on a machine with two CPUs.
fn cpu_count() -> usize {
    let fake = std::env::var_os("GMP_CGROUP_ROOT")
        .filter(|r| !r.is_empty())
        .and_then(|_| std::env::var("GMP_CGROUP_CPUS").ok())
        .and_then(|n| n.trim().parse::<usize>().ok())
        .filter(|&n| n > 0);
    fake.unwrap_or_else(|| crate::platform::cpu_count().unwrap_or(1))
}

/// Where the cgroup files are read: `/`, or (tests only) `GMP_CGROUP_ROOT`, a directory holding
/// fake `proc/self/cgroup`, `proc/self/mountinfo` and `sys/fs/cgroup/...` files. `None` off
/// Linux (and under Miri): no cgroups there.
fn cgroup_root() -> Option<PathBuf> {
    if cfg!(any(not(target_os = "linux"), miri)) {
        return None;
    }
    match std::env::var_os("GMP_CGROUP_ROOT") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => Some(PathBuf::from("/")),
    }
}

impl Builder {
    fn tokio_bridge(&self) -> io::Result<crate::runtime::TokioBridge> {
        match self.start_tokio {
            #[cfg(feature = "tokio-compat")]
            true => crate::runtime::TokioBridge::start(&self.thread_name),
            _ => Ok(crate::runtime::TokioBridge::default()),
        }
    }

    /// Defaults: `procs` from `GMAXPROCS`, else the CPUs the affinity mask allows, lowered to
    /// the cgroup CPU limit rounded up but not below 2 (Go 1.25's container-aware
    /// `GOMAXPROCS`; re-read by sysmon about once a second, and the runtime resized when it
    /// changes, unless `procs` or `GMAXPROCS` was given), `max_threads` 10,000 (Go's limit),
    /// a 10ms time slice, threads named `gmp-m<N>`.
    pub fn new() -> Builder {
        Builder {
            procs: None,
            max_procs: None,
            max_threads: 10_000,
            time_slice: Duration::from_millis(10),
            thread_name: "gmp".to_string(),
            stuck_rescue: true,
            wake_within_cpus: true,
            keep_alive: Duration::from_secs(10),
            stack_size: None,
            hooks: super::Hooks::default(),
            rng_seed: None,
            start_tokio: false,
            start_paused: false,
            flight_recorder: false,
        }
    }

    /// Number of Ps: how many tasks run in parallel (Go's `GOMAXPROCS`). Overrides `GMAXPROCS`
    /// and the container-aware default (see [`Builder::new`]); as in Go, an explicit value
    /// also switches off following the cgroup CPU limit. [`Handle::set_procs`] changes it
    /// later, up to [`max_procs`](Self::max_procs).
    ///
    /// [`Handle::set_procs`]: crate::runtime::Handle::set_procs
    pub fn procs(&mut self, n: usize) -> &mut Self {
        self.procs = Some(n);
        self
    }

    /// The most Ps [`Handle::set_procs`] (or the cgroup limit) may ask for later: the
    /// scheduler's P array is allocated once, at `build`, with this many Ps (and as many
    /// reserve Ps for stuck-P rescue). Default: `procs` when `procs` or `GMAXPROCS` is given,
    /// else the larger of `procs` and the CPU count (so a raised cgroup limit can be
    /// followed up to the CPUs the process may use), capped at `max_threads`. Must be at
    /// least `procs`, at most 1024 and at most `max_threads`. Ps above `procs` cost memory
    /// (a few KiB each) and a look by each stealing M, nothing on the hot path.
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().procs(2).max_procs(8).build().unwrap();
    /// rt.handle().set_procs(8).unwrap();
    /// assert_eq!(rt.handle().metrics().procs, 8);
    /// assert!(rt.handle().set_procs(9).is_err());
    /// ```
    ///
    /// [`Handle::set_procs`]: crate::runtime::Handle::set_procs
    pub fn max_procs(&mut self, n: usize) -> &mut Self {
        self.max_procs = Some(n);
        self
    }

    /// Most OS threads (Ms) the runtime may create; at least `procs`. Past it, work waits in
    /// queues — the process never aborts for lack of threads.
    pub fn max_threads(&mut self, n: usize) -> &mut Self {
        self.max_threads = n;
        self
    }

    /// How long a task may run before sysmon asks it to yield (Go: 10ms).
    pub fn time_slice(&mut self, d: Duration) -> &mut Self {
        self.time_slice = d;
        self
    }

    /// Stuck-P rescue (on by default): when a task runs for more than two time slices without
    /// reaching an await (a CPU loop, an unmarked blocking call) while its P has queued work
    /// that no other M can take, sysmon moves that work out and lends a reserve P to run it, up
    /// to `max_procs` extra running Ms. Off: such work waits until the stuck poll returns.
    pub fn stuck_rescue(&mut self, on: bool) -> &mut Self {
        self.stuck_rescue = on;
        self
    }

    /// With `procs` above the CPU count: start Ms for idle Ps only while the Ps held by Ms leave
    /// a CPU free (on by default). The CPUs are the affinity mask's, re-read once a second.
    ///
    /// Go starts an M for every idle P's worth of new work. With more Ps than CPUs the kernel
    /// can only queue such a thread behind a busy one, and a CPU whose M parks meanwhile
    /// stays idle while that thread waits (TCP echo at `procs = 16` on 2 CPUs used 1.22 of
    /// them; with the limit, 16 Ps run it as fast as 2). On, the next M out of work keeps
    /// its P and spins instead; Ps in blocking sections are still handed off, and work behind
    /// a poll that never returns is still rescued ([`stuck_rescue`](Self::stuck_rescue)). Off
    /// (Go's rule): as many Ms run polls at once as there are Ps, the kernel time-slicing
    /// them — what a program that blocks inside polls for milliseconds at a time (unmarked
    /// `thread::sleep`, a sync driver) and raised `procs` to absorb that wants. With `procs`
    /// at most the CPU count the two are the same.
    ///
    /// ```
    /// // 16 Ps, each free to run on its own M whatever the CPU count.
    /// let rt = gmp::Runtime::builder().procs(16).wake_within_cpus(false).build().unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn wake_within_cpus(&mut self, on: bool) -> &mut Self {
        self.wake_within_cpus = on;
        self
    }

    /// How long a spare M (a thread with no P and no work, e.g. left over from a burst of
    /// blocking calls) stays parked before it exits (default 10s). Ms up to `procs` + 1 are
    /// kept regardless.
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.keep_alive = d;
        self
    }

    /// Stack size in bytes of every thread the runtime starts (each M and sysmon). Default:
    /// Rust's (2 MiB, or `RUST_MIN_STACK`). Values below 64 KiB are rejected by
    /// [`build`](Self::build); large ones are up to the OS: a stack it cannot map makes
    /// `build` fail (sysmon is started there), and an extra M it cannot start is reported once
    /// on stderr while its work waits for the Ms that exist.
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().thread_stack_size(4 << 20).build().unwrap();
    /// assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Prefix of the Ms' thread names (`<name>-m<N>`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Run `f` on every M (worker thread) the runtime starts, on that thread, before it looks
    /// for work (tokio's `on_thread_start`). Ms that run blocking sections are Ms too, so they
    /// run it; the sysmon thread does not (it is the runtime's own monitor and runs no user
    /// code). `Handle::current()` works inside. A panic in `f` is caught and reported once on
    /// stderr; the M carries on.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// use std::sync::Arc;
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let s = started.clone();
    /// let rt = gmp::Runtime::builder()
    ///     .on_thread_start(move || {
    ///         s.fetch_add(1, SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// assert!(started.load(SeqCst) >= 1);
    /// ```
    pub fn on_thread_start<F: Fn() + Send + Sync + 'static>(&mut self, f: F) -> &mut Self {
        self.hooks.set_start(std::sync::Arc::new(f));
        self
    }

    /// Run `f` on every M just before its thread ends (at shutdown, or a spare M leaving after
    /// [`thread_keep_alive`](Self::thread_keep_alive)). Once the `Runtime` has dropped, every
    /// M's stop hook has returned (an M left behind by `shutdown_timeout` runs it when its
    /// poll returns). Not on sysmon; a panic is caught and reported once.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// use std::sync::Arc;
    /// let (started, stopped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    /// let (a, b) = (started.clone(), stopped.clone());
    /// let rt = gmp::Runtime::builder()
    ///     .on_thread_start(move || {
    ///         a.fetch_add(1, SeqCst);
    ///     })
    ///     .on_thread_stop(move || {
    ///         b.fetch_add(1, SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// drop(rt);
    /// assert_eq!(started.load(SeqCst), stopped.load(SeqCst));
    /// ```
    pub fn on_thread_stop<F: Fn() + Send + Sync + 'static>(&mut self, f: F) -> &mut Self {
        self.hooks.set_stop(std::sync::Arc::new(f));
        self
    }

    /// Run `f` on an M each time it is about to wait for work: parked on the idle list, or
    /// blocked in the network poll. [`on_thread_unpark`](Self::on_thread_unpark) runs when it
    /// wakes. Keep it short: work may be waiting for this M. A panic is caught and reported
    /// once.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// use std::sync::Arc;
    /// let parks = Arc::new(AtomicUsize::new(0));
    /// let p = parks.clone();
    /// let rt = gmp::Runtime::builder()
    ///     .on_thread_park(move || {
    ///         p.fetch_add(1, SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// // Out of work, the M parks (on the idle list, or blocked in the network poll).
    /// while parks.load(SeqCst) == 0 {
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn on_thread_park<F: Fn() + Send + Sync + 'static>(&mut self, f: F) -> &mut Self {
        self.hooks.set_park(std::sync::Arc::new(f));
        self
    }

    /// Run `f` on an M when it wakes from the wait that
    /// [`on_thread_park`](Self::on_thread_park) announced (the two come in pairs). A panic is
    /// caught and reported once.
    ///
    /// ```
    /// let rt = gmp::Runtime::builder()
    ///     .on_thread_unpark(|| { /* e.g. count wakeups */ })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    /// ```
    pub fn on_thread_unpark<F: Fn() + Send + Sync + 'static>(&mut self, f: F) -> &mut Self {
        self.hooks.set_unpark(std::sync::Arc::new(f));
        self
    }

    /// Seed every random choice the scheduler makes (which P a spinning M steals from first,
    /// and in what order it visits the others), so a failing run can be replayed with the same
    /// choices. Each M's generator is derived from the seed and the M's id instead of the
    /// clock. Overrides `GMPDEBUG=seed=N`; without either the seed is random, and
    /// `GMPDEBUG=schedtrace=N` prints it at the end of each `SCHED` line. (The OS still decides
    /// when each thread runs: a seed fixes the scheduler's choices, not the interleaving.)
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().procs(2).rng_seed(42).build().unwrap();
    /// assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    /// ```
    pub fn rng_seed(&mut self, seed: u64) -> &mut Self {
        self.rng_seed = Some(seed);
        self
    }

    /// Start a small tokio runtime beside this one and enter its context on every gmp thread
    /// that runs user code (feature `tokio-compat`; off by default), so that tokio-bound
    /// libraries — reqwest, an sqlx pool, an SDK — work inside gmp tasks: `tokio::spawn`,
    /// `tokio::time`, `tokio::net`, `tokio::fs` and `tokio::runtime::Handle::current()`.
    /// What they spawn and their I/O run on that tokio runtime (one worker thread named
    /// `<thread_name>-tokio`), not on gmp's Ps; see [`crate::tokio_compat`].
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().tokio_compat(true).build().unwrap();
    /// let out = rt.block_on(rt.spawn(async {
    ///     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     tokio::spawn(async { 7 }).await.unwrap()
    /// }));
    /// assert_eq!(out.unwrap(), 7);
    /// ```
    #[cfg(feature = "tokio-compat")]
    pub fn tokio_compat(&mut self, on: bool) -> &mut Self {
        self.start_tokio = on;
        self
    }

    /// Start with the runtime's clock paused ([`gmp::time::pause`](crate::time::pause)):
    /// virtual time from the first instant, auto-advancing to the next timer whenever no task
    /// can run (tokio's `start_paused`, on any number of Ps). Default: false.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = gmp::Runtime::builder().procs(4).start_paused(true).build().unwrap();
    /// let real = std::time::Instant::now();
    /// // (Create the sleep inside: one made outside every runtime belongs to the global one.)
    /// rt.block_on(async { gmp::time::sleep(Duration::from_secs(86_400)).await });
    /// assert!(real.elapsed() < Duration::from_secs(60));
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// Keep the last scheduling events of every P in memory — Go's flight recorder — for
    /// [`Handle::trace_snapshot`](crate::Handle::trace_snapshot) and
    /// [`Handle::write_trace`](crate::Handle::write_trace) (Chrome trace-event JSON, which
    /// Perfetto opens). Default: off — each event reads the clock, which costs far more than
    /// the 3% budget on a task-switch-bound load (BENCHMARKS.md); off, each hook is a load and
    /// a branch. `GMPDEBUG=trace=1` or `GMPDEBUG=tracefile=PATH` also turn it on. It takes
    /// 128 KiB per P (reserve Ps included) while on.
    ///
    /// ```
    /// let rt = gmp::Runtime::builder().procs(1).flight_recorder(true).build().unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// let snap = rt.handle().trace_snapshot();
    /// assert!(snap.events.iter().any(|e| e.kind == gmp::TraceEventKind::PollStart));
    /// ```
    pub fn flight_recorder(&mut self, on: bool) -> &mut Self {
        self.flight_recorder = on;
        self
    }

    /// Validate the settings and create the runtime. Ms start on demand, with the first task.
    ///
    /// # Errors
    /// `InvalidInput`, naming the bad value: `procs(0)`, a malformed or zero `GMAXPROCS`,
    /// `max_threads < procs`, a zero time slice, a `thread_stack_size` below 64 KiB. The OS's
    /// error when it refuses to start the sysmon thread (e.g. a stack it cannot map), with
    /// "gmp: the OS refused to start the sysmon thread" in front.
    ///
    /// ```
    /// let err = gmp::Runtime::builder().procs(0).build().unwrap_err();
    /// assert!(err.to_string().contains("procs"));
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let (procs, decision) = match self.procs {
            Some(0) => {
                return Err(invalid(
                    "gmp: procs(0) is invalid: it must be at least 1".into(),
                ))
            }
            Some(n) if n > MAX_PROCS => {
                return Err(invalid(format!(
                    "gmp: procs({n}) is invalid: it must be at most {MAX_PROCS}"
                )))
            }
            Some(n) => (n, None),
            None => default_procs()?,
        };
        if self.max_threads < procs {
            return Err(invalid(format!(
                "gmp: max_threads({}) is invalid: it must be at least procs ({procs})",
                self.max_threads
            )));
        }
        let max_procs = match self.max_procs {
            Some(n) if n < procs => {
                return Err(invalid(format!(
                    "gmp: max_procs({n}) is invalid: it must be at least procs ({procs})"
                )))
            }
            Some(n) if n > MAX_PROCS => {
                return Err(invalid(format!(
                    "gmp: max_procs({n}) is invalid: it must be at most {MAX_PROCS}"
                )))
            }
            Some(n) if n > self.max_threads => {
                return Err(invalid(format!(
                    "gmp: max_procs({n}) is invalid: it must be at most max_threads ({})",
                    self.max_threads
                )))
            }
            Some(n) => n,
            // An explicit procs: no automatic growth to plan for.
            None if decision.is_none() => procs,
            None => decision
                .as_ref()
                .map_or(procs, |d| d.cpus.min(MAX_PROCS))
                .min(self.max_threads)
                .max(procs),
        };
        // Follow the cgroup limit only when procs is the automatic default.
        let auto_procs = decision
            .as_ref()
            .and_then(|_| cgroup_root())
            .map(auto_procs);
        if self.time_slice.is_zero() {
            return Err(invalid(
                "gmp: time_slice(0) is invalid: it must be positive".into(),
            ));
        }
        if let Some(n) = self.stack_size.filter(|&n| n < MIN_STACK_SIZE) {
            return Err(invalid(format!(
                "gmp: thread_stack_size({n}) is invalid: it must be at least {MIN_STACK_SIZE} bytes"
            )));
        }
        let debug = crate::runtime::DebugFlags::from_env();
        if let (Some(d), Some(_)) = (&decision, debug.schedtrace_ms) {
            eprintln!("gmp: {}", d.describe());
        }
        // Under loom every replay of a model must steal in the same order: a fixed seed.
        #[cfg(loom)]
        let random_seed = || 0x5eed;
        #[cfg(not(loom))]
        let random_seed = crate::executor::rng::random_seed;
        let rng_seed = self.rng_seed.or(debug.seed).unwrap_or_else(random_seed);
        let sched = Sched::new(Config {
            procs,
            max_procs,
            auto_procs,
            max_threads: self.max_threads,
            time_slice: self.time_slice,
            thread_name: self.thread_name.clone(),
            stuck_rescue: self.stuck_rescue,
            wake_within_cpus: self.wake_within_cpus,
            keep_alive: self.keep_alive,
            stack_size: self.stack_size,
            debug,
            hooks: self.hooks.clone(),
            rng_seed,
            tokio: self.tokio_bridge()?,
            flight_recorder: self.flight_recorder,
        })?;
        if self.start_paused {
            sched.reactor.pause();
        }
        if let Err(e) = crate::sysmon::start(&sched) {
            // No M ever ran: fold the Ps' (empty) counts so the `Sched` is freed.
            crate::executor::sched_ref::SchedRefs::fold_all(&sched);
            return Err(e);
        }
        Ok(Runtime::from_sched(sched))
    }
}
