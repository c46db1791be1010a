#!/usr/bin/env bash
# The scaling table: gmp vs. tokio at several worker counts (default 1 2 4 8 16), the
# scheduler shapes of `rt_multi_threaded` plus `tcp_echo` and `timers_100k` of `net_time`.
#
# Three steps, so that the runs can go to a bigger machine that has no Rust toolchain
# (the device machine: build here, carry the binaries, run there, tabulate here):
#
#   scripts/scaling.sh build [BINDIR]             # build both bench binaries, strip them and
#                                                 # copy them to BINDIR (default
#                                                 # target/scaling-bin, ~10 MiB in all)
#   scripts/scaling.sh run BINDIR OUTDIR [N ...]  # every shape at every count N, gmp and
#                                                 # tokio, one criterion run per count, its
#                                                 # output under OUTDIR/p<N>/
#   python3 scripts/scaling_table.py OUTDIR       # the markdown table (medians, ratios)
#
# `run` sets BENCH_PROCS=N (the worker count of both runtimes, see benches/support) and
# CRITERION_HOME=OUTDIR/p<N>. Criterion's sample size and times are short so that five
# counts fit in about six minutes on 16 cores; raise them with the environment:
#   SCALING_SAMPLES (default 10), SCALING_MEASURE (s, default 1), SCALING_WARMUP (s, 0.5).
# Run logs go to OUTDIR/p<N>/*.log; a failing bench stops the run with its exit status.
set -euo pipefail

cd "$(dirname "$0")/.."

usage() {
    sed -n '2,20p' "$0" >&2
    exit 2
}

build() {
    local bindir=${1:-target/scaling-bin}
    mkdir -p "$bindir"
    local name path
    for name in rt_multi_threaded net_time; do
        # The executable's path is the last "executable" line of cargo's JSON messages.
        path=$(cargo bench --no-run --bench "$name" --message-format=json 2>/dev/null |
            python3 -c 'import json,sys
exe=[m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")]
print(exe[-1] if exe else "")')
        if [ -z "$path" ] || [ ! -x "$path" ]; then
            echo "scaling.sh: could not build bench $name" >&2
            exit 1
        fi
        strip -o "$bindir/$name" "$path"
    done
    ls -la "$bindir"
}

run() {
    [ $# -ge 2 ] || usage
    local bindir=$1 outdir=$2
    shift 2
    local counts=("$@")
    [ ${#counts[@]} -gt 0 ] || counts=(1 2 4 8 16)
    local n
    for n in "${counts[@]}"; do
        if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then
            echo "scaling.sh: worker count '$n' is not a positive integer" >&2
            exit 2
        fi
    done
    local name
    for name in rt_multi_threaded net_time; do
        if [ ! -x "$bindir/$name" ]; then
            echo "scaling.sh: no $bindir/$name: run 'scripts/scaling.sh build $bindir' first" >&2
            exit 1
        fi
    done
    local flags=(--bench --noplot
        --sample-size "${SCALING_SAMPLES:-10}"
        --measurement-time "${SCALING_MEASURE:-1}"
        --warm-up-time "${SCALING_WARMUP:-0.5}")
    local dir start
    for n in "${counts[@]}"; do
        dir="$outdir/p$n"
        mkdir -p "$dir"
        start=$(date +%s)
        echo "== $n worker(s) (machine: $(nproc) CPUs)"
        BENCH_PROCS=$n CRITERION_HOME="$dir" "$bindir/rt_multi_threaded" "${flags[@]}" \
            '/(gmp|tokio)$' >"$dir/rt_multi_threaded.log" 2>&1
        BENCH_PROCS=$n CRITERION_HOME="$dir" "$bindir/net_time" "${flags[@]}" \
            '^(tcp_echo|timers_100k)/(gmp|tokio)$' >"$dir/net_time.log" 2>&1
        echo "   done in $(($(date +%s) - start)) s"
    done
}

case ${1:-} in
build) shift; build "$@" ;;
run) shift; run "$@" ;;
*) usage ;;
esac
