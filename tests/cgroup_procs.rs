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
        "one_cpu" => pin_to_one_cpu(),
        _ => {}
    }
    let rt = b.build().unwrap();
    println!("procs={}", rt.handle().metrics().procs);
    drop(rt);
    println!("scenario {scenario} ok");
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
