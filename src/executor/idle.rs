//! The spinning handshake: the idle P and M lists, the idle-P count and the spinning-M count
//! (Go's `sched.pidle`, `sched.midle`, `sched.npidle`, `sched.nmspinning`,
//! `sched.needspinning`), and the moves on them that must never lose a wakeup — `wakep`,
//! `give_up_p` and the re-check after it ("the delicate dance" of Go's `findRunnable`).
//!
//! The protocol, in Go's terms:
//! - **Work producer**: publish the G (global queue push), then
//!   [`IdleState::wakep_after_push`] — a SeqCst fence, then `wakep`: if no M spins and a P is idle, claim the spinner slot (CAS
//!   `nmspinning` 0 → 1) and take an idle P for a new spinning M. If no P is idle, set
//!   `needspinning` instead: the next M about to give up its P keeps it and spins.
//! - **M out of work** ([`IdleState::give_up_p`], then [`IdleState::recheck`]): under the idle
//!   lock, take global work if any, or keep the P to spin if `needspinning`; else publish the P
//!   idle (`npidle += 1`). Then stop spinning (`nmspinning -= 1`) or just fence, and only then
//!   look at the global queue (and, for the last spinner, every ring) again; if work appeared,
//!   take an idle P back for it.
//!
//! Why no wakeup is lost: the producer's fence and the M's fence are totally ordered. If the
//! M's comes first, the producer sees the idle P (and no spinner) and starts an M; if the
//! producer's comes first, the M's re-check sees the work. A spinner that leaves is a spinner
//! a producer may have counted on (`nmspinning != 0`: it returned without waking anyone), so
//! it re-checks everything after its decrement.
//!
//! Invariants: `npidle` is the length of the idle P list (changed under the lock);
//! `nmspinning` counts the Ms spinning plus the spinner slots claimed for Ms being started,
//! and every claim is released exactly once (the M stops spinning, or the start fails).
//! The queues themselves are the scheduler's ([`Queues`]), so this type is model-checked with
//! fakes (`loom_*` tests below).

// Under loom only the models use this module: the scheduler's parts of it go unused.
#![cfg_attr(loom, allow(dead_code))]

use crate::loom::lock;
use crate::loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::{Mutex, MutexGuard};

/// Where the handshake looks for work: the scheduler's queues.
pub(crate) trait Queues {
    /// The global run queue is not empty.
    fn global_nonempty(&self) -> bool;
    /// Some P's ring or runnext is not empty.
    fn rings_nonempty(&self) -> bool;
    /// P `p`'s own queue is not empty (an idle P can hold work when no M could be started
    /// for it): `pidleget` hands out such a P first.
    fn has_local_work(&self, p: usize) -> bool;
    /// The number of Ps now (`procs`; a relaxed read, see `Sched::procs`).
    fn procs(&self) -> usize;
}

/// What `sched.lock` guards in Go: the idle P list and the idle M list; and gmp's claim on
/// the M blocked in the poll.
pub(crate) struct Idle<M> {
    pub(crate) pidle: Vec<usize>,
    pub(crate) midle: Vec<M>,
    /// A `startm` found no idle M and broke the poll for the M blocked there to take its P:
    /// set until that M's [`IdleState::pidleget_after_poll`]. The poller takes one P, so a
    /// second `startm` must not count on it (it starts an M).
    pub(crate) poll_claim: Option<PollClaim>,
}

/// A `startm`'s claim on the M blocked in the poll (see [`Idle::poll_claim`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PollClaim {
    /// The `startm` wanted a spinning M: the poller spins once it holds the P.
    pub(crate) spinning: bool,
    /// A reserve P lent by stuck-P rescue, handed to the poller here. A P of the runtime's
    /// own goes on the idle list for the poller to `pidleget`; a reserve P never does (any M
    /// would take it there, and the idle counts are of the `procs` Ps), so before this field
    /// a rescue whose only free M was the poller put its P straight back in the reserve and
    /// left the poller parked, with nobody in the poll.
    pub(crate) reserve: Option<usize>,
}

