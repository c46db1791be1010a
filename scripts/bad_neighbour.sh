#!/usr/bin/env bash
# The bad-neighbour benchmark (issue 21): how the latency of "/" on a hyper hello server
# suffers while one client connection loops on a handler that blocks or burns CPU without
# telling the runtime.
#
#   scripts/bad_neighbour.sh [ROUNDS]        (default 2 rounds)
#
# Servers: examples/hyper_server.rs (gmp::hyper) and examples/hyper_server_tokio.rs (tokio +
# hyper-util), both with the routes of examples/support/bad_routes.rs, and Go's net/http
# (scripts/go/hello_server.go) when `go` is installed (skipped with a message otherwise).
# Each server runs on GMAXPROCS workers (default 2; GOMAXPROCS for Go) and faces three
# scenarios, each one `wrk -t2 -cCONNS -dSECONDS --latency` on "/":
#   none   nothing else;
#   block  one more connection (`wrk -t1 -c1`) looping on /block/MS: std::thread::sleep(MS);
#   spin   the same on /spin/MS: MS ms of CPU with no await.
# The neighbour starts 1 s before the measured run and stops 1 s after it. Each round runs
# the servers A B C C B A (one server start per letter, the three scenarios in a row), so a
# drift of the machine's speed over a round cancels out.
#
# Prints p50/p99/max of "/" and req/s for each runtime and scenario (median over the runs,
# and the range), the ratios to tokio, and writes the per-run rows to OUT (TSV) and a plot
# to PLOT (needs matplotlib: pip install matplotlib).
#
# Environment (all optional):
#   GMAXPROCS       server workers (default 2)
#   WRK_CONNS       connections on "/" (default 50)
#   WRK_DURATION    seconds per measured run (default 8)
#   NEIGHBOUR_MS    N of /block/N and /spin/N (default 50)
#   BIN_DIR         take hyper_server and hyper_server_tokio from here instead of building
#   GMP_BIN, TOKIO_BIN, GO_BIN   explicit server binaries
#   GO=0            skip Go even if installed
#   NICE            niceness of the servers and wrk (default 0; negative needs root). It
#                   only weighs against jobs of the same session: with
#                   kernel.sched_autogroup_enabled=1 another session's jobs keep their share
#   GMP_PORT, TOKIO_PORT, GO_PORT  loopback ports (default 18180, 18181, 18182)
#   OUT             per-run rows (default: $CARGO_TARGET_DIR or target, bad_neighbour.tsv)
#   PLOT            PNG to write (default docs/bad_neighbour.png; empty: no plot)
#
# Note: wrk shares the machine with the server. On a 2-CPU box the latencies include
# waiting for a CPU that wrk holds; record the load (the script does, per run) and compare
# runtimes only within one invocation.
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/wrk_lib.sh

count_arg "$@"
ROUNDS=${1:-2}
PROCS=${GMAXPROCS:-2}
CONNS=${WRK_CONNS:-50}
DURATION=${WRK_DURATION:-8}
MS=${NEIGHBOUR_MS:-50}
PLOT=${PLOT-docs/bad_neighbour.png}
for v in PROCS:GMAXPROCS CONNS:WRK_CONNS DURATION:WRK_DURATION MS:NEIGHBOUR_MS; do
    var=${v%%:*}
    if ! [[ ${!var} =~ ^[1-9][0-9]*$ ]]; then
        echo "bad_neighbour.sh: ${v#*:} must be a positive whole number (got '${!var}')" >&2
        exit 2
    fi
done
if [ "$DURATION" -gt 120 ] || [ "$MS" -gt 10000 ]; then
    echo "bad_neighbour.sh: WRK_DURATION is at most 120 s, NEIGHBOUR_MS at most 10000" >&2
    exit 2
fi
need wrk curl python3

