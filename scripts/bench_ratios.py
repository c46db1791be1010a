#!/usr/bin/env python3
"""Print a markdown table of gmp vs tokio (and smol) medians from criterion output.

Reads target/criterion/<shape>/{gmp,tokio}/new/estimates.json (written by
`cargo bench --bench rt_multi_threaded`, `net_time`, `blocking`) and prints, per
shape, the gmp median, the tokio median and the ratio gmp/tokio
(median.point_estimate, ns). A ratio above 1.0 means gmp is slower.

When any shape also has target/criterion/<shape>/smol/, two more columns
follow: the smol median and the ratio smol/tokio.

Usage: python3 scripts/bench_ratios.py [CRITERION_DIR]
       (default: target/criterion under the workspace root, or $CARGO_TARGET_DIR)
"""

import json
import os
import sys

SHAPES = [
    "spawn_many_local",
    "spawn_many_remote_idle",
    "spawn_many_remote_busy",
    "yield_many",
    "ping_pong",
    "chained_spawn",
]
RUNTIMES = ("gmp", "tokio")


def default_dir():
    target = os.environ.get("CARGO_TARGET_DIR")
    if not target:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        target = os.path.join(root, "target")
    return os.path.join(target, "criterion")


def median_ns(crit_dir, shape, runtime):
    path = os.path.join(crit_dir, shape, runtime, "new", "estimates.json")
    try:
        with open(path) as f:
            return float(json.load(f)["median"]["point_estimate"])
    except (OSError, KeyError, ValueError, TypeError):
        return None


def fmt_time(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return "%.3f %s" % (ns / scale, unit)
    return "%.1f ns" % ns


def main(argv):
    crit_dir = argv[1] if len(argv) > 1 else default_dir()
    if not os.path.isdir(crit_dir):
        print("no criterion output at %s" % crit_dir, file=sys.stderr)
        return 1

    # Known shapes first (in bench order), then any other group that has both.
    shapes = list(SHAPES)
    for name in sorted(os.listdir(crit_dir)):
        if name not in shapes and all(
            os.path.isdir(os.path.join(crit_dir, name, r)) for r in RUNTIMES
        ):
            shapes.append(name)

    with_smol = any(median_ns(crit_dir, shape, "smol") is not None for shape in shapes)
    if with_smol:
        print("| shape | gmp median | tokio median | smol median | gmp/tokio | smol/tokio |")
        print("|---|---:|---:|---:|---:|---:|")
    else:
        print("| shape | gmp median | tokio median | gmp/tokio |")
        print("|---|---:|---:|---:|")
    found = 0
    for shape in shapes:
        g = median_ns(crit_dir, shape, "gmp")
        t = median_ns(crit_dir, shape, "tokio")
        if g is None and t is None:
            continue
        found += 1
        ratio = "%.2fx" % (g / t) if g is not None and t else "n/a"
        if with_smol:
            m = median_ns(crit_dir, shape, "smol")
            smol_ratio = "%.2fx" % (m / t) if m is not None and t else "n/a"
            print(
                "| %s | %s | %s | %s | %s | %s |"
                % (shape, fmt_time(g), fmt_time(t), fmt_time(m), ratio, smol_ratio)
            )
        else:
            print("| %s | %s | %s | %s |" % (shape, fmt_time(g), fmt_time(t), ratio))
    if not found:
        print("no gmp/tokio estimates found under %s" % crit_dir, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