/// Outcome of [`IdleState::give_up_p`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReleaseStep {
    /// The global queue has work: keep the P and take it.
    Global,
    /// Keep the P and start spinning: a `wakep` found no idle P (`needspinning`).
    Spin,
    /// The P is on the idle list now: go on with [`IdleState::recheck`].
    Released,
}

/// The idle lists and the counts of the spinning handshake (see the module docs).
pub(crate) struct IdleState<M> {
    lists: Mutex<Idle<M>>,
    npidle: AtomicUsize,
    nmspinning: AtomicUsize,
    /// Set when `wakep` wanted a spinning M but found no idle P (Go's `sched.needspinning`).
    needspinning: AtomicBool,
    /// The CPUs the process may run on (`usize::MAX`: no limit): `wakep` starts no M while
    /// the Ps held by Ms already take that many ([`IdleState::room`]).
    cpus: AtomicUsize,
}

impl<M> IdleState<M> {
    /// `procs` Ps, all idle; no M; `wakep` limited to `cpus` held Ps (`usize::MAX`: no
    /// limit).
    pub(crate) fn new(procs: usize, cpus: usize) -> IdleState<M> {
        IdleState {
            lists: Mutex::new(Idle {
                pidle: (0..procs).rev().collect(),
                midle: Vec::new(),
                poll_claim: None,
            }),
            npidle: AtomicUsize::new(procs),
            nmspinning: AtomicUsize::new(0),
            needspinning: AtomicBool::new(false),
            cpus: AtomicUsize::new(cpus.max(1)),
        }
    }

    /// The CPUs the process may run on, as last set.
    pub(crate) fn cpus(&self) -> usize {
        self.cpus.load(Relaxed)
    }

    /// The CPU count changed (sysmon re-reads the affinity mask).
    pub(crate) fn set_cpus(&self, cpus: usize) {
        self.cpus.store(cpus.max(1), Relaxed);
    }

    /// Whether `wakep` may start an M: a P is idle, and the Ps held by Ms (running,
    /// spinning, or in a blocking section not yet retaken) take fewer than the CPUs.
    ///
    /// With `procs` at most the CPU count this is `npidle != 0`, Go's rule. With more Ps than
    /// CPUs (`procs = 16` in a 2-CPU container), Go starts a spinning M for every idle P's
    /// worth of work; the kernel queues that thread behind a busy one, the CPU whose M just
    /// parked cannot pull it (it ran too recently to migrate), and a CPU sits idle while an
    /// M waits for one (`tcp_echo` at 16 Ps on 2 CPUs: 1.22 CPUs used; BENCHMARKS.md). So
    /// once the held Ps fill the CPUs, `wakep` treats the runtime as having no idle P: it
    /// sets `needspinning`, and the next M out of work, already on a CPU, keeps its P and
    /// spins instead. Nothing waits on the limit for long: a P in a blocking section is
    /// retaken and handed off (`handoffp`, not limited), and work behind a poll that does
    /// not return is rescued by sysmon, which sees such work as stranded ([`Self::room`]
    /// false, nobody spinning).
    pub(crate) fn room(&self, procs: usize) -> bool {
        self.startable(procs) != 0
    }

    /// How many idle Ps Ms could be started on now: the idle Ps, but no more than the CPUs
    /// the held Ps leave free ([`IdleState::room`]). `injectglist` puts that many readied
    /// tasks on the global queue for them, Go's `npidle` there.
    pub(crate) fn startable(&self, procs: usize) -> usize {
        let npidle = self.npidle.load(SeqCst);
        if npidle == 0 {
            return 0; // every P held: the common busy case, without the CPU count's load
        }
        let held = procs.saturating_sub(npidle);
        npidle.min(self.cpus.load(Relaxed).saturating_sub(held))
    }

