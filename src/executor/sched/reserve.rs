//! Reserve Ps: `allp[max_procs..]` (after every P a resize may bring up), lent by sysmon's stuck-P rescue (`crate::sysmon`) to run the
//! work queued behind a poll that never returns, and given back when it returns. A reserve P
//! is `Dead` while not lent; lending is a CAS `Dead -> Running`, so two rescues never lend the
//! same P.

use super::Sched;
use crate::executor::p::PStatus;
use crate::loom::sync::atomic::Ordering::*;

impl Sched {
    /// Lend a reserve P for stuck-P rescue (at most `max_procs` at once).
    pub(crate) fn activate_reserve(&self) -> Option<usize> {
        for p in self.max_procs()..self.allp.len() {
            if self.allp[p].status.cas(PStatus::Dead, PStatus::Running) {
                self.allp[p].retire.store(false, SeqCst);
                self.rescues_active.fetch_add(1, SeqCst);
                return Some(p);
            }
        }
        None
    }

    /// Reserve P `p` goes back to the reserve: `Dead` again, and no longer counted lent.
    pub(crate) fn return_reserve(&self, p: usize) {
        self.allp[p].set_status(PStatus::Dead);
        self.rescues_active.fetch_sub(1, SeqCst);
    }

    pub(crate) fn rescues_active(&self) -> usize {
        self.rescues_active.load(SeqCst)
    }
}