TMP=$(mktemp -d)
NEIGHBOUR_PID=""
cleanup() {
    if [ -n "$NEIGHBOUR_PID" ]; then
        kill "$NEIGHBOUR_PID" 2>/dev/null || true
        wait "$NEIGHBOUR_PID" 2>/dev/null || true
    fi
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hyper_pair
NAMES=(gmp tokio)
declare -A BIN=([gmp]=$GMP_BIN [tokio]=$TOKIO_BIN)
declare -A PORT=([gmp]=${GMP_PORT:-18180} [tokio]=${TOKIO_PORT:-18181} [go]=${GO_PORT:-18182})
if [ "${GO:-1}" = 0 ]; then
    echo "bad_neighbour.sh: GO=0, skipping Go's net/http" >&2
elif [ -n "${GO_BIN:-}" ]; then
    BIN[go]=$GO_BIN
    NAMES+=(go)
elif command -v go >/dev/null 2>&1; then
    echo "building scripts/go/hello_server.go ($(go version | cut -d' ' -f3)) ..." >&2
    (cd scripts/go && go build -o "$TMP/hello_server_go" hello_server.go)
    BIN[go]=$TMP/hello_server_go
    NAMES+=(go)
else
    echo "bad_neighbour.sh: go is not installed, skipping Go's net/http (Debian: apt-get install -y golang-go)" >&2
fi

OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bad_neighbour.tsv}
mkdir -p "$(dirname "$OUT")"
printf 'runtime\tscenario\tround\trps\tp50_ms\tp99_ms\tmax_ms\terrors\tneighbour_reqs\tload1\n' >"$OUT"

# one NAME ROUND: start NAME's server, run the three scenarios, stop it.
one() {
    local name=$1 round=$2 port=${PORT[$1]} scen out nout nreqs code
    start_server "$name" "${BIN[$name]}" "$port" "$TMP/$name.log"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$HOST:$port/block/0")
    if [ "$code" != 400 ]; then
        echo "bad_neighbour.sh: $name answered /block/0 with $code, not 400: is ${BIN[$name]} a server with the bad-neighbour routes?" >&2
        exit 1
    fi
    for scen in none block spin; do
        out=$TMP/$name.$scen.$round.wrk
        nout=$TMP/$name.$scen.$round.neighbour
        nreqs=0
        if [ "$scen" != none ]; then
            nice -n "$NICE" wrk -t1 -c1 -d$((DURATION + 2))s --timeout 30s "http://$HOST:$port/$scen/$MS" >"$nout" 2>&1 &
            NEIGHBOUR_PID=$!
            sleep 1 # the neighbour is looping before the measurement starts
        fi
        echo "$name round $round $scen: wrk -t2 -c$CONNS -d${DURATION}s on / (load $(load1))" >&2
        timeout $((DURATION + 30)) nice -n "$NICE" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
            "http://$HOST:$port/" >"$out" 2>&1 || {
            echo "bad_neighbour.sh: wrk failed against $name ($scen):" >&2
            cat "$out" >&2
            exit 1
        }
        if [ -n "$NEIGHBOUR_PID" ]; then
            wait "$NEIGHBOUR_PID" || true
            NEIGHBOUR_PID=""
            nreqs=$(wrk_field "$nout" requests)
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "bad_neighbour.sh: the $name server exited; its output:" >&2
            cat "$TMP/$name.log" >&2
            exit 1
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$scen" "$round" \
            "$(wrk_field "$out" rps)" "$(wrk_field "$out" p50)" "$(wrk_field "$out" p99)" \
            "$(wrk_field "$out" max)" "$(wrk_field "$out" errors)" "${nreqs:-0}" "$(load1)" >>"$OUT"
    done
    stop_server
}

for round in $(seq "$ROUNDS"); do
    order=("${NAMES[@]}")
    for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do
        order+=("${NAMES[$i]}")
    done
    for name in "${order[@]}"; do
        one "$name" "$round"
    done
done

echo
echo "bad neighbour: wrk -t2 -c$CONNS -d${DURATION}s on /, neighbour one connection on /block/$MS or /spin/$MS, $PROCS workers, $ROUNDS round(s)"
if [ -n "$PLOT" ]; then
    mkdir -p "$(dirname "$PLOT")"
    python3 scripts/bad_neighbour_table.py "$OUT" --plot "$PLOT" --ms "$MS" \
        --title "hyper hello: wrk -t2 -c$CONNS -d${DURATION}s on /, one connection looping on the neighbour, $PROCS workers, $ROUNDS round(s), nice $NICE, load ~$(load1)"
else
    python3 scripts/bad_neighbour_table.py "$OUT"
fi
echo "per-run rows: $OUT"
