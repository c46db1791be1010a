//! The scheduler's handle on its monitor thread (`crate::sysmon`): the flags and parker
//! through which Ms ask sysmon to look (`kick`, `wake`) and shutdown stops it. It lives in
//! the executor, which fills it and calls it; the sysmon module, which reads it, depends on
//! the executor and never the reverse.

use super::park::Parker;
use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use crate::loom::sync::Mutex;
use crate::loom::thread::JoinHandle;

/// The handle the scheduler keeps on its sysmon thread.
pub(crate) struct SysmonHandle {
    pub(crate) thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) parker: Parker,
    /// Deep sleep: every P is idle; woken by `wake`.
    pub(crate) sleeping: AtomicBool,
    /// Set by `kick`: end the back-off, look again at once.
    pub(crate) kicked: AtomicBool,
    /// sysmon is sleeping longer than its minimum (backed off after idle cycles).
    pub(crate) backed_off: AtomicBool,
    /// Panics caught in sysmon, each followed by a restart.
    pub(crate) restarts: AtomicU64,
    /// Tests: panic in this many coming cycles.
    #[cfg(test)]
    pub(crate) inject_panics: std::sync::atomic::AtomicUsize,
}

impl SysmonHandle {
    pub(crate) fn new() -> SysmonHandle {
        SysmonHandle {
            thread: Mutex::new(None),
            parker: Parker::new(),
            sleeping: AtomicBool::new(false),
            kicked: AtomicBool::new(false),
            backed_off: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
            #[cfg(test)]
            inject_panics: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Something needs sysmon's attention soon (a blocking section with work queued behind
    /// it): cut the current sleep short and reset the back-off.
    #[inline]
    pub(crate) fn kick(&self) {
        // Only worth a wakeup when sysmon has backed off; at 20µs it will look soon anyway.
        if self.backed_off.load(Relaxed) && !self.kicked.swap(true, SeqCst) {
            self.parker.unpark();
        }
    }

    /// A P went from idle to running: end a deep sleep.
    #[inline]
    pub(crate) fn wake(&self) {
        if self.sleeping.load(SeqCst) {
            self.parker.unpark();
        }
    }

    /// Stop and join (called at shutdown, with the shutdown flag already set).
    pub(crate) fn stop(&self) {
        self.parker.unpark();
        let handle = lock(&self.thread).take();
        if let Some(h) = handle {
            if h.thread().id() != crate::loom::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}
