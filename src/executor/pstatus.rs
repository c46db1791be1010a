//! A P's status word (Go's `p.status`) and its transitions.
//!
//! ```text
//!   Idle --acquirep--> Running --enter_syscall--> Syscall --exit_syscall (fast)--> Running
//!                                                    |
//!                                      sysmon retake |  (CAS Syscall -> Idle, then handoff_p)
//!                                                    v
//!                                                  Idle  (exit_syscall's CAS fails: slow path)
//! ```
//!
//! Invariant: `exit_syscall` and sysmon's `retake` race on the same CAS from `Syscall`; exactly
//! one wins. The M that wins `Syscall -> Running` keeps its P; if sysmon wins `Syscall -> Idle`
//! it owns the P and hands it to another M, and the returning M must find another P (or park).
//! `Dead`: shut down, or a reserve P not in use (stuck-P rescue).

use crate::loom::sync::atomic::{AtomicU8, Ordering::*};

/// Go's `_Pidle`, `_Prunning`, `_Psyscall`, `_Pdead`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PStatus {
    Idle = 0,
    Running = 1,
    Syscall = 2,
    Dead = 3,
}

pub(crate) struct PStatusCell(AtomicU8);

impl PStatusCell {
    pub(crate) fn new(s: PStatus) -> PStatusCell {
        PStatusCell(AtomicU8::new(s as u8))
    }

    pub(crate) fn get(&self) -> PStatus {
        match self.0.load(SeqCst) {
            0 => PStatus::Idle,
            1 => PStatus::Running,
            2 => PStatus::Syscall,
            _ => PStatus::Dead,
        }
    }

    /// Plain store: for transitions made by the P's owner alone (acquire, release, enter
    /// syscall), which nobody races.
    pub(crate) fn set(&self, s: PStatus) {
        self.0.store(s as u8, SeqCst);
    }

    /// CAS `from -> to`; true if this caller made the transition.
    pub(crate) fn cas(&self, from: PStatus, to: PStatus) -> bool {
        self.0
            .compare_exchange(from as u8, to as u8, SeqCst, SeqCst)
            .is_ok()
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::loom::sync::atomic::AtomicUsize;
    use crate::loom::sync::Arc;

    /// retake vs exit_syscall: exactly one of them owns the P afterwards, and the P is never
    /// both handed off and kept.
    #[test]
    fn loom_retake_vs_exit_syscall() {
        loom::model(|| {
            let status = Arc::new(PStatusCell::new(PStatus::Running));
            let owners = Arc::new(AtomicUsize::new(0));
            // enter_syscall (owner only)
            status.set(PStatus::Syscall);
            let (s2, o2) = (status.clone(), owners.clone());
            let sysmon = loom::thread::spawn(move || {
                if s2.cas(PStatus::Syscall, PStatus::Idle) {
                    // handoff_p: the P goes to another M (acquirep)
                    assert!(s2.cas(PStatus::Idle, PStatus::Running));
                    o2.fetch_add(1, SeqCst);
                    true
                } else {
                    false
                }
            });
            let kept = status.cas(PStatus::Syscall, PStatus::Running);
            if kept {
                owners.fetch_add(1, SeqCst);
            }
            let retaken = sysmon.join().unwrap();
            assert!(kept ^ retaken, "exactly one side wins the P");
            assert_eq!(owners.load(SeqCst), 1);
            assert_eq!(status.get(), PStatus::Running);
        });
    }
}