    /// Take `sched.lock`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Idle<M>> {
        lock(&self.lists)
    }

    /// Idle Ps.
    pub(crate) fn npidle(&self) -> usize {
        self.npidle.load(SeqCst)
    }

    /// Spinning Ms (and spinner slots claimed for Ms being started).
    pub(crate) fn nmspinning(&self) -> usize {
        self.nmspinning.load(SeqCst)
    }

    /// Relaxed read of `needspinning`, for scheddetail and sysmon.
    pub(crate) fn needspinning(&self) -> bool {
        self.needspinning.load(Relaxed)
    }

    /// Go's `pidleget`: take an idle P — one with queued work first. (A P can sit idle with
    /// work when no M could be started for it: `max_threads` reached, or the work was left for
    /// the M blocked in the poll; whoever takes a P next must take that one.)
    pub(crate) fn pidleget(&self, idle: &mut Idle<M>, q: &impl Queues) -> Option<usize> {
        let i = idle
            .pidle
            .iter()
            .rposition(|&p| q.has_local_work(p))
            .unwrap_or(idle.pidle.len().checked_sub(1)?);
        let p = idle.pidle.swap_remove(i);
        self.npidle.fetch_sub(1, SeqCst);
        Some(p)
    }

    /// `pidleget` under a lock of its own.
    pub(crate) fn pidleget_locked(&self, q: &impl Queues) -> Option<usize> {
        self.pidleget(&mut self.lock(), q)
    }

    /// The M that was blocked in the poll takes an idle P (Go's `findRunnable` after
    /// `netpoll(delay)`), and with it any claim a `startm` put on it: returns the P (the
    /// claim's reserve P, if it handed one), and whether that `startm` wanted a spinning M
    /// (the caller then spins).
    pub(crate) fn pidleget_after_poll(&self, q: &impl Queues) -> (Option<usize>, bool) {
        let mut idle = self.lock();
        let claim = idle.poll_claim.take();
        let p = claim
            .and_then(|c| c.reserve)
            .or_else(|| self.pidleget(&mut idle, q));
        (p, claim.is_some_and(|c| c.spinning))
    }

    /// The poller is leaving for good (shutdown): end its claim, returning a reserve P it was
    /// handed.
    pub(crate) fn drop_poll_claim(&self) -> Option<usize> {
        self.lock().poll_claim.take().and_then(|c| c.reserve)
    }

    /// Go's `pidleput`: publish P `p` as idle.
    pub(crate) fn pidleput(&self, idle: &mut Idle<M>, p: usize) {
        invariant!(!idle.pidle.contains(&p), "pidleput: P{p} is already idle");
        idle.pidle.push(p);
        self.npidle.fetch_add(1, SeqCst);
    }

    /// Take P `p` off the idle list if it is there (a resize shrinking the runtime below it).
    pub(crate) fn pidle_remove(&self, idle: &mut Idle<M>, p: usize) -> bool {
        let Some(i) = idle.pidle.iter().position(|&q| q == p) else {
            return false;
        };
        idle.pidle.swap_remove(i);
        self.npidle.fetch_sub(1, SeqCst);
        true
    }

    /// An M starts spinning (its spinner slot may have been claimed already by `wakep`'s CAS:
    /// then the caller is that M and does not call this).
    pub(crate) fn become_spinning(&self) {
        self.nmspinning.fetch_add(1, SeqCst);
        self.needspinning.store(false, Relaxed);
    }

    /// A spinning M stops spinning; returns after the SeqCst decrement and a SeqCst fence, so
    /// the caller's next look at the queues is ordered after it.
    pub(crate) fn stop_spinning(&self) {
        self.nmspinning.fetch_sub(1, SeqCst);
        fence(SeqCst);
    }

    /// A spinning start that did not happen (no M could be started): release its slot.
    pub(crate) fn unclaim_spinning(&self) {
        self.nmspinning.fetch_sub(1, SeqCst);
    }

    /// Go's spinning cap: don't start spinning when half the busy Ps' worth of Ms already spin.
    pub(crate) fn may_spin(&self, procs: usize) -> bool {
        // (A resize changes `procs` and the idle list under the lock; read racily, the two may
        // disagree for a moment.)
        let busy = procs.saturating_sub(self.npidle.load(SeqCst));
        2 * self.nmspinning.load(SeqCst) < busy
    }

    /// Go's `wakep`, up to `startm`: if there is an idle P and no spinning M, claim the spinner
    /// slot and return the idle P for the caller to start a spinning M on. With no idle P (or
    /// none a CPU is free for: [`IdleState::room`]), set `needspinning`: the next M to release
    /// its P spins instead, and a P that `handoffp` puts idle gets a spinning M
    /// ([`IdleState::needspinning_after_pidleput`]).
    ///
    /// After publishing work to the global queue, use [`IdleState::wakep_after_push`].
    pub(crate) fn wakep(&self, q: &impl Queues) -> Option<usize> {
        if self.nmspinning.load(SeqCst) != 0 {
            return None;
        }
        if !self.room(q.procs()) {
            if self.needspinning.load(Relaxed) {
                return None; // whoever set it made the check below
            }
            self.needspinning.store(true, SeqCst);
            // Store, fence, look again: a `handoffp` that published a P idle meanwhile and
            // then missed the flag (`needspinning_after_pidleput`) is seen here. Go does not
            // pair the two (its handoffp ignores `needspinning`) and relies on the next
            // preemption; gmp cannot preempt a task that never yields.
            fence(SeqCst);
            if !self.room(q.procs()) {
                return None;
            }
        }
        if self
            .nmspinning
            .compare_exchange(0, 1, SeqCst, Relaxed)
            .is_err()
        {
            return None;
        }
        let p = self.pidleget_locked(q);
        if p.is_none() {
            // The idle P was taken meanwhile (its new owner will look at the queues).
            self.nmspinning.fetch_sub(1, SeqCst);
            self.needspinning.store(true, SeqCst);
        }
        p
    }

    /// The producer's half of the handshake: the caller just published a G where any M looks
    /// (the global queue); fence (SeqCst), so the `wakep` loads are ordered after the push,
    /// then `wakep`.
    pub(crate) fn wakep_after_push(&self, q: &impl Queues) -> Option<usize> {
        fence(SeqCst);
        self.wakep(q)
    }

    /// The producer's half for tasks that reached a ring out of sight of spinners (moved there
    /// from the global queue by `globrunqget`): fence, then `wakep` only if a P is idle. A
    /// spinner that missed them stopped spinning and published its P idle before its last
    /// look, so one of the two sees the other: this sees the idle P, or its `recheck` sees
    /// the ring. With no idle P every P's M will look at its own ring: no `needspinning`.
    pub(crate) fn wakep_after_ring_push(&self, q: &impl Queues) -> Option<usize> {
        fence(SeqCst);
        if self.npidle.load(SeqCst) == 0 {
            return None;
        }
        self.wakep(q)
    }

    /// A P was just published idle outside `give_up_p` (which honours `needspinning` under the
    /// lock): fence, then whether a `wakep` that found no idle P wanted a spinner. Pairs with
    /// `wakep`'s store, fence, re-load of `npidle`: one of the two sees the other.
    pub(crate) fn needspinning_after_pidleput(&self) -> bool {
        fence(SeqCst);
        self.needspinning.load(SeqCst)
    }

    /// `handoffp`'s "nobody is looking for work": with no spinning M and no idle P, claim the
    /// spinner slot for the handed-off P's new M.
    pub(crate) fn claim_spinning_if_nobody_looks(&self) -> bool {
        self.nmspinning.load(SeqCst) + self.npidle.load(SeqCst) == 0
            && self
                .nmspinning
                .compare_exchange(0, 1, SeqCst, Relaxed)
                .is_ok()
    }

    /// An M out of work gives up its P (Go's `releasep` + `pidleput` under `sched.lock`),
    /// unless the global queue has work or an M is wanted spinning. `put` publishes the P
    /// idle (the scheduler's `pidleput`: P status, then [`IdleState::pidleput`]).
    ///
    /// After `Released`, the M must call [`IdleState::recheck`].
    pub(crate) fn give_up_p(
        &self,
        spinning: bool,
        q: &impl Queues,
        put: impl FnOnce(&Self, &mut Idle<M>),
    ) -> ReleaseStep {
        let mut idle = self.lock();
        if q.global_nonempty() {
            return ReleaseStep::Global;
        }
        if !spinning && self.needspinning.load(SeqCst) {
            return ReleaseStep::Spin;
        }
        put(self, &mut idle);
        ReleaseStep::Released
    }

    /// The delicate dance, after `give_up_p` published the P idle: stop spinning (if the M
    /// was) or fence, then look again — at the global queue, and for a former spinner at every
    /// ring — and if work appeared take an idle P back for it (the caller acquires it, spinning
    /// again if it was). `None`: nothing to do, go poll or park.
    pub(crate) fn recheck(&self, was_spinning: bool, q: &impl Queues) -> Option<usize> {
        if was_spinning {
            self.stop_spinning();
        } else {
            fence(SeqCst);
        }
        if q.global_nonempty() {
            if let Some(p) = self.pidleget_locked(q) {
                return Some(p);
            }
        }
        if was_spinning && q.rings_nonempty() {
            return self.pidleget_locked(q);
        }
        None
    }
}

