//! The container-aware default `procs`, after Go 1.25's default `GOMAXPROCS`
//! (`runtime/cgroup_linux.go`, `internal/runtime/cgroup`).
//!
//! Go's rule (`defaultGOMAXPROCS` / `adjustCgroupGOMAXPROCS`): start from the CPUs the affinity
//! mask allows (`sched_getaffinity`); if the process's CPU cgroup has a bandwidth limit
//! `quota/period`, round it up, raise it to at least 2, and take it when it is lower. So a
//! limit never *raises* the count: with one CPU and a limit of 0.5 the answer is 1.
//!
//! gmp follows that rule:
//!
//! ```text
//! procs = min(cpus, max(2, ceil(quota / period)))   with a limit
//! procs = cpus                                       without one
//! cpus  = min(online CPUs, CPUs in the affinity mask)
//! ```
//!
//! capped at 1024 (gmp's `procs` maximum). Where it finds the cgroup, as Go does:
//! `/proc/self/cgroup` gives the path (a v1 line whose controller list holds `cpu` wins over
//! the v2 `0::` line), `/proc/self/mountinfo` the mount point of that hierarchy (`cgroup2`, or
//! `cgroup` with `cpu` in its super options, octal escapes undone), and the limit is read from
//! `cpu.max` (v2: `max` means none) or `cpu.cfs_quota_us` / `cpu.cfs_period_us` (v1: a
//! negative quota means none). Like Go, only the process's own (leaf) cgroup is read, not its
//! ancestors: a parent's tighter limit is missed (container runtimes hide the parents anyway).
//!
//! Where gmp differs from Go:
//! - The mount's root (mountinfo field 4) is stripped from the cgroup path when it is a prefix
//!   of it (a v1 container without a cgroup namespace sees `/docker/<id>` both as its cgroup
//!   and as the mount's root); Go joins the mount point and the full path, fails to open the
//!   file and falls back to no limit.
//! - As Go (`updatemaxprocs`), sysmon re-reads the limit about once a second and resizes the
//!   runtime live when the value changes (`crate::sysmon::procs`, `Handle::set_procs`), up to
//!   `Builder::max_procs` (default: the CPU count at `build`); unlike Go, a re-read that fails
//!   keeps the current value rather than falling back to the CPU count.
//! - A limit file that is absent (the cgroup has no `cpu` controller) means no limit, silently;
//!   one that cannot be read otherwise or is malformed, and a malformed `/proc/self/cgroup` or
//!   `mountinfo`, mean no limit too, but are reported in one stderr line when `GMPDEBUG` is
//!   set (Go says nothing).
//! - The CPU count is read directly, not from `std::thread::available_parallelism`, which on
//!   Linux already applies the cgroup quota rounded *down* (1.5 CPUs would give 1, not 2).
//!
//! Test-only override: `GMP_CGROUP_ROOT=<dir>` makes the reads use `<dir>/proc/self/cgroup`,
//! `<dir>/proc/self/mountinfo` and `<dir>/<mount point>/<path>/cpu.max` (and so on) instead of
//! the real files, so tests need no real cgroup. The CPU count stays the real one, unless
//! `GMP_CGROUP_CPUS=<n>` fakes it too (only while `GMP_CGROUP_ROOT` is set).

use std::io;
use std::path::{Path, PathBuf};

/// Which cgroup hierarchy holds the CPU controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// A CPU bandwidth limit: `quota` µs of CPU time per `period` µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) quota: u64,
    pub(crate) period: u64,
}

impl Limit {
    /// The limit in whole CPUs, rounded up.
    pub(crate) fn cpus_ceil(self) -> u64 {
        self.quota.div_ceil(self.period)
    }
}

/// `procs` from the CPU count and the cgroup limit, by Go's rule (see the module docs).
pub(crate) fn procs_for(cpus: usize, limit: Option<Limit>, max: usize) -> usize {
    let cpus = cpus.max(1);
    let procs = match limit {
        Some(l) => {
            let l = usize::try_from(l.cpus_ceil().max(2)).unwrap_or(usize::MAX);
            cpus.min(l)
        }
        None => cpus,
    };
    procs.min(max)
}

