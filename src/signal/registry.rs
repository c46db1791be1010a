//! The process-wide signal registry: one handler for every signal gmp catches, a self-pipe
//! that carries the news to the reactor, and a list of waiting listeners per signal.
//!
//! How a signal travels: the handler ([`on_signal`]) marks the signal pending and writes one
//! byte to the self-pipe; every [`Listener`] holds its own duplicate of the pipe's read end,
//! registered on its runtime's reactor, so the byte makes every listening runtime's poll
//! report it; whichever listener runs first drains the pipe and [`dispatch`]es: it takes the
//! pending flags, bumps each such signal's generation and wakes all its waiters, on every
//! runtime. A listener reports one notification per change of its signal's generation (two
//! signals between two `recv`s coalesce into one, as in tokio).
//!
//! Invariants:
//! - The handler is async-signal-safe: the call to the handler that was installed before
//!   gmp's, atomic stores, one non-blocking `write` (a full pipe already has a reader due, so
//!   `EAGAIN` is ignored), and `errno` restored. No lock, no allocation.
//! - No signal is lost: the handler sets the pending flag *before* it writes the byte, and
//!   `dispatch` drains the pipe *before* it takes the flags, so a flag whose byte was drained
//!   is always seen.
//! - No stale signal: a new listener dispatches before it notes the current generation, so a
//!   signal that arrived before it existed is not reported to it.
//! - A waiter is registered before the generation is compared (both in `poll_recv`), and
//!   `dispatch` bumps the generation before it takes the waiters: no lost wakeup.
//! - A handler is installed once per signal number, under `INSTALL`, and never removed (a
//!   signal gmp has listened to stays caught, as in tokio). The handler that was there before
//!   is recorded *before* gmp's is installed, so it is chained from the first signal on; if
//!   it was a function it is called first, so it has run by the time any listener wakes
//!   (`SIG_DFL`/`SIG_IGN` are not emulated: a listened-to SIGINT no longer ends the
//!   process, which is the point of `ctrl_c`).
//! - In-crate code that has no task (sysmon's `GMPDEBUG=dumpsignal`) installs through
//!   [`install`] too and polls a second per-signal flag with [`take_raw`]; so gmp's own
//!   SIGUSR1 and a program's SIGUSR1 listeners coexist.
//!
//! Who may call what: [`install`], [`take_raw`], [`Listener::new_with`] and
//! [`Listener::poll_recv`] from anywhere outside a signal handler; [`dispatch`] from any
//! thread (it is what listeners call when the pipe is readable).

use crate::reactor::IoSource;
use crate::runtime::Handle;
use mio::unix::pipe::Receiver;
use std::io::{self, Read};
use std::os::fd::{AsFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

/// Signal numbers run from 1 to 64 on Linux (`SIGRTMAX`).
pub(crate) const MAX_SIGNAL: libc::c_int = 64;
const SLOTS_LEN: usize = MAX_SIGNAL as usize + 1;

/// One signal number's state.
struct Slot {
    /// gmp's handler is installed for this signal.
    installed: AtomicBool,
    /// Set by the handler, taken by `dispatch`.
    pending: AtomicBool,
    /// Set by the handler, taken by `take_raw` (in-crate pollers without a task).
    raw: AtomicBool,
    /// Bumped by `dispatch` once per batch of this signal.
    generation: AtomicU64,
    /// Listeners waiting for the next generation, by listener id.
    waiters: Mutex<Vec<(u64, Waker)>>,
    /// The handler installed before gmp's (`sa_sigaction`) and its `sa_flags`.
    prev_action: AtomicUsize,
    prev_flags: AtomicI32,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            installed: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            raw: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            waiters: Mutex::new(Vec::new()),
            prev_action: AtomicUsize::new(libc::SIG_DFL),
            prev_flags: AtomicI32::new(0),
        }
    }

    fn waiters(&self) -> MutexGuard<'_, Vec<(u64, Waker)>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