#[cfg(all(test, not(loom)))]
mod cpu_limit_tests {
    use super::*;

    /// No queued work anywhere: `pidleget` takes the last idle P.
    struct NoWork(usize);

    impl Queues for NoWork {
        fn global_nonempty(&self) -> bool {
            false
        }
        fn rings_nonempty(&self) -> bool {
            false
        }
        fn has_local_work(&self, _: usize) -> bool {
            false
        }
        fn procs(&self) -> usize {
            self.0
        }
    }

    /// 16 Ps on 2 CPUs: `wakep` fills the CPUs with Ms, then asks the next M out of work to
    /// spin (`needspinning`) instead of starting one for an idle P; a P given back makes room.
    #[test]
    fn wakep_starts_no_m_beyond_the_cpus() {
        let q = NoWork(16);
        let s = IdleState::<()>::new(16, 2);
        assert_eq!(s.startable(16), 2);
        let a = s.wakep(&q).expect("a CPU is free: start a spinning M");
        assert_eq!(s.startable(16), 1);
        s.stop_spinning(); // it found work and runs it
        let b = s.wakep(&q).expect("the second CPU is free");
        assert_ne!(a, b);
        s.stop_spinning();
        assert_eq!((s.npidle(), s.startable(16)), (14, 0));
        assert!(!s.room(16));
        assert_eq!(s.wakep(&q), None, "both CPUs are taken: no M is started");
        assert!(s.needspinning(), "the next M out of work must spin instead");
        // That M keeps its P (`give_up_p` says Spin) ...
        assert_eq!(
            s.give_up_p(false, &q, |s, idle| s.pidleput(idle, a)),
            ReleaseStep::Spin
        );
        s.become_spinning();
        assert!(!s.needspinning());
        // ... and, finding nothing, gives it up: a CPU is free again.
        s.stop_spinning();
        assert_eq!(
            s.give_up_p(true, &q, |s, idle| s.pidleput(idle, a)),
            ReleaseStep::Released
        );
        assert!(s.room(16));
        assert!(s.wakep(&q).is_some());
    }