/// From `/proc/self/cgroup`: the CPU controller's hierarchy and the process's path in it, or
/// `None` when no line names one (not in a cgroup).
///
/// Lines are `hierarchy-ID:controller-list:path`; v2 is `0::/path`. As in Go, a v1 line whose
/// controller list contains `cpu` wins over the v2 line.
pub(crate) fn parse_proc_cgroup(s: &str) -> Result<Option<(Version, String)>, String> {
    let mut v2 = None;
    for line in s.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("/proc/self/cgroup: malformed line {line:?}"));
        };
        if !path.starts_with('/') {
            return Err(format!("/proc/self/cgroup: malformed line {line:?}"));
        }
        if id == "0" {
            v2 = Some((Version::V2, path.to_string()));
        } else if id.parse::<u32>().is_err() {
            return Err(format!("/proc/self/cgroup: malformed line {line:?}"));
        } else if controllers.split(',').any(|c| c == "cpu") {
            return Ok(Some((Version::V1, path.to_string())));
        }
    }
    Ok(v2)
}

/// A cgroup mount from `/proc/self/mountinfo`: the mount's root within the hierarchy and where
/// it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) root: String,
    pub(crate) mount_point: String,
}

/// From `/proc/self/mountinfo`: the mount of the `version` hierarchy holding the CPU
/// controller (`cgroup2`; or `cgroup` with `cpu` among its super options), or `None`.
///
/// Lines are `id parent major:minor root mount-point options [optional...] - fstype source
/// super-options`, with space, tab, newline and backslash in paths escaped as `\ooo`.
pub(crate) fn parse_mountinfo(s: &str, version: Version) -> Result<Option<Mount>, String> {
    let malformed = |line: &str| format!("/proc/self/mountinfo: malformed line {line:?}");
    for line in s.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|&f| f == "-") else {
            return Err(malformed(line));
        };
        if sep < 6 || fields.len() < sep + 3 {
            return Err(malformed(line));
        }
        let (fstype, super_opts) = (fields[sep + 1], fields[sep + 3..].join(" "));
        let wanted = match version {
            Version::V2 => fstype == "cgroup2",
            Version::V1 => fstype == "cgroup" && super_opts.split(',').any(|o| o == "cpu"),
        };
        if wanted {
            let root = unescape(fields[3]).ok_or_else(|| malformed(line))?;
            let mount_point = unescape(fields[4]).ok_or_else(|| malformed(line))?;
            return Ok(Some(Mount { root, mount_point }));
        }
    }
    Ok(None)
}

/// Undo the kernel's `\ooo` octal escapes in a mountinfo path.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let digits = b.get(i + 1..i + 4)?;
            let mut c: u32 = 0;
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return None;
                }
                c = c * 8 + u32::from(d - b'0');
            }
            out.push(u8::try_from(c).ok()?);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The cgroup's directory: the mount point joined with the cgroup path, less the mount's root
/// when that is a prefix of the path.
pub(crate) fn cgroup_dir(mount: &Mount, path: &str) -> String {
    let rel = match path.strip_prefix(mount.root.as_str()) {
        Some(rest) if mount.root != "/" && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        mount.mount_point.clone()
    } else {
        format!("{}/{rel}", mount.mount_point.trim_end_matches('/'))
    }
}

/// A v2 `cpu.max`: `"<quota> <period>"`, quota `max` for no limit.
pub(crate) fn parse_cpu_max(s: &str) -> Result<Option<Limit>, String> {
    let malformed = || format!("cpu.max: malformed contents {s:?}");
    let mut words = s.split_whitespace();
    let (Some(quota), Some(period), None) = (words.next(), words.next(), words.next()) else {
        return Err(malformed());
    };
    let period = period
        .parse::<u64>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(malformed)?;
    if quota == "max" {
        return Ok(None);
    }
    let quota = quota.parse::<u64>().map_err(|_| malformed())?;
    Ok(Some(Limit { quota, period }))
}

/// v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`: one integer each; a negative quota (the
/// kernel writes -1) for no limit.
pub(crate) fn parse_cfs(quota: &str, period: &str) -> Result<Option<Limit>, String> {
    let quota = quota
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("cpu.cfs_quota_us: malformed contents {quota:?}"))?;
    if quota < 0 {
        return Ok(None);
    }
    let period = period
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("cpu.cfs_period_us: malformed contents {period:?}"))?;
    Ok(Some(Limit {
        quota: quota.unsigned_abs(),
        period,
    }))
}

