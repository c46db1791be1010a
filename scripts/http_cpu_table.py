#!/usr/bin/env python3
"""Tables for scripts/http_cpu.sh.

  http_cpu_table.py cpu ROWS.tsv
      Per runtime and connection count, medians over the runs: req/s, server CPU per
      request (us; user and system), context switches per request (voluntary, i.e. a
      thread slept and was woken, and involuntary), and gmp/tokio ratios; then the
      ratios per round (each round's A B B A quadruple compared on its own, as
      scripts/abba.sh does), which a step in the machine's speed between rounds does not
      skew the way it skews medians pooled over rounds.
  http_cpu_table.py perf PERF.tsv
      Kernel counters per request from `perf stat` runs (runtime, conns, run, requests,
      event, count rows): medians over the runs, gmp and tokio side by side.
  http_cpu_table.py strace NAME FILE REQUESTS [NAME FILE REQUESTS ...]
      System calls per request from `strace -c` summaries: total, epoll_wait (any
      variant), and the calls that make up most of them, side by side.
"""

import csv
import re
import statistics
import sys


def cpu(path):
    runs = {}
    order = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            key = (r["runtime"], int(r["conns"]))
            if r["runtime"] not in order:
                order.append(r["runtime"])
            n = float(r["requests"])
            runs.setdefault(key, []).append(
                {
                    "round": r["round"],
                    "n": n,
                    "secs": float(r["utime_s"]) + float(r["stime_s"]),
                    "rps": float(r["rps"]),
                    "cpu": (float(r["utime_s"]) + float(r["stime_s"])) * 1e6 / n,
                    "usr": float(r["utime_s"]) * 1e6 / n,
                    "sys": float(r["stime_s"]) * 1e6 / n,
                    "vcs": float(r["vol_cs"]) / n,
                    "ics": float(r["invol_cs"]) / n,
                    "load": float(r["load1"]),
                }
            )
    med = lambda rs, k: statistics.median(x[k] for x in rs)
    print(
        "%-6s %5s | %9s | %7s %-13s | %6s %6s | %8s %8s | %s"
        % ("rt", "conns", "req/s", "us/req", "(range)", "usr", "sys", "vol cs", "inv cs", "load1")
    )
    print("-" * 96)
    for conns in sorted({c for _, c in runs}):
        for rt in order:
            rs = runs.get((rt, conns))
            if not rs:
                continue
            print(
                "%-6s %5d | %9.0f | %7.2f %-13s | %6.2f %6.2f | %8.4f %8.4f | %s"
                % (
                    rt,
                    conns,
                    med(rs, "rps"),
                    med(rs, "cpu"),
                    "(%.2f-%.2f)" % (min(x["cpu"] for x in rs), max(x["cpu"] for x in rs)),
                    med(rs, "usr"),
                    med(rs, "sys"),
                    med(rs, "vcs"),
                    med(rs, "ics"),
                    "/".join("%.1f" % x["load"] for x in rs),
                )
            )
        g, t = runs.get(("gmp", conns)), runs.get(("tokio", conns))
        if g and t:
            print(
                "gmp/tokio -c%d: req/s %.2f, CPU/req %.2f (user %.2f, system %.2f), vol cs/req %.2f"
                % (
                    conns,
                    med(g, "rps") / med(t, "rps"),
                    med(g, "cpu") / med(t, "cpu"),
                    med(g, "usr") / med(t, "usr"),
                    med(g, "sys") / med(t, "sys"),
                    med(g, "vcs") / med(t, "vcs") if med(t, "vcs") else float("nan"),
                )
            )
            per_round(g, t)
        print()
    print("(us/req: server utime+stime per completed request, medians over the runs; cs: context switches)")


