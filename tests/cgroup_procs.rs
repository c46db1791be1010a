//! The container-aware default `procs` (Go 1.25's cgroup-aware `GOMAXPROCS`), read from fake
//! cgroup files under `GMP_CGROUP_ROOT` (test-only). Each case runs in a child process (this
//! binary, re-run with `GMP_CGROUP_CHILD=<scenario>`), so the environment variables of one case
//! cannot leak into another; the child prints the `procs` it got.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(60);

const V2_MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw
";
const V1_MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:6 - cgroup cgroup rw,cpu,cpuacct
";

/// Child mode: build a runtime as the scenario says and print its `procs`.
#[test]
fn child() {
    let Ok(scenario) = std::env::var("GMP_CGROUP_CHILD") else {
        return; // only meaningful when run by `run`
    };
    let mut b = gmp::Runtime::builder();
    match scenario.as_str() {
        "explicit" => {
            b.procs(3);
        }
        "explicit_follow" => {
            b.procs(3).max_procs(8);
        }
        "one_cpu" => pin_to_one_cpu(),
        _ => {}
    }
    let rt = b.build().unwrap();
    println!("procs={}", rt.handle().metrics().procs);
    match scenario.as_str() {
        "follow" => follow(&rt),
        "follow_bad" => follow_bad(&rt),
        "explicit_follow" | "env_follow" => not_followed(&rt),
        _ => {}
    }
    drop(rt);
    println!("scenario {scenario} ok");
}

/// The fake `cpu.max` of [`v2`]'s cgroup, in the child.
fn set_cpu_max(contents: &str) {
    let root = PathBuf::from(std::env::var_os("GMP_CGROUP_ROOT").unwrap());
    let path = root.join("sys/fs/cgroup/app/worker/cpu.max");
    // Write a new file and rename it over the old, so sysmon never reads half a line.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// Child, 8 fake CPUs, starting at a 4-CPU limit: `procs` follows the limit up, to "max" and
/// down (sysmon re-reads it about once a second, also while the runtime is idle); a
/// `set_procs` then switches the following off.
fn follow(rt: &gmp::Runtime) {
    let h = rt.handle();
    assert_eq!(h.metrics().procs, 4);
    for (cpu_max, want) in [
        ("600000 100000\n", 6),
        ("max 100000\n", 8),
        ("150000 100000\n", 2),
    ] {
        set_cpu_max(cpu_max);
        support::wait_until(
            DEADLINE,
            &format!("procs follows cpu.max {cpu_max:?}"),
            || h.metrics().procs == want,
        );
        // The runtime runs on what it was resized to.
        let sum: u64 = rt.block_on(async {
            let hs: Vec<_> = (0..100u64).map(|i| gmp::spawn(async move { i })).collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 4950);
        // Hold the value long enough for `GMPDEBUG=schedtrace=20` to print SCHED lines with it.
        std::thread::sleep(Duration::from_millis(300));
        println!("followed {want}");
    }
    h.set_procs(5).unwrap();
    set_cpu_max("400000 100000\n");
    // Absence of a change: give sysmon a few of its once-a-second looks.
    std::thread::sleep(Duration::from_millis(3_500));
    assert_eq!(h.metrics().procs, 5, "set_procs switched the following off");
    println!("kept 5");
}

/// Child, 8 fake CPUs at a 4-CPU limit: `cpu.max` turns malformed — `procs` stays (no bounce
/// to the CPU count) — then valid again, and is followed.
fn follow_bad(rt: &gmp::Runtime) {
    let h = rt.handle();
    assert_eq!(h.metrics().procs, 4);
    set_cpu_max("lots of cpu\n");
    std::thread::sleep(Duration::from_millis(3_500));
    assert_eq!(h.metrics().procs, 4, "a malformed re-read keeps procs");
    set_cpu_max("300000 100000\n");
    support::wait_until(DEADLINE, "procs follows again", || h.metrics().procs == 3);
    println!("kept 4, then 3");
}

/// Child: `procs` was explicit (`Builder::procs` or `GMAXPROCS`): a new limit changes nothing.
fn not_followed(rt: &gmp::Runtime) {
    let before = rt.handle().metrics().procs;
    set_cpu_max("600000 100000\n");
    std::thread::sleep(Duration::from_millis(3_500));
    assert_eq!(
        rt.handle().metrics().procs,
        before,
        "an explicit procs is not followed"
    );
    println!("kept {before}");
}

/// Narrow this process's affinity mask to its first allowed CPU.
fn pin_to_one_cpu() {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; both calls get its true size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .unwrap();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(first, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size, &set), 0);
    }
}

