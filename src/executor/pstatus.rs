//! A P's status word (Go's `p.status`) and its transitions.
//!
//! ```text
//!   Idle --acquirep--> Running --entersyscall--> Syscall --exitsyscall (fast)--> Running
//!                                                    |
//!                                      sysmon retake |  (CAS Syscall -> Idle, then handoffp)
//!                                                    v
//!                                                  Idle  (exitsyscall's CAS fails: slow path)
//! ```
//!
//! Invariant: `exitsyscall` and sysmon's `retake` race on the same CAS from `Syscall`; exactly
//! one wins. The M that wins `Syscall -> Running` keeps its P; if sysmon wins `Syscall -> Idle`
//! it owns the P and hands it to another M, and the returning M must find another P (or park).
//! `Dead`: shut down, above `procs` after a resize (`sched/resize.rs`), or a reserve P not in
//! use (stuck-P rescue). A shrink may also take a P `Syscall -> Idle` itself, as retake does.
//!
//! The race is model-checked on the real code: `loom_sched::loom_sched_block_in_place_vs_sysmon_retake`.

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