def per_round(g, t):
    """gmp/tokio per round: requests/s summed over the round's runs, and CPU seconds over
    requests pooled within the round; then the medians of those ratios."""
    rps, cpu = [], []
    for rd in sorted({x["round"] for x in g} & {x["round"] for x in t}, key=int):
        gr = [x for x in g if x["round"] == rd]
        tr = [x for x in t if x["round"] == rd]
        rps.append(sum(x["rps"] for x in gr) / len(gr) / (sum(x["rps"] for x in tr) / len(tr)))
        cpu.append(
            (sum(x["secs"] for x in gr) / sum(x["n"] for x in gr))
            / (sum(x["secs"] for x in tr) / sum(x["n"] for x in tr))
        )
    if rps:
        print(
            "  per round: req/s %s (median %.2f), CPU/req %s (median %.2f)"
            % (
                " ".join("%.2f" % x for x in rps),
                statistics.median(rps),
                " ".join("%.2f" % x for x in cpu),
                statistics.median(cpu),
            )
        )


LINE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")


def parse_strace(path):
    calls = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if m and m.group(3) != "total":
                calls[m.group(3)] = int(m.group(1))
    if not calls:
        sys.exit("http_cpu_table.py: no strace -c summary in %s" % path)
    return calls


def strace(args):
    if len(args) % 3 or not args:
        sys.exit(__doc__)
    names, per = [], {}
    for i in range(0, len(args), 3):
        name, path, reqs = args[i : i + 3]
        try:
            reqs = int(reqs)
        except ValueError:
            reqs = 0
        if reqs <= 0:
            sys.exit("http_cpu_table.py: %s completed no requests under strace" % name)
        names.append(name)
        per[name] = {k: v / reqs for k, v in parse_strace(path).items()}
        per[name]["(requests)"] = reqs
    top = sorted(
        {k for n in names for k in per[n] if k != "(requests)"},
        key=lambda k: -max(per[n].get(k, 0) for n in names),
    )
    print("%-16s" % "per request" + "".join("%12s" % n for n in names))
    total = lambda n: sum(v for k, v in per[n].items() if k != "(requests)")
    epoll = lambda n: sum(v for k, v in per[n].items() if k.startswith("epoll_wait") or k.startswith("epoll_pwait"))
    print("%-16s" % "all syscalls" + "".join("%12.3f" % total(n) for n in names))
    print("%-16s" % "epoll_wait*" + "".join("%12.3f" % epoll(n) for n in names))
    for k in top[:10]:
        print("%-16s" % k + "".join("%12.3f" % per[n].get(k, 0) for n in names))
    print("%-16s" % "(requests)" + "".join("%12d" % per[n]["(requests)"] for n in names))


def perf(path):
    runs = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            reqs = float(r["requests"] or 0)
            if reqs <= 0:
                sys.exit("http_cpu_table.py: a perf run completed no requests: %r" % r)
            ev = r["event"]
            key = (int(r["conns"]), r["runtime"], r["run"])
            scale = 1000.0 if ev == "task-clock" else 1.0  # perf reports msec: show us
            evs = runs.setdefault(key, {})
            evs[ev] = evs.get(ev, 0.0) + float(r["count"]) * scale / reqs  # pairs add up
    names = []
    for _, n, _ in sorted(runs):
        if n not in names:
            names.append(n)
    names.sort(key=lambda n: (n != "gmp", n))
    for conns in sorted({c for c, _, _ in runs}):
        per = {}
        for (c, n, _), evs in runs.items():
            if c == conns:
                for ev, v in evs.items():
                    per.setdefault(n, {}).setdefault(ev, []).append(v)
        events = sorted({ev for n in per for ev in per[n]}, key=lambda e: (e != "task-clock", e != "syscalls", e))
        print("-c%d, per request%s" % (conns, "".join("%12s" % n for n in names)) + ("%12s" % "gmp/tokio" if "gmp" in per and "tokio" in per else ""))
        for ev in events:
            meds = {n: statistics.median(per[n][ev]) if ev in per.get(n, {}) else 0.0 for n in names}
            label = ev + (" (us)" if ev == "task-clock" else "")
            line = "%-27s" % label[:27] + "".join("%12.4f" % meds[n] for n in names)
            if "gmp" in meds and "tokio" in meds:
                line += "%12s" % ("%.2f" % (meds["gmp"] / meds["tokio"]) if meds["tokio"] else "-")
            if max(meds.values()) > 0:
                print(line)
        print()


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "cpu":
        cpu(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "perf":
        perf(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "strace":
        strace(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