/// A fake root holding `files`, removed when dropped.
struct FakeRoot(PathBuf);

impl FakeRoot {
    fn new(name: &str, files: &[(&str, &str)]) -> FakeRoot {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gmp-cgroup-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (path, contents) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, contents).unwrap();
        }
        FakeRoot(dir)
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A v2 cgroup `/app/worker` whose `cpu.max` is `cpu_max`.
fn v2(name: &str, cpu_max: &str) -> FakeRoot {
    FakeRoot::new(
        name,
        &[
            ("proc/self/cgroup", "0::/app/worker\n"),
            ("proc/self/mountinfo", V2_MOUNTINFO),
            ("sys/fs/cgroup/app/cpu.max", "max 100000\n"),
            ("sys/fs/cgroup/app/worker/cpu.max", cpu_max),
        ],
    )
}

/// Run `scenario` in a child with `GMP_CGROUP_ROOT=root` and `env`; its procs and stderr.
fn run(scenario: &str, root: &Path, env: &[(&str, &str)]) -> (usize, String) {
    let (stdout, stderr) =
        support::run_child("child", "GMP_CGROUP_CHILD", scenario, DEADLINE, |c| {
            c.env_remove("GMAXPROCS").env_remove("GMPDEBUG");
            c.env("GMP_CGROUP_ROOT", root);
            for (k, v) in env {
                c.env(k, v);
            }
        });
    // libtest's "test child ... " may share the line.
    let procs = stdout
        .split("procs=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no procs= in {stdout}"))
        .parse()
        .unwrap();
    (procs, stderr)
}

/// The CPU count as the runtime sees it: the default with an empty fake root (no cgroup).
fn cpus() -> usize {
    let empty = FakeRoot::new("empty", &[]);
    run("plain", &empty.0, &[]).0
}

#[test]
fn default_procs_follows_the_cgroup_limit() {
    let cpus = cpus();
    assert!(cpus >= 1);
    // 1.5 CPUs: rounded up to 2.
    let root = v2("v2-150", "150000 100000\n");
    assert_eq!(run("plain", &root.0, &[]).0, cpus.min(2));
    // 0.5 CPUs: Go's floor of 2, but never more than the CPUs (the affinity mask's).
    let root = v2("v2-50", "50000 100000\n");
    assert_eq!(run("plain", &root.0, &[]).0, cpus.min(2));
    assert_eq!(run("one_cpu", &root.0, &[]).0, 1);
    // 3.5 CPUs: 4.
    let root = v2("v2-350", "350000 100000\n");
    assert_eq!(run("plain", &root.0, &[]).0, cpus.min(4));
    // "max": no limit.
    let root = v2("v2-max", "max 100000\n");
    assert_eq!(run("plain", &root.0, &[]).0, cpus);
    // cgroup v1: 250000/100000 → 3.
    let root = FakeRoot::new(
        "v1",
        &[
            ("proc/self/cgroup", "5:cpu,cpuacct:/job\n0::/\n"),
            ("proc/self/mountinfo", V1_MOUNTINFO),
            ("sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us", "250000\n"),
            (
                "sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us",
                "100000\n",
            ),
        ],
    );
    assert_eq!(run("plain", &root.0, &[]).0, cpus.min(3));
}

#[test]
fn gmaxprocs_and_builder_procs_still_win() {
    let root = v2("win", "50000 100000\n");
    assert_eq!(run("plain", &root.0, &[("GMAXPROCS", "5")]).0, 5);
    assert_eq!(run("explicit", &root.0, &[]).0, 3);
}

#[test]
fn schedtrace_says_how_procs_was_chosen() {
    let root = v2("trace", "150000 100000\n");
    // A long period: the header line comes from build(), no SCHED line is needed.
    let (_, stderr) = run("plain", &root.0, &[("GMPDEBUG", "schedtrace=100000")]);
    assert!(
        stderr.contains(&format!("gmp: procs={} (default: cpus=", cpus().min(2)))
            && stderr.contains("cgroup CPU limit 150000/100000µs → 2)"),
        "{stderr}"
    );
}