    /// With `procs` at most the CPU count the limit never binds: `room` is Go's `npidle != 0`.
    #[test]
    fn the_limit_is_gos_rule_when_procs_fit_the_cpus() {
        let q = NoWork(2);
        let s = IdleState::<()>::new(2, 2);
        for held in 0..=2 {
            assert_eq!(s.startable(2), s.npidle(), "{held} held");
            assert_eq!(s.room(2), s.npidle() != 0);
            let _ = s.pidleget_locked(&q);
        }
        let unlimited = IdleState::<()>::new(16, usize::MAX);
        assert_eq!(unlimited.startable(16), 16);
        // A CPU count of zero (a broken read) is taken as one: one M may still run.
        let zero = IdleState::<()>::new(4, 0);
        assert_eq!((zero.cpus(), zero.startable(4)), (1, 1));
    }
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use crate::loom::sync::Arc;
    use loom::thread;

    /// Fake queues: a count of Gs on the global queue and one per P ring, with the orderings
    /// of the real ones (the global queue publishes a push and is checked with SeqCst; the
    /// ring's tail is stored Release and loaded Acquire).
    struct Q {
        global: AtomicUsize,
        rings: [AtomicUsize; 2],
    }

    impl Q {
        fn new() -> Q {
            Q {
                global: AtomicUsize::new(0),
                rings: [AtomicUsize::new(0), AtomicUsize::new(0)],
            }
        }

