//! [`Child`]: a spawned process, awaited on the reactor.
//!
//! Invariants: `State::Running` holds the child's [`Reaper`] until the child is reaped, then
//! becomes `State::Exited` with the status (so `wait`, `try_wait` and `kill` after the exit
//! all see it, and the pidfd is closed at once). A `Child` dropped while `Running` hands its
//! reaper to the background (`reap_in_background`), after killing the child if
//! `kill_on_drop` was set: no zombie is left behind.

use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use super::reaper::{self, Reaper};
use crate::runtime::Handle;
use std::future::poll_fn;
use std::io;
use std::process::{ExitStatus, Output};
use std::task::{Context, Poll};

#[derive(Debug)]
enum State {
    Running(Reaper),
    Exited(ExitStatus),
    /// Only while being dropped.
    Gone,
}

/// A child process spawned by [`Command::spawn`](super::Command::spawn).
///
/// Its exit is awaited on the reactor ([`wait`](Child::wait)); its piped standard streams
/// are the public fields. A `Child` dropped before it was waited on is reaped in the
/// background (and killed first if [`kill_on_drop`](super::Command::kill_on_drop) was set).
///
/// ```
/// use gmp::process::Command;
///
/// gmp::block_on(async {
///     let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
///     let status = child.wait().await.unwrap();
///     assert_eq!(status.code(), Some(3));
/// });
/// ```
#[derive(Debug)]
pub struct Child {
    /// The child's stdin, when spawned with `stdin(Stdio::piped())`.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, when spawned with `stdout(Stdio::piped())`.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, when spawned with `stderr(Stdio::piped())`.
    pub stderr: Option<ChildStderr>,
    pid: u32,
    state: State,
    kill_on_drop: bool,
    handle: Handle,
}

impl Child {
    pub(crate) fn new(pid: u32, reaper: Reaper, kill_on_drop: bool, handle: Handle) -> Child {
        Child {
            stdin: None,
            stdout: None,
            stderr: None,
            pid,
            state: State::Running(reaper),
            kill_on_drop,
            handle,
        }
    }

    /// The child's process id, or `None` once it has been reaped (its pid may then belong to
    /// another process).
    pub fn id(&self) -> Option<u32> {
        match self.state {
            State::Running(_) => Some(self.pid),
            _ => None,
        }
    }

    /// Wait for the child to exit and return its status. Closes the child's stdin first (so a
    /// child reading it is not left waiting for input that cannot come).
    ///
    /// Cancel-safe, and may be called again after it returned: the status is kept.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        match &mut self.state {
            State::Running(reaper) => {
                let status = std::task::ready!(reaper.poll_reap(cx))?;
                self.state = State::Exited(status);
                Poll::Ready(Ok(status))
            }
            State::Exited(status) => Poll::Ready(Ok(*status)),
            State::Gone => unreachable!("gmp: Child used while being dropped"),
        }
    }

    /// The child's status if it has exited (reaping it), else `None`; never waits.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match &self.state {
            State::Running(reaper) => {
                let status = reaper.try_reap()?;
                if let Some(status) = status {
                    self.state = State::Exited(status);
                }
                Ok(status)
            }
            State::Exited(status) => Ok(Some(*status)),
            State::Gone => unreachable!("gmp: Child used while being dropped"),
        }
    }

    /// Send `SIGKILL` to the child without waiting for it to exit. `Ok` if it has already
    /// exited (reaped or not).
    pub fn start_kill(&mut self) -> io::Result<()> {
        match self.state {
            State::Running(_) => kill(self.pid),
            _ => Ok(()),
        }
    }

    /// Kill the child (`SIGKILL`) and wait for it. `Ok` if it had already exited; a later
    /// [`wait`](Child::wait) returns the status (killed by signal 9, unless it exited first).
    ///
    /// ```
    /// use gmp::process::Command;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// gmp::block_on(async {
    ///     let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    ///     child.kill().await.unwrap();
    ///     assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    /// });
    /// ```
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Close stdin, read all of stdout and stderr while waiting for the child, and return
    /// them with its status. Streams that were not piped (or were taken) come back empty.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (mut out, mut err) = (self.stdout.take(), self.stderr.take());
        let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
        poll_fn(|cx| {
            let out_done = poll_read_all(&mut out, &mut out_buf, cx)?.is_ready();
            let err_done = poll_read_all(&mut err, &mut err_buf, cx)?.is_ready();
            if out_done && err_done {
                Poll::Ready(Ok::<(), io::Error>(()))
            } else {
                Poll::Pending
            }
        })
        .await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: out_buf,
            stderr: err_buf,
        })
    }
}

/// Read `pipe` to its end into `buf`; the pipe becomes `None` at end-of-file.
fn poll_read_all<R: futures_io::AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let Some(r) = pipe else {
        return Poll::Ready(Ok(()));
    };
    let mut chunk = [0u8; 8192];
    loop {
        match std::pin::Pin::new(&mut *r).poll_read(cx, &mut chunk) {
            Poll::Ready(Ok(0)) => {
                *pipe = None;
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// `SIGKILL` to a child that has not been reaped (so its pid is still ours).
fn kill(pid: u32) -> io::Result<()> {
    // SAFETY: kill(2) takes plain integers. The pid is our unreaped child's: not reusable.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // Gone already (reaped by someone else): nothing to kill.
        Some(libc::ESRCH) => Ok(()),
        _ => Err(e),
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let State::Running(reaper) = std::mem::replace(&mut self.state, State::Gone) {
            if self.kill_on_drop {
                let _ = kill(self.pid);
            }
            reaper::reap_in_background(reaper, &self.handle);
        }
    }
}
