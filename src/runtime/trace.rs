//! `GMPDEBUG=schedtrace=N`: Go's scheduler trace line, printed by sysmon every N ms.
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=4 idleprocs=2 threads=7 spinningthreads=0 needspinning=0 idlethreads=3 runqueue=0 [ 0 1 0 0 ] schedticks=[ 812 64 3 20 ] seed=42 latency_p50=3us latency_p99=120us cpus=8
//! ```
//! Brackets: each P's ring length (runnext excluded), then each P's schedtick. Last, not in
//! Go (appended, so a parser of Go's line still reads it): the scheduler's seed (replay with
//! `GMPDEBUG=seed=N` or `Builder::rng_seed`), then the median and 99th percentile of the
//! scheduling latency since the start (`RuntimeMetrics::sched_latency`), in whole
//! microseconds rounded up (`-` before the first sample), then the CPU count that limits how
//! many Ps `wakep` fills with Ms (`IdleState::room`; it matters when `gomaxprocs` is above
//! it; `-` with `Builder::wake_within_cpus(false)`). With
//! `scheddetail=1`, one line per P, per M and per G follows, in Go's style:
//! ```text
//!   P0: status=1 schedtick=812 syscalltick=40 m=3 runqsize=0 timerslen=2
//!   M3: p=0 curg=18 spinning=false blocked=false
//!   G18: status=2(Running) m=3 polls=7 spawned=src/main.rs:10:5
//! ```
//! (P status: 0 idle, 1 running, 2 syscall, 3 dead; G status as Go: 1 runnable, 2 running,
//! 3 syscall, 4 waiting.)

use super::TaskState;
use crate::executor::sched::Sched;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// A latency in whole microseconds, rounded up, or `-` for none.
fn micros(d: Option<std::time::Duration>) -> String {
    d.map_or_else(
        || "-".to_string(),
        |d| format!("{}us", d.as_nanos().div_ceil(1000)),
    )
}

/// Format the trace (one line, plus detail lines with `detail`).
pub(crate) fn schedtrace(sched: &Sched, detail: bool) -> String {
    let ps = &sched.allp[..sched.procs()];
    let mut out = String::new();
    let _ = write!(
        out,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} needspinning={} \
         idlethreads={} runqueue={} [",
        sched.reactor.now_ns() / 1_000_000,
        sched.procs(),
        sched.npidle(),
        sched.nthreads(),
        sched.nmspinning(),
        u8::from(sched.needspinning()),
        sched.nmidle(),
        sched.global.len(),
    );
    for p in ps {
        let _ = write!(out, " {}", p.runq.len());
    }
    out.push_str(" ] schedticks=[");
    for p in ps {
        let _ = write!(out, " {}", p.schedtick.get());
    }
    let _ = write!(out, " ] seed={}", sched.config.rng_seed);
    let lat = crate::executor::latency::sched_latency(sched);
    let _ = writeln!(
        out,
        " latency_p50={} latency_p99={} cpus={}",
        micros(lat.p50()),
        micros(lat.p99()),
        match sched.cpus() {
            usize::MAX => "-".to_string(),
            n => n.to_string(),
        }
    );
    if detail {
        for p in sched.allp.iter() {
            let m = p.m.load(Relaxed);
            let _ = writeln!(
                out,
                "  P{}: status={} schedtick={} syscalltick={} m={} runqsize={} timerslen={}",
                p.id,
                p.status() as u8,
                p.schedtick.get(),
                p.syscalltick.get(),
                if m == usize::MAX { -1 } else { m as i64 },
                p.runq.len(),
                p.timers.len(),
            );
        }
        let ms: Vec<_> = crate::loom::lock(&sched.allm).clone();
        for m in ms {
            let p = m.p.load(Relaxed);
            let (pi, curg) = if p == usize::MAX {
                (-1, 0)
            } else {
                (p as i64, sched.allp[p].curg_id.load(Relaxed))
            };
            let blocked = p == usize::MAX && !m.spinning.load(Relaxed);
            let _ = writeln!(
                out,
                "  M{}: p={pi} curg={} spinning={} blocked={blocked}",
                m.id,
                if curg == 0 { -1 } else { curg as i64 },
                m.spinning.load(Relaxed),
            );
        }
        for t in super::dump(sched).tasks {
            let code = match t.state {
                TaskState::Runnable => 1,
                TaskState::Running => 2,
                TaskState::Syscall => 3,
                TaskState::Waiting => 4,
            };
            let m = sched
                .allp
                .iter()
                .find(|p| p.curg_id.load(Relaxed) == t.id.as_u64())
                .map_or(-1, |p| p.m.load(Relaxed) as i64);
            let _ = writeln!(
                out,
                "  G{}: status={code}({:?}) m={m} polls={} spawned={}",
                t.id, t.state, t.polls, t.spawned_at
            );
        }
    }
    out
}