        /// `globrunqget`: take one G if there is one.
        fn take_global(&self) -> bool {
            self.global
                .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                .is_ok()
        }
    }

    impl Queues for Q {
        fn global_nonempty(&self) -> bool {
            self.global.load(SeqCst) != 0
        }
        fn rings_nonempty(&self) -> bool {
            self.rings.iter().any(|r| r.load(Acquire) != 0)
        }
        fn has_local_work(&self, p: usize) -> bool {
            self.rings[p].load(Acquire) != 0
        }
        fn procs(&self) -> usize {
            self.rings.len()
        }
    }

    /// Sched's `inject`: push to the global queue, then `wakep_after_push`. Returns the P a
    /// spinning M was started on, if any.
    fn inject(s: &IdleState<()>, q: &Q) -> Option<usize> {
        q.global.fetch_add(1, SeqCst);
        s.wakep_after_push(q)
    }

    /// Two Ps, both taken off the idle list by their Ms, and one M spinning.
    fn two_ps_held_one_spinning() -> (Arc<IdleState<()>>, Arc<Q>) {
        let s = Arc::new(IdleState::<()>::new(2, usize::MAX));
        let q = Arc::new(Q::new());
        let mut idle = s.lock();
        assert_eq!(s.pidleget(&mut idle, &*q), Some(0));
        assert_eq!(s.pidleget(&mut idle, &*q), Some(1));
        drop(idle);
        s.become_spinning();
        (s, q)
    }

    /// Sched's `pidleput` (the P-status store left out).
    fn put(s: &IdleState<()>, idle: &mut Idle<()>, p: usize) {
        s.pidleput(idle, p);
    }

    /// What an M holding a P does once `find_runnable` found nothing: `give_up_p`, and if the
    /// P went idle, the re-check. Returns the P it holds afterwards (kept or taken back) and
    /// whether it is spinning; `None`: it goes to poll/park without a P.
    fn give_up_p(s: &IdleState<()>, q: &Q, p: usize, spinning: bool) -> Option<(usize, bool)> {
        match s.give_up_p(spinning, q, |s, idle| put(s, idle, p)) {
            ReleaseStep::Global => Some((p, spinning)),
            ReleaseStep::Spin => {
                s.become_spinning();
                Some((p, true))
            }
            ReleaseStep::Released => {
                let back = s.recheck(spinning, q)?;
                if spinning {
                    s.become_spinning();
                }
                Some((back, spinning))
            }
        }
    }

    /// An M holds P 0 (acquirep) and, out of work, gives it up while a thread outside the
    /// runtime injects a G. Returns the queues, what the M holds afterwards (`give_up_p`) and
    /// the P the producer started a spinning M on, if any.
    #[allow(clippy::type_complexity)]
    fn inject_while_p0_is_given_up(
        s: &Arc<IdleState<()>>,
    ) -> (Arc<Q>, Option<(usize, bool)>, Option<usize>) {
        let q = Arc::new(Q::new());
        assert_eq!(s.pidleget_locked(&*q), Some(0));
        let (s2, q2) = (s.clone(), q.clone());
        let producer = thread::spawn(move || inject(&s2, &q2));
        let m = give_up_p(s, &q, 0, false);
        (q, m, producer.join().unwrap())
    }

    /// One P, its M out of work and about to give the P up, while a thread outside the runtime
    /// injects a G: the G is never stranded. Either the M keeps (or takes back) the P and
    /// finds it, or `wakep` starts a spinning M on the idle P — never neither, never both
    /// owning the P; the spinning count ends balanced.
    /// WAKEUPS.md step 1 (global push vs an M releasing its P).
    #[test]
    fn loom_inject_vs_give_up_p() {
        loom::model(|| {
            let s = Arc::new(IdleState::<()>::new(1, usize::MAX));
            let (q, m, started) = inject_while_p0_is_given_up(&s);
            let holders = usize::from(m.is_some()) + usize::from(started.is_some());
            assert!(holders <= 1, "the P is owned twice");
            assert_eq!(s.npidle() + holders, 1, "a P is lost");
            // The M with the P, old or new, finds the G.
            if let Some((_, spinning)) = m {
                assert!(q.take_global(), "the M kept its P but the G is not there");
                if spinning {
                    s.stop_spinning();
                }
            } else {
                assert!(started.is_some(), "lost wakeup: the G is stranded");
                // The new M is spinning: it finds the G and stops (resetspinning).
                assert_eq!(s.nmspinning(), 1);
                assert!(q.take_global());
                s.stop_spinning();
            }
            assert_eq!(s.nmspinning(), 0, "spinning count unbalanced");
        });
    }

