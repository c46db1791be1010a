//! `GMPDEBUG`: Go's `GODEBUG` for the scheduler. Comma-separated `name=value` options:
//!
//! | option | effect |
//! |---|---|
//! | `stuck=1` | sysmon reports each stuck-P rescue on stderr (task id, spawn location, time) |
//! | `schedtrace=N` | sysmon prints a `SCHED` line every N ms (Go's format) |
//! | `scheddetail=1` | with `schedtrace`, add per-P, per-M and per-G lines |
//! | `dumpsignal=1` | `kill -USR1 <pid>` prints the trace and a task dump on stderr |
//! | `seed=N` | seeds the scheduler's random choices (as `Builder::rng_seed(N)`, which wins) |
//! | `leakcheck=N` | every N ms sysmon prints the tasks newly leaked (`Handle::leaked_tasks`) |
//! | `trace=1` | turn the flight recorder on (`Builder::flight_recorder`) |
//! | `tracefile=PATH` | flight recorder on; its trace (Chrome JSON) written to PATH at shutdown and on the `dumpsignal` SIGUSR1 |
//!
//! An unknown option or a malformed value is reported once on stderr, never ignored silently.
//! `schedtrace=0` and `leakcheck=0` turn those off.

/// Parsed `GMPDEBUG`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DebugFlags {
    pub(crate) stuck: bool,
    pub(crate) schedtrace_ms: Option<u64>,
    pub(crate) scheddetail: bool,
    pub(crate) dumpsignal: bool,
    pub(crate) seed: Option<u64>,
    pub(crate) leakcheck_ms: Option<u64>,
    pub(crate) trace: bool,
    pub(crate) tracefile: Option<String>,
}

impl DebugFlags {
    pub(crate) fn from_env() -> DebugFlags {
        match std::env::var("GMPDEBUG") {
            Ok(s) => {
                let (flags, problems) = DebugFlags::parse(&s);
                for p in problems {
                    eprintln!("gmp: GMPDEBUG: {p}");
                }
                flags
            }
            Err(_) => DebugFlags::default(),
        }
    }

    /// Parse `GMPDEBUG`; the second value lists what was not understood.
    pub(crate) fn parse(s: &str) -> (DebugFlags, Vec<String>) {
        let mut flags = DebugFlags::default();
        let mut problems = Vec::new();
        for opt in s.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let (name, value) = opt.split_once('=').unwrap_or((opt, ""));
            let num = value.parse::<u64>();
            if name == "tracefile" {
                if value.is_empty() {
                    problems.push(
                        "option \"tracefile\" needs a path, got \"\" (no trace file is written)"
                            .to_string(),
                    );
                } else {
                    flags.tracefile = Some(value.to_string());
                }
                continue;
            }
            match (name, num) {
                ("stuck", Ok(v)) => flags.stuck = v != 0,
                ("schedtrace", Ok(0)) => flags.schedtrace_ms = None,
                ("schedtrace", Ok(v)) => flags.schedtrace_ms = Some(v),
                ("scheddetail", Ok(v)) => flags.scheddetail = v != 0,
                ("dumpsignal", Ok(v)) => flags.dumpsignal = v != 0,
                ("seed", Ok(v)) => flags.seed = Some(v),
                ("leakcheck", Ok(0)) => flags.leakcheck_ms = None,
                ("leakcheck", Ok(v)) => flags.leakcheck_ms = Some(v),
                ("trace", Ok(v)) => flags.trace = v != 0,
                (
                    "stuck" | "schedtrace" | "scheddetail" | "dumpsignal" | "seed" | "leakcheck"
                    | "trace",
                    Err(_),
                ) => problems.push(format!(
                    "option {name:?} needs a number, got {value:?} (ignored)"
                )),
                _ => problems.push(format!(
                    "unknown option {name:?} (known: stuck, schedtrace, scheddetail, dumpsignal, \
                     seed, leakcheck, trace, tracefile)"
                )),
            }
        }
        (flags, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports() {
        let (f, p) = DebugFlags::parse("schedtrace=1000, scheddetail=1,stuck=1");
        assert_eq!(
            f,
            DebugFlags {
                stuck: true,
                schedtrace_ms: Some(1000),
                scheddetail: true,
                dumpsignal: false,
                seed: None,
                leakcheck_ms: None,
                trace: false,
                tracefile: None,
            }
        );
        assert!(p.is_empty());
        let (f, p) = DebugFlags::parse("seed=12345");
        assert_eq!(f.seed, Some(12345));
        assert!(p.is_empty());
        let (f, p) = DebugFlags::parse("seed=-1");
        assert_eq!(f.seed, None);
        assert!(p[0].contains("seed"), "{p:?}");
        let (_, p) = DebugFlags::parse("bogus=1,schedtrace=x");
        assert_eq!(p.len(), 2);
        assert!(p[0].contains("bogus"));
        assert!(p[1].contains("schedtrace"));
    }

    /// `trace=1` turns the recorder on; `tracefile=PATH` takes a path (commas end it), and an
    /// empty one is reported, not taken.
    #[test]
    fn trace_and_tracefile_parse() {
        let (f, p) = DebugFlags::parse("trace=1,tracefile=/tmp/t.json");
        assert!(f.trace);
        assert_eq!(f.tracefile.as_deref(), Some("/tmp/t.json"));
        assert!(p.is_empty());
        let (f, p) = DebugFlags::parse("tracefile=");
        assert_eq!(f.tracefile, None);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("\"tracefile\" needs a path"), "{p:?}");
        let (f, p) = DebugFlags::parse("trace=yes");
        assert!(!f.trace);
        assert!(p[0].contains("\"trace\" needs a number"), "{p:?}");
    }

    /// `leakcheck=N` as `schedtrace=N`: 0 turns it off, a value that is not a number is
    /// reported (and ignored), never taken silently.
    #[test]
    fn leakcheck_parses_like_schedtrace() {
        let (f, p) = DebugFlags::parse("leakcheck=250");
        assert_eq!(f.leakcheck_ms, Some(250));
        assert!(p.is_empty());
        let (f, p) = DebugFlags::parse("leakcheck=250,leakcheck=0");
        assert_eq!(f.leakcheck_ms, None);
        assert!(p.is_empty());
        for bad in [
            "leakcheck=abc",
            "leakcheck",
            "leakcheck=-5",
            "leakcheck=1.5",
        ] {
            let (f, p) = DebugFlags::parse(bad);
            assert_eq!(f.leakcheck_ms, None, "{bad}");
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert!(
                p[0].starts_with("option \"leakcheck\" needs a number"),
                "{bad}: {p:?}"
            );
        }
        let (_, p) = DebugFlags::parse("leakchek=10");
        assert!(
            p[0].contains("known:") && p[0].contains("leakcheck"),
            "{p:?}"
        );
    }
}