static SLOTS: [Slot; SLOTS_LEN] = [const { Slot::new() }; SLOTS_LEN];
/// The self-pipe's read end (non-blocking, close-on-exec); created under `INSTALL`.
static PIPE_READ: OnceLock<Receiver> = OnceLock::new();
/// The self-pipe's write end, for the handler; -1 until the pipe exists. Never closed.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// Serializes handler installation.
static INSTALL: Mutex<()> = Mutex::new(());
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(1);

/// The name of a signal number, for messages ("SIGINT").
pub(crate) fn name(sig: libc::c_int) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        #[cfg(any(target_os = "linux", target_os = "android"))]
        libc::SIGPWR => "SIGPWR",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

fn describe(sig: libc::c_int) -> String {
    match name(sig) {
        Some(n) => format!("{n} (signal {sig})"),
        None => format!("signal {sig}"),
    }
}

/// Refuse what gmp cannot or will not catch: out of range, `SIGKILL`/`SIGSTOP` (the kernel
/// never lets them be caught), and `SIGILL`/`SIGFPE`/`SIGSEGV` (a handler that returns from a
/// fault re-runs the faulting instruction forever; tokio refuses them too).
pub(crate) fn check(sig: libc::c_int) -> io::Result<()> {
    if !(1..=MAX_SIGNAL).contains(&sig) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gmp: signal {sig} is out of range: signal numbers run from 1 to {MAX_SIGNAL}"),
        ));
    }
    let why = match sig {
        libc::SIGKILL | libc::SIGSTOP => "it cannot be caught",
        libc::SIGILL | libc::SIGFPE | libc::SIGSEGV => {
            "it is a fault: a handler that returns re-runs the faulting instruction"
        }
        _ => return Ok(()),
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("gmp: cannot listen for {}: {why}", describe(sig)),
    ))
}

/// gmp's handler for every signal it catches. Async-signal-safe (see the module docs).
extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let errno = crate::platform::errno();
    if let Some(slot) = usize::try_from(sig).ok().and_then(|i| SLOTS.get(i)) {
        // The earlier handler first: by the time a listener wakes, it has run.
        chain(slot, sig, info, ctx);
        slot.pending.store(true, SeqCst);
        slot.raw.store(true, SeqCst);
        let fd = PIPE_WRITE.load(SeqCst);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: write(2) is async-signal-safe; the buffer is one valid byte; `fd` is the
            // self-pipe's write end, which is never closed. A failure (a full pipe) is fine.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
    }
    // Restore the interrupted code's `errno`.
    crate::platform::set_errno(errno);
}

/// Call the handler that was installed before gmp's, if it was a function.
fn chain(slot: &Slot, sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = slot.prev_action.load(SeqCst);
    let ours =
        on_signal as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
    if prev == libc::SIG_DFL || prev == libc::SIG_IGN || prev == libc::SIG_ERR || prev == ours {
        return;
    }
    if slot.prev_flags.load(SeqCst) & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO the kernel would have called `prev` as a three-argument
        // `sa_sigaction`; we pass it the arguments the kernel gave us.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(prev) };
        f(sig, info, ctx);
    } else {
        // SAFETY: without SA_SIGINFO `prev` is a one-argument `sa_handler`.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(prev) };
        f(sig);
    }
}

/// Create the self-pipe if it does not exist yet. Called under `INSTALL`.
fn ensure_pipe() -> io::Result<&'static Receiver> {
    if let Some(rx) = PIPE_READ.get() {
        return Ok(rx);
    }
    // Non-blocking and close-on-exec, both ends.
    let (tx, rx) = mio::unix::pipe::new()?;
    let _ = PIPE_READ.set(rx);
    // The write end lives as long as the process: the handler may run at any time.
    PIPE_WRITE.store(tx.into_raw_fd(), SeqCst);
    Ok(PIPE_READ.get().expect("set above"))
}