    /// More Ps than CPUs: two Ps and one CPU. P 0's M is out of work and about to give it up
    /// while a thread outside the runtime injects a G. P 1 is idle, but the held P fills the
    /// CPU, so `wakep` starts no M and sets `needspinning` instead ([`IdleState::room`]). The
    /// G is never stranded: the M keeps its P (global work, or `needspinning`: it spins) or
    /// takes one back, or it released first and the producer, seeing a CPU free, starts a
    /// spinning M. No P is lost or owned twice; the spinning count ends balanced.
    /// WAKEUPS.md step 1, with the CPU limit.
    #[test]
    fn loom_inject_vs_give_up_p_cpu_limited() {
        loom::model(|| {
            // P 1 stays idle.
            let s = Arc::new(IdleState::<()>::new(2, 1));
            let (q, m, started) = inject_while_p0_is_given_up(&s);
            let holders = usize::from(m.is_some()) + usize::from(started.is_some());
            assert!(holders >= 1, "lost wakeup: the G is stranded");
            assert_eq!(s.npidle() + holders, 2, "a P is lost or owned twice");
            if let (Some((a, _)), Some(b)) = (m, started) {
                assert_ne!(a, b, "the P is owned twice");
            }
            // Whoever holds a P looks at the global queue: one of them finds the G.
            let mut found = false;
            if let Some((_, spinning)) = m {
                found |= q.take_global();
                if spinning {
                    s.stop_spinning();
                }
            }
            if started.is_some() {
                found |= q.take_global();
                s.stop_spinning();
            }
            assert!(found, "the G is stranded");
            assert_eq!(s.nmspinning(), 0, "spinning count unbalanced");
        });
    }

    /// Two Ps: P 0 busy, P 1 held by the only spinning M, which finds nothing and gives up
    /// while a G is injected. The producer sees a spinner (and leaves the G to it) or the idle
    /// P (and starts one): the last spinner to leave re-checks after its decrement, so the G
    /// is never stranded; the spinning count balances.
    /// WAKEUPS.md step 3 (the last spinner).
    #[test]
    fn loom_inject_vs_last_spinner() {
        loom::model(|| {
            // M0 runs P 0 (busy, not looking); M1 holds P 1 and spins.
            let (s, q) = two_ps_held_one_spinning();
            let (s2, q2) = (s.clone(), q.clone());
            let producer = thread::spawn(move || inject(&s2, &q2));
            let m1 = give_up_p(&s, &q, 1, true);
            let started = producer.join().unwrap();
            let holders = usize::from(m1.is_some()) + usize::from(started.is_some());
            assert!(holders <= 1, "P 1 is owned twice");
            assert_eq!(s.npidle() + holders, 1, "a P is lost");
            // Spinning: M1 if it kept a P, plus the started M.
            assert_eq!(s.nmspinning(), holders, "spinning count unbalanced");
            assert!(holders == 1, "lost wakeup: the G is stranded");
            assert!(q.take_global());
            s.stop_spinning();
            assert_eq!(s.nmspinning(), 0);
        });
    }

