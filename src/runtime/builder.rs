//! `Builder`: configure and start a runtime.

use super::Runtime;
use crate::executor::sched::{Config, Sched};
use std::io;
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
    max_threads: usize,
    time_slice: Duration,
    thread_name: String,
    stuck_rescue: bool,
    keep_alive: Duration,
    stack_size: Option<usize>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// `procs` from the environment: `GMAXPROCS` if set, else the number of CPUs.
fn default_procs() -> io::Result<usize> {
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
                Ok(n) => Ok(n),
                Err(_) => Err(invalid(format!(
                    "gmp: GMAXPROCS={s:?} is invalid: expected a positive integer"
                ))),
            }
        }
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

impl Builder {
    /// Defaults: `procs` from `GMAXPROCS` or the CPU count, `max_threads` 10,000 (Go's limit),
    /// a 10ms time slice, threads named `gmp-m<N>`.
    pub fn new() -> Builder {
        Builder {
            procs: None,
            max_threads: 10_000,
            time_slice: Duration::from_millis(10),
            thread_name: "gmp".to_string(),
            stuck_rescue: true,
            keep_alive: Duration::from_secs(10),
            stack_size: None,
        }
    }

    /// Number of Ps: how many tasks run in parallel (Go's `GOMAXPROCS`). Overrides `GMAXPROCS`.
    pub fn procs(&mut self, n: usize) -> &mut Self {
        self.procs = Some(n);
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
    /// to `procs` extra running Ms. Off: such work waits until the stuck poll returns.
    pub fn stuck_rescue(&mut self, on: bool) -> &mut Self {
        self.stuck_rescue = on;
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
        let procs = match self.procs {
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
            Some(n) => n,
            None => default_procs()?,
        };
        if self.max_threads < procs {
            return Err(invalid(format!(
                "gmp: max_threads({}) is invalid: it must be at least procs ({procs})",
                self.max_threads
            )));
        }
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
        let sched = Sched::new(Config {
            procs,
            max_threads: self.max_threads,
            time_slice: self.time_slice,
            thread_name: self.thread_name.clone(),
            stuck_rescue: self.stuck_rescue,
            keep_alive: self.keep_alive,
            stack_size: self.stack_size,
            debug: crate::runtime::DebugFlags::from_env(),
        })?;
        crate::sysmon::start(&sched)?;
        Ok(Runtime::from_sched(sched))
    }
}