/// `root` joined with an absolute path from the files (`root` is `/` outside tests).
fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// Read a file; `Ok(None)` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The CPU bandwidth limit of this process's cgroup, reading the files under `root`.
///
/// `Ok(None)`: no limit, or no cgroup (`/proc/self/cgroup`, `mountinfo` or the limit files are
/// absent, or name no CPU controller). `Err`: a file that exists but cannot be read or does not
/// parse, described for the `GMPDEBUG` line.
pub(crate) fn cpu_limit(root: &Path) -> Result<Option<Limit>, String> {
    let Some(cgroup) = read_optional(&under(root, "/proc/self/cgroup"))? else {
        return Ok(None);
    };
    let Some((version, path)) = parse_proc_cgroup(&cgroup)? else {
        return Ok(None);
    };
    let Some(mountinfo) = read_optional(&under(root, "/proc/self/mountinfo"))? else {
        return Ok(None);
    };
    let Some(mount) = parse_mountinfo(&mountinfo, version)? else {
        return Ok(None);
    };
    let dir = under(root, &cgroup_dir(&mount, &path));
    match version {
        Version::V2 => match read_optional(&dir.join("cpu.max"))? {
            Some(s) => parse_cpu_max(&s),
            None => Ok(None),
        },
        Version::V1 => {
            let quota = read_optional(&dir.join("cpu.cfs_quota_us"))?;
            let period = read_optional(&dir.join("cpu.cfs_period_us"))?;
            match (quota, period) {
                (Some(q), Some(p)) => parse_cfs(&q, &p),
                _ => Ok(None),
            }
        }
    }
}

/// How the default `procs` was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) procs: usize,
    pub(crate) cpus: usize,
    pub(crate) limit: Option<Limit>,
    /// Why the cgroup was not used, when a file was unreadable or malformed.
    pub(crate) problem: Option<String>,
}

impl Decision {
    /// One line for `GMPDEBUG=schedtrace`: `procs=2 (default: cpus=8, cgroup CPU limit
    /// 150000/100000µs → 2)`.
    pub(crate) fn describe(&self) -> String {
        match self.limit {
            Some(l) => format!(
                "procs={} (default: cpus={}, cgroup CPU limit {}/{}µs → {})",
                self.procs,
                self.cpus,
                l.quota,
                l.period,
                l.cpus_ceil().max(2)
            ),
            None => format!(
                "procs={} (default: cpus={}, no cgroup CPU limit)",
                self.procs, self.cpus
            ),
        }
    }
}