/// Install gmp's handler for `sig` (idempotent), chaining the one installed before.
pub(crate) fn install(sig: libc::c_int) -> io::Result<()> {
    check(sig)?;
    let slot = &SLOTS[sig as usize];
    if slot.installed.load(Acquire) {
        return Ok(());
    }
    let _guard = INSTALL.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.installed.load(Acquire) {
        return Ok(());
    }
    ensure_pipe()?;
    let fail = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("gmp: cannot install a handler for {}: {e}", describe(sig)),
        )
    };
    // SAFETY: a zeroed sigaction is a valid "no handler, no flags, empty mask" value, and
    // sigaction(2) with a null new action only reads the current one into `old`.
    let old = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
            return Err(fail(io::Error::last_os_error()));
        }
        old
    };
    // Record the old handler before ours can run, so the first signal already chains.
    slot.prev_flags.store(old.sa_flags, SeqCst);
    slot.prev_action.store(old.sa_sigaction, SeqCst);
    let handler = on_signal as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
    // SAFETY: as above; the handler is an `extern "C"` three-argument function (SA_SIGINFO)
    // that is async-signal-safe (module docs).
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    slot.installed.store(true, Release);
    Ok(())
}

/// True (once) after `sig` was delivered; for in-crate pollers that have no task.
pub(crate) fn take_raw(sig: libc::c_int) -> bool {
    usize::try_from(sig)
        .ok()
        .and_then(|i| SLOTS.get(i))
        .is_some_and(|slot| slot.raw.swap(false, SeqCst))
}

/// Drain the self-pipe, then hand every pending signal to its listeners: bump its
/// generation and wake its waiters.
pub(crate) fn dispatch() {
    let Some(rx) = PIPE_READ.get() else {
        return;
    };
    let mut buf = [0u8; 256];
    loop {
        match (&*rx).read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break, // WouldBlock: drained
        }
    }
    for slot in SLOTS.iter() {
        if slot.pending.load(Relaxed) && slot.pending.swap(false, SeqCst) {
            slot.generation.fetch_add(1, SeqCst);
            let waiters = std::mem::take(&mut *slot.waiters());
            for (_, waker) in waiters {
                waker.wake();
            }
        }
    }
}

/// One listener of one signal: what a `Signal` (and a child's SIGCHLD reaper) holds.
pub(crate) struct Listener {
    sig: usize,
    id: u64,
    /// The generation last reported.
    seen: u64,
    /// A duplicate of the self-pipe's read end on this listener's runtime.
    io: IoSource<Receiver>,
}

impl Listener {
    /// Install `sig`'s handler if needed and listen for it on `handle`'s reactor.
    pub(crate) fn new_with(handle: &Handle, sig: libc::c_int) -> io::Result<Listener> {
        install(sig)?;
        let rx = PIPE_READ
            .get()
            .expect("gmp: the self-pipe exists once a handler is");
        let dup: OwnedFd = rx.as_fd().try_clone_to_owned()?;
        let io = IoSource::new_with(handle, Receiver::from(dup))?;
        // Signals that arrived before this listener existed are not reported to it.
        dispatch();
        let slot = &SLOTS[sig as usize];
        Ok(Listener {
            sig: sig as usize,
            id: NEXT_LISTENER.fetch_add(1, Relaxed),
            seen: slot.generation.load(SeqCst),
            io,
        })
    }

    /// `Ready(Some(()))` once per new generation of the signal; `Ready(None)` when no more can
    /// come (the runtime this listener's pipe is registered on has shut down).
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let slot = &SLOTS[self.sig];
        {
            let mut waiters = slot.waiters();
            match waiters.iter_mut().find(|(id, _)| *id == self.id) {
                Some((_, w)) => {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                }
                None => waiters.push((self.id, cx.waker().clone())),
            }
        }
        // Drive: if the pipe is readable here, drain it and dispatch for every listener.
        let closed = matches!(
            self.io.poll_read_io(cx, |_| {
                dispatch();
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            }),
            Poll::Ready(Err(_))
        );
        let generation = slot.generation.load(SeqCst);
        if generation != self.seen {
            self.seen = generation;
            return Poll::Ready(Some(()));
        }
        if closed {
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    /// The signal number listened to.
    pub(crate) fn signal(&self) -> libc::c_int {
        self.sig as libc::c_int
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        SLOTS[self.sig].waiters().retain(|(id, _)| *id != self.id);
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("signal", &describe(self.sig as libc::c_int))
            .finish_non_exhaustive()
    }
}