    /// A spinning M found a G and stops spinning, then calls `wakep` (Go's `resetspinning`:
    /// there may be more work), racing a producer's `inject` + `wakep`, with one idle P. The
    /// two `wakep`s start exactly one spinning M — the chain is never dropped (the producer
    /// saw the spinner and left it the G) nor doubled — and the spinning count balances.
    /// WAKEUPS.md step 3 (chaining: `resetspinning` then `wakep`).
    #[test]
    fn loom_resetspinning_vs_wakep() {
        loom::model(|| {
            let s = Arc::new(IdleState::<()>::new(2, usize::MAX));
            let q = Arc::new(Q::new());
            // M0 holds P 0 and spins; P 1 is idle. M0 finds a G.
            assert_eq!(s.pidleget_locked(&*q), Some(0));
            s.become_spinning();
            let (s2, q2) = (s.clone(), q.clone());
            let producer = thread::spawn(move || inject(&s2, &q2));
            // resetspinning
            s.stop_spinning();
            let by_m0 = s.wakep(&*q);
            let by_producer = producer.join().unwrap();
            let started = usize::from(by_m0.is_some()) + usize::from(by_producer.is_some());
            assert_eq!(started, 1, "wakeup chain dropped or doubled");
            assert_eq!(by_m0.or(by_producer), Some(1));
            assert_eq!(s.npidle(), 0);
            assert_eq!(s.nmspinning(), 1, "spinning count unbalanced");
            // The started M finds the injected G and stops spinning.
            assert!(q.take_global());
            s.stop_spinning();
            assert_eq!(s.nmspinning(), 0);
        });
    }

    /// Two Ps: M0 holds P 0 (not spinning) and moves a batch it took from the global queue
    /// into its ring while its own task will never yield; M1, the only spinner, looked at the
    /// global queue after the batch left it and now gives P 1 up. The batch is never
    /// stranded behind M0's task: M1's last look sees the ring (it takes a P back to steal),
    /// or M0's `wakep_after_ring_push` sees the idle P and starts a spinner.
    /// WAKEUPS.md step 2 (a batch moved into a ring).
    #[test]
    fn loom_ring_batch_vs_last_spinner() {
        loom::model(|| {
            let (s, q) = two_ps_held_one_spinning(); // M1 spins
            let (s2, q2) = (s.clone(), q.clone());
            let m0 = thread::spawn(move || {
                q2.rings[0].store(1, Release); // runqput of the batch's rest
                s2.wakep_after_ring_push(&*q2)
            });
            let m1 = give_up_p(&s, &q, 1, true);
            let started = m0.join().unwrap();
            let lookers = usize::from(m1.is_some()) + usize::from(started.is_some());
            assert_eq!(
                lookers, 1,
                "the batch is stranded (0) or P 1 owned twice (2)"
            );
            assert_eq!(s.nmspinning(), 1, "spinning count unbalanced");
            s.stop_spinning(); // the looker steals from ring 0
            assert_eq!(s.nmspinning(), 0);
        });
    }

    /// Two Ps: M0 holds P 0, was the only spinner and just found work (a batch; the rest is
    /// in its ring): `resetspinning`'s `wakep` finds no idle P, since P 1 is in a blocking
    /// section, and sets `needspinning`. Meanwhile sysmon retakes P 1 and `handoffp` puts it
    /// idle (it found no work and saw M0 spinning). Exactly one spinning M is started on
    /// P 1: by M0's `wakep` (its re-look after the flag sees the idle P) or by `handoffp`
    /// (it sees the flag).
    /// WAKEUPS.md step 6 (handoff) with step 3 (`needspinning`).
    #[test]
    fn loom_handoffp_vs_wakep_without_idle_p() {
        loom::model(|| {
            let (s, q) = two_ps_held_one_spinning(); // P 1 in a blocking section; M0 spins
            let (s2, q2) = (s.clone(), q.clone());
            let sysmon = thread::spawn(move || {
                // handoffp's tail: pidleput, then the second look.
                put(&s2, &mut s2.lock(), 1);
                if s2.needspinning_after_pidleput() {
                    s2.wakep(&*q2)
                } else {
                    None
                }
            });
            s.stop_spinning(); // resetspinning
            let by_m0 = s.wakep(&*q);
            let by_sysmon = sysmon.join().unwrap();
            let started = usize::from(by_m0.is_some()) + usize::from(by_sysmon.is_some());
            assert_eq!(started, 1, "no spinner for M0's ring (0), or two (2)");
            assert_eq!(by_m0.or(by_sysmon), Some(1));
            assert_eq!(s.nmspinning(), 1, "spinning count unbalanced");
            s.stop_spinning();
        });
    }
}