/// The default `procs` for `cpus` CPUs and the cgroup files under `root` (`None`: do not look).
pub(crate) fn decide(cpus: usize, root: Option<&Path>, max: usize) -> Decision {
    let (limit, problem) = match root.map(cpu_limit) {
        None | Some(Ok(None)) => (None, None),
        Some(Ok(limit)) => (limit, None),
        Some(Err(e)) => (None, Some(e)),
    };
    Decision {
        procs: procs_for(cpus, limit, max),
        cpus,
        limit,
        problem,
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const V2_MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
";
    const V1_MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 30 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:5 - cgroup cgroup rw,memory
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:6 - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn rule_is_gos() {
        let l = |quota, period| Some(Limit { quota, period });
        // 1.5 CPUs round up to 2.
        assert_eq!(procs_for(8, l(150_000, 100_000), 1024), 2);
        // 0.5 CPUs: Go's floor of 2...
        assert_eq!(procs_for(8, l(50_000, 100_000), 1024), 2);
        // ...but never above the CPU count.
        assert_eq!(procs_for(1, l(50_000, 100_000), 1024), 1);
        // A limit above the CPU count changes nothing.
        assert_eq!(procs_for(4, l(800_000, 100_000), 1024), 4);
        assert_eq!(procs_for(16, l(400_000, 100_000), 1024), 4);
        assert_eq!(procs_for(16, l(400_001, 100_000), 1024), 5);
        assert_eq!(procs_for(6, None, 1024), 6);
        assert_eq!(procs_for(0, None, 1024), 1);
        assert_eq!(procs_for(4096, None, 1024), 1024);
    }

    #[test]
    fn proc_cgroup_v2_v1_and_precedence() {
        assert_eq!(
            parse_proc_cgroup("0::/kubepods/pod1/ctr\n").unwrap(),
            Some((Version::V2, "/kubepods/pod1/ctr".into()))
        );
        let v1 = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        assert_eq!(
            parse_proc_cgroup(v1).unwrap(),
            Some((Version::V1, "/docker/abc".into()))
        );
        // A v1 line without `cpu` (cpuacct alone, cpuset) does not count; the v2 line does.
        let mixed = "0::/user.slice\n3:cpuacct:/a\n2:cpuset:/b\n";
        assert_eq!(
            parse_proc_cgroup(mixed).unwrap(),
            Some((Version::V2, "/user.slice".into()))
        );
        assert_eq!(parse_proc_cgroup("5:memory:/x\n").unwrap(), None);
        assert_eq!(parse_proc_cgroup("").unwrap(), None);
        // Paths may contain ':'.
        assert_eq!(
            parse_proc_cgroup("0::/a:b\n").unwrap(),
            Some((Version::V2, "/a:b".into()))
        );
    }

    #[test]
    fn proc_cgroup_malformed() {
        assert!(parse_proc_cgroup("garbage\n").is_err());
        assert!(parse_proc_cgroup("0:/no-third-field\n").is_err());
        assert!(parse_proc_cgroup("x:cpu:/a\n").is_err());
        assert!(parse_proc_cgroup("0::relative\n").is_err());
    }

    #[test]
    fn mountinfo_v1_v2_escapes_and_malformed() {
        assert_eq!(
            parse_mountinfo(V2_MOUNTINFO, Version::V2).unwrap(),
            Some(Mount {
                root: "/".into(),
                mount_point: "/sys/fs/cgroup".into()
            })
        );
        assert_eq!(parse_mountinfo(V2_MOUNTINFO, Version::V1).unwrap(), None);
        assert_eq!(
            parse_mountinfo(V1_MOUNTINFO, Version::V1).unwrap(),
            Some(Mount {
                root: "/".into(),
                mount_point: "/sys/fs/cgroup/cpu,cpuacct".into()
            })
        );
        // No optional fields, an escaped space in the mount point.
        let esc = "40 1 0:30 /docker/x /sys/fs/my\\040cgroup rw - cgroup2 none rw\n";
        assert_eq!(
            parse_mountinfo(esc, Version::V2).unwrap(),
            Some(Mount {
                root: "/docker/x".into(),
                mount_point: "/sys/fs/my cgroup".into()
            })
        );
        assert!(parse_mountinfo("1 2 3\n", Version::V2).is_err());
        assert!(parse_mountinfo("1 2 0:1 / /x rw - cgroup2\n", Version::V2).is_err());
        assert!(parse_mountinfo("1 2 0:1 / /x\\04 rw - cgroup2 c rw\n", Version::V2).is_err());
    }

    #[test]
    fn limit_files() {
        assert_eq!(parse_cpu_max("max 100000\n").unwrap(), None);
        assert_eq!(
            parse_cpu_max("150000 100000\n").unwrap(),
            Some(Limit {
                quota: 150_000,
                period: 100_000
            })
        );
        assert!(parse_cpu_max("").is_err());
        assert!(parse_cpu_max("150000\n").is_err());
        assert!(parse_cpu_max("abc 100000\n").is_err());
        assert!(parse_cpu_max("150000 0\n").is_err());
        assert!(parse_cpu_max("1 2 3\n").is_err());
        assert_eq!(parse_cfs("-1\n", "100000\n").unwrap(), None);
        assert_eq!(
            parse_cfs("50000\n", "100000\n").unwrap(),
            Some(Limit {
                quota: 50_000,
                period: 100_000
            })
        );
        assert!(parse_cfs("lots\n", "100000\n").is_err());
        assert!(parse_cfs("50000\n", "0\n").is_err());
    }

    #[test]
    fn cgroup_dir_strips_the_mount_root() {
        let m = |root: &str| Mount {
            root: root.into(),
            mount_point: "/sys/fs/cgroup".into(),
        };
        assert_eq!(cgroup_dir(&m("/"), "/"), "/sys/fs/cgroup");
        assert_eq!(cgroup_dir(&m("/"), "/a/b"), "/sys/fs/cgroup/a/b");
        assert_eq!(cgroup_dir(&m("/docker/x"), "/docker/x"), "/sys/fs/cgroup");
        assert_eq!(
            cgroup_dir(&m("/docker/x"), "/docker/x/y"),
            "/sys/fs/cgroup/y"
        );
        // Not a prefix at a path boundary: kept whole.
        assert_eq!(
            cgroup_dir(&m("/docker/x"), "/docker/xy"),
            "/sys/fs/cgroup/docker/xy"
        );
    }

    /// A fresh fake root under the temp dir.
    fn fake_root(files: &[(&str, &str)]) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gmp-cgroup-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, contents) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, contents).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn limit_in(files: &[(&str, &str)]) -> Result<Option<Limit>, String> {
        let root = fake_root(files);
        let r = cpu_limit(&root);
        std::fs::remove_dir_all(&root).unwrap();
        r
    }

    #[test]
    fn fake_root_v2_nested() {
        let root = fake_root(&[
            ("proc/self/cgroup", "0::/kubepods.slice/pod7/ctr\n"),
            ("proc/self/mountinfo", V2_MOUNTINFO),
            ("sys/fs/cgroup/kubepods.slice/cpu.max", "100000 100000\n"),
            (
                "sys/fs/cgroup/kubepods.slice/pod7/ctr/cpu.max",
                "350000 100000\n",
            ),
        ]);
        // The leaf's limit, as Go reads it (not the parent's tighter one).
        let d = decide(8, Some(&root), 1024);
        assert_eq!((d.procs, d.problem), (4, None));
        assert_eq!(d.limit.unwrap().cpus_ceil(), 4);
        // Not looking at all: the CPU count.
        let d = decide(8, None, 1024);
        assert_eq!((d.procs, d.limit, d.problem), (8, None, None));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn fake_root_v2_max_and_v1() {
        let max = limit_in(&[
            ("proc/self/cgroup", "0::/\n"),
            ("proc/self/mountinfo", V2_MOUNTINFO),
            ("sys/fs/cgroup/cpu.max", "max 100000\n"),
        ]);
        assert_eq!(max, Ok(None));
        let v1 = limit_in(&[
            ("proc/self/cgroup", "4:cpu,cpuacct:/docker/abc\n0::/\n"),
            ("proc/self/mountinfo", V1_MOUNTINFO),
            (
                "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us",
                "250000\n",
            ),
            (
                "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us",
                "100000\n",
            ),
        ])
        .unwrap();
        assert_eq!(v1.unwrap().cpus_ceil(), 3);
    }

    #[test]
    fn fake_root_missing_and_malformed() {
        // Nothing at all, or no limit file (no cpu controller): no limit, no complaint.
        assert_eq!(limit_in(&[]), Ok(None));
        assert_eq!(
            limit_in(&[
                ("proc/self/cgroup", "0::/a\n"),
                ("proc/self/mountinfo", V2_MOUNTINFO),
            ]),
            Ok(None)
        );
        assert_eq!(limit_in(&[("proc/self/cgroup", "0::/a\n")]), Ok(None));
        // Malformed files are errors (reported under GMPDEBUG), and mean no limit.
        let e = limit_in(&[("proc/self/cgroup", "nonsense\n")]).unwrap_err();
        assert!(e.contains("/proc/self/cgroup"), "{e}");
        let e = limit_in(&[
            ("proc/self/cgroup", "0::/\n"),
            ("proc/self/mountinfo", "broken line\n"),
        ])
        .unwrap_err();
        assert!(e.contains("mountinfo"), "{e}");
        let files = [
            ("proc/self/cgroup", "0::/\n"),
            ("proc/self/mountinfo", V2_MOUNTINFO),
            ("sys/fs/cgroup/cpu.max", "lots\n"),
        ];
        let e = limit_in(&files).unwrap_err();
        assert!(e.contains("cpu.max"), "{e}");
        let root = fake_root(&files);
        let d = decide(3, Some(&root), 1024);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!((d.procs, d.limit), (3, None));
        assert!(d.problem.unwrap().contains("cpu.max"));
        // Unreadable: a directory where the file should be.
        let root = fake_root(&[("proc/self/mountinfo", V2_MOUNTINFO)]);
        std::fs::create_dir_all(root.join("proc/self/cgroup")).unwrap();
        let e = cpu_limit(&root).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(e.contains("cannot read"), "{e}");
    }
}
