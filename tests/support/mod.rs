//! Helpers shared by the integration tests (`#[path = "support/mod.rs"] mod support;`; cargo
//! does not build files in a subdirectory of `tests/` as test targets).

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Run `body` on its own thread and fail if it does not finish within `limit`; a panic in
/// `body` is re-raised as it was.
pub fn with_deadline<T: Send + 'static>(
    limit: Duration,
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let out = body();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        // The body panicked: re-raise its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(_) => unreachable!(),
            Err(p) => std::panic::resume_unwind(p),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung for {limit:?}"),
    }
}

/// Poll `cond` every millisecond until it holds, failing after `limit`.
#[allow(dead_code)] // not every test binary waits on a condition
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Run this test binary again as a child process, running only the test named `entry` with
/// `var=scenario` in its environment (`configure` may add limits, a uid, …); fail if it
/// hangs past `limit` or fails, or if it does not print `scenario <name> ok`. Returns its
/// stdout and stderr.
#[allow(dead_code)] // not every test binary runs children
pub fn run_child(
    entry: &str,
    var: &str,
    scenario: &str,
    limit: Duration,
    configure: impl FnOnce(&mut std::process::Command),
) -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    run_child_exe(&exe, entry, var, scenario, limit, configure)
}

/// [`run_child`] with another copy of this test binary (one another user may execute).
#[allow(dead_code)]
pub fn run_child_exe(
    exe: &std::path::Path,
    entry: &str,
    var: &str,
    scenario: &str,
    limit: Duration,
    configure: impl FnOnce(&mut std::process::Command),
) -> (String, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env(var, scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "scenario {scenario} hung for {limit:?}; stderr:\n{}",
                err_reader.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = err_reader.join().unwrap();
    let stdout = out_reader.join().unwrap();
    assert!(
        status.success(),
        "scenario {scenario} failed ({status}); stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("scenario {scenario} ok")),
        "scenario {scenario} did not finish; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// Run `body()` as a task of a fresh 2-P runtime, failing if it takes longer than 120 s.
#[allow(dead_code)] // not every test binary runs its bodies this way
pub fn run_task<F, Fut>(what: &str, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    with_deadline(Duration::from_secs(120), what, move || {
        let rt = gmp::Runtime::builder().procs(2).build().unwrap();
        rt.block_on(async move { gmp::spawn(body()).await.unwrap() });
    });
}

/// A seeded xorshift64 generator, for tests that replay a load from a printed seed (the seed
/// must not be 0).
#[allow(dead_code)] // not every test binary draws random numbers
pub struct Rng(pub u64);

#[allow(dead_code)]
impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
