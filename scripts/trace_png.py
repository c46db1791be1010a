#!/usr/bin/env python3
"""Render a gmp flight-recorder trace (Chrome trace-event JSON, from Handle::write_trace or
GMPDEBUG=tracefile) to a PNG timeline: one row per track (P0, P1, ..., then the Ms), each
poll a bar coloured by spawn site, instants (steal, handoff, retake, preempt, rescue) as
labelled markers.

    python3 scripts/trace_png.py trace.json out.png [--from-ms A --to-ms B]

Needs matplotlib (installed with pip if missing). Not run in CI.
"""
import argparse
import json
import subprocess
import sys

try:
    import matplotlib
except ImportError:  # pragma: no cover
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--user", "matplotlib"])
    import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MARKED = {"steal": "^", "handoff": "s", "retake": "D", "preempt": "v", "rescue": "*"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("png")
    ap.add_argument("--from-ms", type=float, default=None)
    ap.add_argument("--to-ms", type=float, default=None)
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    with open(a.trace) as f:
        events = json.load(f)["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    used = {e["tid"] for e in events if e.get("ph") in ("X", "i")}
    tids = sorted(t for t in names if t in used or names[t].startswith("P"))
    row = {t: i for i, t in enumerate(tids)}
    data = [e for e in events if e.get("ph") in ("X", "i") and e["tid"] in row]
    if not data:
        sys.exit("no events to draw")
    t0 = min(e["ts"] for e in data)
    lo = a.from_ms if a.from_ms is not None else 0.0
    hi = a.to_ms if a.to_ms is not None else max(
        (e["ts"] + e.get("dur", 0) - t0) / 1000 for e in data)
    sites = sorted({e["name"] for e in data if e["ph"] == "X"})
    cmap = plt.get_cmap("tab10")
    colour = {s: cmap(i % 10) for i, s in enumerate(sites)}
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(tids) + 1.8), dpi=90)
    for e in data:
        start = (e["ts"] - t0) / 1000
        y = row[e["tid"]]
        if e["ph"] == "X":
            dur = e["dur"] / 1000
            if start + dur < lo or start > hi:
                continue
            ax.barh(y, max(dur, (hi - lo) / 2000), left=start, height=0.6,
                    color=colour[e["name"]], edgecolor="none")
        else:
            kind = e["name"].split()[0]
            if kind not in MARKED or not lo <= start <= hi:
                continue
            big = kind == "rescue"
            ax.plot(start, y, MARKED[kind], color="red" if big else "black",
                    markeredgecolor="white", markersize=14 if big else 6)
            if big:
                ax.annotate(e["name"], (start, y), xytext=(6, -14),
                            textcoords="offset points", fontsize=8, color="red")
    ax.set_yticks(range(len(tids)))
    ax.set_yticklabels([names[t] for t in tids])
    ax.invert_yaxis()
    ax.set_xlim(lo, hi)
    ax.set_xlabel("ms")
    ax.set_title(a.title or "gmp flight recorder: " + a.trace.split("/")[-1], fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[s]) for s in sites[:6]]
    handles += [plt.Line2D([], [], marker=m, ls="", color="red" if k == "rescue" else "black")
                for k, m in MARKED.items()]
    labels = [s.split("/")[-1] for s in sites[:6]] + list(MARKED)
    ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18),
              ncol=min(len(labels), 6), frameon=False)
    fig.tight_layout()
    fig.savefig(a.png)
    print(f"wrote {a.png}: {len(tids)} tracks, {len(data)} events")


if __name__ == "__main__":
    main()
