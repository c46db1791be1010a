#!/usr/bin/env python3
"""Summarise scripts/bad_neighbour.sh's per-run rows: a table and, optionally, a plot.

For each runtime and scenario (none, block, spin): the median over the runs of req/s and
of the p50, p99 and max latency of "/" (ms), with the range of p99 and max over the runs;
then each runtime's p99 and max with a neighbour as a multiple of its own no-neighbour
figure (issue 21's target for gmp: at most 1.2x) and as a ratio to tokio's.

Usage: python3 scripts/bad_neighbour_table.py ROWS.tsv [--plot OUT.png [--title T] [--ms N]]
(the plot needs matplotlib: pip install matplotlib)
"""

import argparse
import csv
import statistics
import sys

SCENARIOS = ("none", "block", "spin")


def load(path):
    runs = {}
    order = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rt = row["runtime"]
            if rt not in order:
                order.append(rt)
            try:
                vals = {k: float(row[k]) for k in ("rps", "p50_ms", "p99_ms", "max_ms", "load1")}
            except ValueError:
                sys.exit("bad_neighbour_table.py: a row without figures (did wrk fail?): %r" % row)
            vals["errors"] = int(float(row["errors"] or 0))
            vals["neighbour_reqs"] = int(float(row["neighbour_reqs"] or 0))
            runs.setdefault((rt, row["scenario"]), []).append(vals)
    if not runs:
        sys.exit("bad_neighbour_table.py: no rows in %s" % path)
    return order, runs


def med(rs, k):
    return statistics.median(r[k] for r in rs)


def rng(rs, k):
    lo, hi = min(r[k] for r in rs), max(r[k] for r in rs)
    return "%.1f-%.1f" % (lo, hi) if len(rs) > 1 else "%.1f" % lo


def table(order, runs):
    print(
        "%-6s %-6s | %9s | %6s | %6s %-11s | %6s %-11s | %6s | %7s | %s"
        % ("rt", "scen", "req/s", "p50", "p99", "(range)", "max", "(range)", "nbr", "errors", "load1")
    )
    print("-" * 104)
    for rt in order:
        for sc in SCENARIOS:
            rs = runs.get((rt, sc))
            if not rs:
                continue
            print(
                "%-6s %-6s | %9.0f | %6.2f | %6.2f %-11s | %6.1f %-11s | %6s | %7d | %s"
                % (
                    rt,
                    sc,
                    med(rs, "rps"),
                    med(rs, "p50_ms"),
                    med(rs, "p99_ms"),
                    "(" + rng(rs, "p99_ms") + ")",
                    med(rs, "max_ms"),
                    "(" + rng(rs, "max_ms") + ")",
                    "-" if sc == "none" else "%d" % med(rs, "neighbour_reqs"),
                    sum(r["errors"] for r in rs),
                    "/".join("%.1f" % r["load1"] for r in rs),
                )
            )
    counts = ", ".join("%s %d" % (rt, len(runs.get((rt, "none"), []))) for rt in order)
    print("(latencies of / in ms, medians over the runs (%s); nbr = neighbour requests served per run)" % counts)
    print()
    print("%-6s %-6s | %12s %12s | %12s %12s" % ("rt", "scen", "p99/own none", "max/own none", "p99/tokio", "max/tokio"))
    print("-" * 68)
    for rt in order:
        base = runs.get((rt, "none"))
        for sc in ("block", "spin"):
            rs = runs.get((rt, sc))
            tk = runs.get(("tokio", sc))
            if not rs or not base:
                continue
            print(
                "%-6s %-6s | %12.2f %12.2f | %12s %12s"
                % (
                    rt,
                    sc,
                    med(rs, "p99_ms") / med(base, "p99_ms"),
                    med(rs, "max_ms") / med(base, "max_ms"),
                    "%.2f" % (med(rs, "p99_ms") / med(tk, "p99_ms")) if tk else "n/a",
                    "%.2f" % (med(rs, "max_ms") / med(tk, "max_ms")) if tk else "n/a",
                )
            )


def plot(order, runs, out, title, ms):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("bad_neighbour_table.py: matplotlib is not installed (pip install matplotlib); no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    width = 0.8 / len(order)
    colors = {"gmp": "#1f77b4", "tokio": "#ff7f0e", "go": "#2ca02c"}
    for ax, key, panel in ((axes[0], "p99_ms", "p99 of / (ms)"), (axes[1], "max_ms", "max of / (ms)")):
        for i, rt in enumerate(order):
            xs, ys, lo, hi = [], [], [], []
            for j, sc in enumerate(SCENARIOS):
                rs = runs.get((rt, sc))
                if not rs:
                    continue
                m = med(rs, key)
                xs.append(j + (i - (len(order) - 1) / 2) * width)
                ys.append(m)
                lo.append(m - min(r[key] for r in rs))
                hi.append(max(r[key] for r in rs) - m)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=rt, color=colors.get(rt))
        ax.set_xticks(range(len(SCENARIOS)))
        ax.set_xticklabels(["no neighbour", "/block/%s" % ms, "/spin/%s" % ms])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(panel, fontsize=10)
        ax.grid(axis="y", alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle(title + " (bars: median, whiskers: range)", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print("plot:", out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows")
    ap.add_argument("--plot", help="PNG to write")
    ap.add_argument("--title", default="bad neighbour: latency of /", help="plot title")
    ap.add_argument("--ms", default="N", help="N of /block/N and /spin/N, for the labels")
    a = ap.parse_args()
    order, runs = load(a.rows)
    table(order, runs)
    if a.plot:
        plot(order, runs, a.plot, a.title, a.ms)


if __name__ == "__main__":
    main()
