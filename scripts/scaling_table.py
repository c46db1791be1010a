#!/usr/bin/env python3
"""Print the scaling table from `scripts/scaling.sh run` output.

Reads OUTDIR/p<N>/<shape>/{gmp,tokio}/new/estimates.json for every worker count N
found and prints two markdown tables:

1. ratio gmp/tokio of medians per shape (rows) and worker count (columns); below 1.0
   gmp is faster;
2. the medians themselves, "gmp / tokio", so a reader sees how each runtime scales
   (for tcp_echo, criterion's time per iteration of 100,000 round trips).

Usage: python3 scripts/scaling_table.py OUTDIR
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ratios import SHAPES, fmt_time, median_ns  # noqa: E402

EXTRA = ["tcp_echo", "timers_100k"]


def counts(outdir):
    found = []
    for name in os.listdir(outdir):
        m = re.fullmatch(r"p(\d+)", name)
        if m and os.path.isdir(os.path.join(outdir, name)):
            found.append(int(m.group(1)))
    return sorted(found)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    outdir = argv[1]
    if not os.path.isdir(outdir):
        print("no directory %s" % outdir, file=sys.stderr)
        return 1
    ns = counts(outdir)
    if not ns:
        print("no p<N> directories under %s" % outdir, file=sys.stderr)
        return 1

    medians = {}
    for n in ns:
        crit = os.path.join(outdir, "p%d" % n)
        for shape in SHAPES + EXTRA:
            medians[(shape, n)] = (
                median_ns(crit, shape, "gmp"),
                median_ns(crit, shape, "tokio"),
            )
    shapes = [s for s in SHAPES + EXTRA if any(medians[(s, n)] != (None, None) for n in ns)]
    if not shapes:
        print("no gmp/tokio estimates under %s" % outdir, file=sys.stderr)
        return 1

    head = "| shape | " + " | ".join("%d worker%s" % (n, "" if n == 1 else "s") for n in ns) + " |"
    rule = "|---|" + "---:|" * len(ns)

    def table(title, cell):
        print(title + "\n")
        print(head)
        print(rule)
        for shape in shapes:
            print("| %s | %s |" % (shape, " | ".join(cell(*medians[(shape, n)]) for n in ns)))

    table(
        "gmp/tokio, ratio of medians (lower is better for gmp)",
        lambda g, t: "%.2f" % (g / t) if g is not None and t else "n/a",
    )
    print()
    table("medians, gmp / tokio", lambda g, t: "%s / %s" % (fmt_time(g), fmt_time(t)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
