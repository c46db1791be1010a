#!/usr/bin/env python3
"""Plot gmp/tokio (and smol/tokio) ratios per bench shape as a PNG.

Reads criterion's output, target/criterion/<shape>/<runtime>/new/estimates.json
(median.point_estimate), for the shapes of `rt_multi_threaded`, `net_time` and
`blocking` (plus any other group with both a gmp and a tokio function), and the
idle-memory results, target/criterion/idle_memory/results.json (written by
`cargo bench --bench idle_memory`; heap bytes per parked task). Missing shapes or
runtimes are skipped. `tail_latency` is not plotted: it prints percentiles and
writes no criterion output.

Every bar is a ratio to tokio (1.0, the vertical line), lower is better: time
ratios for the time shapes (for `tcp_echo` the time for a fixed number of round
trips, i.e. the inverse of the throughput ratio) and bytes per task for
idle_memory. Markers show issue 7's gmp targets (a throughput target of >= 1.10
is drawn as a time ratio of <= 1/1.10).

Usage: python3 scripts/plot_ratios.py [-o OUT.png] [CRITERION_DIR]
       (default OUT: BENCHMARKS.png at the repository root; default
       CRITERION_DIR: target/criterion under the workspace root, or
       $CARGO_TARGET_DIR/criterion)
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (criterion group, label, issue 7 gmp target as a lower-is-better ratio or None),
# in bench order.
SHAPES = [
    ("spawn_many_local", "spawn_many_local (10k from a task)", 0.40),
    ("spawn_many_remote_idle", "spawn_many_remote_idle (10k from outside)", 0.40),
    ("spawn_many_remote_busy", "spawn_many_remote_busy (10k, workers busy)", None),
    ("yield_many", "yield_many (200 x 1,000)", 0.90),
    ("ping_pong", "ping_pong (1,000 pairs)", 0.75),
    ("chained_spawn", "chained_spawn (1,000)", 0.55),
    ("tcp_echo", "tcp_echo (50 x 2,000 x 64B; time = 1/throughput)", 1 / 1.10),
    ("timers_100k", "timers_100k (100k sleeps of 1..10ms)", 0.85),
    ("timers_cancel_1m", "timers_cancel_1m (1M cancelled timeouts)", None),
    ("timers_cancel_pending_100k", "timers_cancel_pending_100k", None),
    ("spawn_blocking_trivial", "spawn_blocking_trivial", None),
    ("spawn_blocking_200x20ms", "spawn_blocking_200x20ms", None),
]
IDLE = ("idle_memory", "idle_memory (heap bytes/task, 100k parked)", 0.30)
OTHERS = ("smol",)


# The criterion readers are bench_ratios.py's (same directory).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ratios import default_dir, median_ns  # noqa: E402


def idle_memory(crit_dir):
    """{runtime: heap bytes per task} from idle_memory/results.json, or {}."""
    path = os.path.join(crit_dir, "idle_memory", "results.json")
    try:
        with open(path) as f:
            runtimes = json.load(f)["runtimes"]
        return {
            name: float(r["heap_bytes_per_task"])
            for name, r in runtimes.items()
            if r.get("heap_bytes_per_task") is not None
        }
    except (OSError, KeyError, ValueError, TypeError, AttributeError):
        return {}


def collect(crit_dir):
    """Rows (shape, label, target, {runtime: ratio to tokio}), in plot order, top first."""
    rows = []
    known = {s for s, _, _ in SHAPES} | {IDLE[0]}
    extra = []
    if os.path.isdir(crit_dir):
        for name in sorted(os.listdir(crit_dir)):
            if name not in known and all(
                os.path.isdir(os.path.join(crit_dir, name, r)) for r in ("gmp", "tokio")
            ):
                extra.append((name, name, None))
    for shape, label, target in SHAPES + extra:
        tokio = median_ns(crit_dir, shape, "tokio")
        if not tokio:
            continue
        ratios = {}
        for runtime in ("gmp",) + OTHERS:
            m = median_ns(crit_dir, shape, runtime)
            if m is not None:
                ratios[runtime] = m / tokio
        if ratios:
            rows.append((shape, label, target, ratios))
    mem = idle_memory(crit_dir)
    if mem.get("tokio"):
        ratios = {r: mem[r] / mem["tokio"] for r in ("gmp",) + OTHERS if r in mem}
        if ratios:
            label = "%s\n(tokio: %.0f B" % (IDLE[1], mem["tokio"])
            label += "".join(", %s: %.0f B" % (r, mem[r]) for r in ("gmp",) + OTHERS if r in mem)
            rows.append((IDLE[0], label + ")", IDLE[2], ratios))
    return rows


def procs_note(crit_dir):
    try:
        with open(os.path.join(crit_dir, "idle_memory", "results.json")) as f:
            procs = {r["procs"] for r in json.load(f)["runtimes"].values()}
        if len(procs) == 1:
            return "%d workers" % procs.pop()
    except (OSError, KeyError, ValueError, TypeError, AttributeError):
        pass
    return "BENCH_PROCS workers (default 2)"


def plot(rows, out, note):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FixedLocator, NullLocator
    except ImportError:
        print(
            "plot_ratios: matplotlib is not installed; install it with "
            "`pip install matplotlib` (or your distribution's python3-matplotlib)",
            file=sys.stderr,
        )
        return 2

    runtimes = ["gmp"] + [r for r in OTHERS if any(r in rat for _, _, _, rat in rows)]
    colors = {"gmp": "#1f77b4", "smol": "#ff7f0e"}
    n = len(rows)
    bar_h = 0.8 / len(runtimes)
    fig, ax = plt.subplots(figsize=(11, 0.32 * n * len(runtimes) + 0.3 * n + 2.0))

    all_ratios = [v for _, _, _, rat in rows for v in rat.values()] + [
        t for _, _, t, _ in rows if t
    ]
    lo = min(all_ratios + [1.0]) / 1.6
    hi = max(all_ratios + [1.0]) * 1.6

    seen = set()
    for i, (_, _, target, ratios) in enumerate(rows):
        y0 = n - 1 - i  # first row on top
        for j, runtime in enumerate(runtimes):
            if runtime not in ratios:
                continue
            y = y0 + 0.4 - bar_h * (j + 0.5)
            v = ratios[runtime]
            ax.barh(
                y,
                v - lo,
                left=lo,
                height=bar_h * 0.9,
                color=colors.get(runtime, "#7f7f7f"),
                label=None if runtime in seen else runtime + "/tokio",
            )
            seen.add(runtime)
            ax.text(v * 1.03, y, "%.2f" % v, va="center", fontsize=8)
        if target:
            ax.plot(
                [target, target],
                [y0 - 0.42, y0 + 0.42],
                color="black",
                linestyle=":",
                linewidth=1.5,
            )

    ax.axvline(1.0, color="black", linewidth=1.2)
    ax.text(1.0, n - 0.45, " tokio = 1.0", fontsize=8, va="bottom")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ticks = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50)
    ticks = [t for t in ticks if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels(["%g" % t for t in ticks])
    ax.set_yticks(range(n))
    ax.set_yticklabels([label for _, label, _, _ in reversed(rows)], fontsize=9)
    ax.set_ylim(-0.6, n - 0.1)
    ax.set_xlabel(
        "ratio to tokio of medians (time; bytes for idle_memory), log scale: "
        "lower is better"
    )
    ax.set_title("gmp (and smol) vs tokio, %s: lower is better" % note, pad=22)
    handles, labels = ax.get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([0], [0], color="black", linestyle=":", linewidth=1.5))
    labels.append("gmp target (issue 7)")
    ax.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(labels),
        fontsize=8,
        frameon=False,
    )
    ax.grid(axis="x", linestyle="--", alpha=0.4)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print("plot_ratios: wrote %s (%d shapes)" % (out, n))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("criterion_dir", nargs="?", default=default_dir())
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "BENCHMARKS.png"))
    args = ap.parse_args(argv[1:])

    rows = collect(args.criterion_dir)
    if not rows:
        print(
            "plot_ratios: no gmp/tokio estimates or idle_memory results under %s "
            "(run the benches first)" % args.criterion_dir,
            file=sys.stderr,
        )
        return 1
    plotted = {shape for shape, _, _, _ in rows}
    missing = [s for s, _, _ in SHAPES + [IDLE] if s not in plotted]
    if missing:
        print("plot_ratios: no data for: %s" % ", ".join(missing), file=sys.stderr)
    return plot(rows, args.output, procs_note(args.criterion_dir))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
