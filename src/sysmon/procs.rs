//! Following the cgroup CPU limit live (Go 1.25's `updatemaxprocs`): about once a second,
//! while `procs` is the automatic default (no `Builder::procs`, no `GMAXPROCS`, no
//! `Handle::set_procs` since), sysmon re-reads the limit files — the same reads and rule as
//! the default at `build` (`crate::runtime::cgroup`, handed over by the builder as
//! `Config::auto_procs`) — and resizes the runtime
//! ([`Sched::procresize`](crate::executor::sched::Sched)) when the value they give changed.
//!
//! Also once a second, whatever `procs` is, [`follow_cpus`] re-reads the CPU count that limits
//! how many held Ps `wakep` fills with Ms (`IdleState::room`).
//!
//! Cheap: a handful of small file reads and one `sched_getaffinity` per second, on sysmon's
//! thread; an idle runtime's sysmon wakes once a second for it instead of sleeping until an M
//! needs it. A re-read that fails or finds a malformed file changes nothing (a file being
//! rewritten must not bounce `procs` to the CPU count and back); with `GMPDEBUG` set it is
//! reported on stderr, once per distinct problem. With `GMPDEBUG=schedtrace` each resize is
//! reported too.

use super::Sysmon;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// How often the limit is re-read (Go: every second).
pub(crate) const PERIOD: Duration = Duration::from_secs(1);

/// Re-read the CPU count (the affinity mask: `taskset -p` may change it) if `PERIOD` has
/// passed since the last look, for `wakep`'s CPU limit (`IdleState::room`), and pass it on
/// when it changed. Whatever `procs` is: the limit matters when `procs` is above the count.
pub(crate) fn follow_cpus(sm: &mut Sysmon, now: u64) {
    if cfg!(loom) || now.saturating_sub(sm.cpus_checked_at) < PERIOD.as_nanos() as u64 {
        return;
    }
    sm.cpus_checked_at = now;
    if let Some(cpus) = crate::platform::cpu_count().filter(|&n| n != sm.cpus_seen) {
        sm.cpus_seen = cpus;
        sm.sched.set_cpus(cpus);
    }
}

/// Re-read the limit if `PERIOD` has passed since the last look (`now`: sysmon's clock, ns).
/// True if it resized the runtime.
pub(crate) fn follow_cgroup(sm: &mut Sysmon, now: u64) -> bool {
    if cfg!(loom) || !sm.sched.auto_procs.load(Relaxed) {
        return false;
    }
    let sched = sm.sched.clone();
    let Some(reread) = &sched.config.auto_procs else {
        return false;
    };
    if now.saturating_sub(sm.procs_checked_at) < PERIOD.as_nanos() as u64 {
        return false;
    }
    sm.procs_checked_at = now;
    let (procs, how) = match reread(sched.max_procs()) {
        Ok(d) => d,
        Err(problem) => {
            if sm.procs_problem.as_deref() != Some(problem.as_str()) {
                if std::env::var_os("GMPDEBUG").is_some() {
                    eprintln!(
                        "gmp: sysmon: cgroup CPU limit not re-read: {problem}; procs unchanged"
                    );
                }
                sm.procs_problem = Some(problem);
            }
            return false;
        }
    };
    sm.procs_problem = None;
    // `set_procs` may have switched the following off since the check above; it wins.
    if procs == sched.procs() || !sched.auto_procs.load(Relaxed) {
        return false;
    }
    if sched.config.debug.schedtrace_ms.is_some() {
        eprintln!("gmp: sysmon: cgroup CPU limit changed: {how}");
    }
    sched.procresize(procs);
    true
}
