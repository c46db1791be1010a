//! Child processes on the scheduler: Go's `os/exec`, with tokio's names ([`Command`],
//! [`Child`], [`ChildStdin`], [`ChildStdout`], [`ChildStderr`]).
//!
//! ```
//! use gmp::process::Command;
//!
//! gmp::block_on(async {
//!     let out = Command::new("echo").arg("hello").output().await.unwrap();
//!     assert!(out.status.success());
//!     assert_eq!(out.stdout, b"hello\n");
//! });
//! ```
//!
//! How a child is watched:
//! - **pidfd** (Linux ≥ 5.3): right after the spawn gmp opens the child's pidfd and
//!   registers it on the reactor; it becomes readable when the child exits, and the task in
//!   [`Child::wait`] then reaps it with `waitpid(pid, WNOHANG)`. No signal handler, no
//!   thread, one descriptor per child.
//! - **SIGCHLD reaper**, when the kernel refuses `pidfd_open` (`ENOSYS` on old kernels,
//!   `EPERM` under some sandboxes; from the first refusal on): each waiting child listens for
//!   SIGCHLD through `gmp::signal` and tries `waitpid(pid, WNOHANG)` on each delivery.
//!   `GMP_NO_PIDFD=1` in the environment (read once, at the first spawn) forces this path.
//!   It installs gmp's SIGCHLD handler (`SA_RESTART`) for the rest of the process, as
//!   listening for any signal does; the pidfd path installs none.
//!
//! Invariants and rules:
//! - gmp reaps only its own children, by pid (`waitpid(pid)`, never `waitpid(-1)`), so
//!   children made with `std::process` elsewhere in the program are left alone.
//! - No zombie is left: a [`Child`] dropped without being waited on is reaped in the
//!   background by a detached task (moved to the global runtime if its own runtime shuts
//!   down first); with [`Command::kill_on_drop`] it is killed first.
//! - Killing a child that has already exited is `Ok`; `wait` after `kill` gives the status
//!   "killed by signal 9".
//! - `spawn` itself (fork and exec) runs in a blocking section, like Go's `forkExec`: a slow
//!   exec has its P handed to another M rather than stalling the P's queue.
//! - A child and its pipes belong to the runtime that spawned it (the global one when spawned
//!   outside any runtime); they may be awaited from any task, on any runtime.

mod child;
mod pidfd;
mod pipe;
mod reaper;

pub use child::Child;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

use crate::runtime::Handle;
use std::ffi::OsStr;
use std::io;
use std::path::Path;

/// A process builder: std's [`std::process::Command`], whose children are awaited on the
/// reactor.
///
/// ```
/// use gmp::process::{Command, Stdio};
///
/// gmp::block_on(async {
///     let status = Command::new("sh")
///         .args(["-c", "test \"$GREETING\" = hi"])
///         .env("GREETING", "hi")
///         .stdout(Stdio::null())
///         .status()
///         .await
///         .unwrap();
///     assert!(status.success());
/// });
/// ```
#[derive(Debug)]
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` if it has no `/`), with no
    /// arguments, the parent's environment and working directory, and inherited stdio.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Add one argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Add arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Set an environment variable for the child.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Set environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Remove an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Start the child with an empty environment (plus what [`env`](Command::env) adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// The child's working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's stdin: `Stdio::piped()` makes [`Child::stdin`] a [`ChildStdin`].
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self
    }

    /// The child's stdout: `Stdio::piped()` makes [`Child::stdout`] a [`ChildStdout`].
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// The child's stderr: `Stdio::piped()` makes [`Child::stderr`] a [`ChildStderr`].
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Kill (`SIGKILL`) the child when its [`Child`] is dropped before it was waited on (it
    /// is then reaped in the background). Off by default: a dropped `Child` keeps running
    /// and is only reaped.
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Whether [`kill_on_drop`](Command::kill_on_drop) is set.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// The underlying std builder (for settings this type has no method for: `uid`, `gid`,
    /// `process_group`, `arg0`, …).
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The underlying std builder, mutably.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Start the child. It belongs to the current runtime (the global one outside any
    /// runtime).
    ///
    /// # Errors
    /// The OS's error: `NotFound` for a program that does not exist, `PermissionDenied`
    /// for one that is not executable, …
    ///
    /// ```
    /// let err = gmp::process::Command::new("/no/such/program").spawn().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        reaper::reap_orphans();
        let handle =
            Handle::try_current().unwrap_or_else(|_| crate::runtime::global_handle().clone());
        let std = &mut self.std;
        let mut child = crate::executor::syscall::block_in_place(|| std.spawn())?;
        let pid = child.id();
        let reaper = match reaper::Reaper::new(&handle, pid as libc::pid_t) {
            Ok(reaper) => reaper,
            Err(e) => {
                // Nothing to watch it with (out of descriptors): do not leave it running.
                let _ = child.kill();
                let _ = crate::executor::syscall::block_in_place(|| child.wait());
                return Err(e);
            }
        };
        let mut ours = Child::new(pid, reaper, self.kill_on_drop, handle.clone());
        // On an error below, `ours` is dropped: the child is reaped in the background.
        ours.stdin = child
            .stdin
            .take()
            .map(|s| ChildStdin::new_with(&handle, s))
            .transpose()?;
        ours.stdout = child
            .stdout
            .take()
            .map(|s| ChildStdout::new_with(&handle, s))
            .transpose()?;
        ours.stderr = child
            .stderr
            .take()
            .map(|s| ChildStderr::new_with(&handle, s))
            .transpose()?;
        Ok(ours)
    }

    /// Run the child to completion, collecting its stdout and stderr (both piped; stdin is
    /// as configured, inherited by default).
    pub async fn output(&mut self) -> io::Result<Output> {
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        self.spawn()?.wait_with_output().await
    }

    /// Run the child to completion and return its status. Piped streams are closed first.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        drop(child.stdin.take());
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().await
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
        }
    }
}

/// Whether children are watched through pidfds (`false`: the SIGCHLD reaper). For tests.
#[doc(hidden)]
pub fn __pidfd_in_use() -> bool {
    pidfd::enabled()
}