/// README "Bad input" row: a malformed or unreadable cgroup file.
#[test]
fn malformed_cgroup_file_falls_back_to_the_cpu_count() {
    let cpus = cpus();
    let root = v2("bad", "lots of cpu\n");
    let (procs, stderr) = run("plain", &root.0, &[]);
    assert_eq!(procs, cpus);
    assert!(
        !stderr.contains("cgroup"),
        "silent without GMPDEBUG: {stderr}"
    );
    let (procs, stderr) = run("plain", &root.0, &[("GMPDEBUG", "seed=1")]);
    assert_eq!(procs, cpus);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("cgroup")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("gmp: cgroup CPU limit ignored: cpu.max: malformed"),
        "{stderr}"
    );
    // A malformed /proc/self/cgroup, and one that cannot be read (a directory).
    let root = FakeRoot::new("bad-proc", &[("proc/self/cgroup", "garbage\n")]);
    let (procs, stderr) = run("plain", &root.0, &[("GMPDEBUG", "seed=1")]);
    assert_eq!(procs, cpus);
    assert!(
        stderr.contains("/proc/self/cgroup: malformed line"),
        "{stderr}"
    );
    let root = FakeRoot::new("unreadable", &[]);
    std::fs::create_dir_all(root.0.join("proc/self/cgroup")).unwrap();
    let (procs, stderr) = run("plain", &root.0, &[("GMPDEBUG", "seed=1")]);
    assert_eq!(procs, cpus);
    assert!(stderr.contains("cannot read"), "{stderr}");
    // Missing files: no cgroup, nothing to report.
    let root = FakeRoot::new(
        "missing",
        &[
            ("proc/self/cgroup", "0::/gone\n"),
            ("proc/self/mountinfo", V2_MOUNTINFO),
        ],
    );
    let (procs, stderr) = run("plain", &root.0, &[("GMPDEBUG", "seed=1")]);
    assert_eq!(procs, cpus);
    assert!(!stderr.contains("cgroup"), "{stderr}");
}

/// Live resize: sysmon re-reads `cpu.max` and `procs` follows it (8 fake CPUs: 4, 6, 8, 2), and
/// the SCHED line shows the new `gomaxprocs`; an explicit `set_procs` stops the following, as
/// does an explicit `Builder::procs` or `GMAXPROCS` from the start.
#[test]
fn procs_follows_a_changing_cgroup_limit() {
    let root = v2("follow", "400000 100000\n");
    let cpus = [("GMP_CGROUP_CPUS", "8")];
    let (procs, _) = run("follow", &root.0, &cpus);
    assert_eq!(procs, 4);
    let root = v2("follow-trace", "400000 100000\n");
    let (_, stderr) = run(
        "follow",
        &root.0,
        &[("GMP_CGROUP_CPUS", "8"), ("GMPDEBUG", "schedtrace=20")],
    );
    assert!(
        stderr.contains("gmp: sysmon: cgroup CPU limit changed: procs=6 (default: cpus=8, cgroup CPU limit 600000/100000µs → 6)"),
        "{stderr}"
    );
    for want in [6, 8, 2, 5] {
        assert!(
            stderr.contains(&format!(" gomaxprocs={want} ")),
            "no SCHED line with gomaxprocs={want}: {stderr}"
        );
    }
    let root = v2("explicit-follow", "400000 100000\n");
    assert_eq!(run("explicit_follow", &root.0, &cpus).0, 3);
    let root = v2("env-follow", "400000 100000\n");
    let env = [("GMP_CGROUP_CPUS", "8"), ("GMAXPROCS", "3")];
    assert_eq!(run("env_follow", &root.0, &env).0, 3);
}

/// README "Bad input" row: a cgroup file that turns malformed after `build` keeps `procs` as it
/// is, with one `GMPDEBUG` line, and a valid one is followed again.
#[test]
fn a_limit_file_turning_malformed_keeps_procs() {
    let root = v2("follow-bad", "400000 100000\n");
    let env = [("GMP_CGROUP_CPUS", "8"), ("GMPDEBUG", "seed=1")];
    let (procs, stderr) = run("follow_bad", &root.0, &env);
    assert_eq!(procs, 4);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("not re-read"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("gmp: sysmon: cgroup CPU limit not re-read: cpu.max: malformed")
            && lines[0].ends_with("; procs unchanged"),
        "{stderr}"
    );
}
