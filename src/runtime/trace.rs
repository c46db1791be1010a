//! `GMPDEBUG=schedtrace=N`: Go's scheduler trace line, printed by sysmon every N ms.
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=4 idleprocs=2 threads=7 spinningthreads=0 needspinning=0 idlethreads=3 runqueue=0 [ 0 1 0 0 ] schedticks=[ 812 64 3 20 ]
//! ```
//! Brackets: each P's ring length (runnext excluded), then each P's schedtick. With
//! `scheddetail=1`, one line per P follows:
//! `P0: status=1 schedtick=812 syscalltick=40 m=3 runqsize=0 timerslen=2`.

use crate::executor::sched::Sched;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Format the trace (one line, plus detail lines when enabled).
pub(crate) fn schedtrace(sched: &Sched) -> String {
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
        let _ = write!(out, " {}", p.schedtick.load(Relaxed));
    }
    out.push_str(" ]\n");
    if sched.config.debug.scheddetail {
        for p in sched.allp.iter() {
            let m = p.m.load(Relaxed);
            let _ = writeln!(
                out,
                "  P{}: status={} schedtick={} syscalltick={} m={} runqsize={} timerslen={}",
                p.id,
                p.status() as u8,
                p.schedtick.load(Relaxed),
                p.syscalltick.load(Relaxed),
                if m == usize::MAX { -1 } else { m as i64 },
                p.runq.len(),
                p.timers.len(),
            );
        }
    }
    out
}
