#!/usr/bin/env bash
# User-space instructions per request of the hyper hello pair (issue 21), counted by
# callgrind: deterministic where wall time and CPU time are not, so it resolves changes of a
# few percent that `scripts/http_cpu.sh` cannot.
#
#   scripts/http_instr.sh [CONNS]        (default 10)
#
# Each server (gmp, then tokio) runs under `valgrind --tool=callgrind` with GMAXPROCS
# workers. After a warm-up `wrk -t1 -cCONNS` run the counts are zeroed
# (`callgrind_control -z`); one measured run later they are dumped (`callgrind_control -d`)
# and divided by the requests wrk completed. Callgrind serializes the threads and slows the
# server many times over, so the server batches differently than at full speed: compare
# the two runtimes (or two builds) with each other, not with the real server. Kernel work
# is not counted.
#
# Environment (all optional):
#   GMAXPROCS       server workers (default 2)
#   WARMUP          seconds of the warm-up run (default 3)
#   DURATION        seconds of the measured run (default 5)
#   BIN_DIR, GMP_BIN, TOKIO_BIN   server binaries (default: build the release examples)
#   GMP_PORT, TOKIO_PORT          loopback ports (default 18192, 18193)
#   KEEP            a folder to keep the callgrind dumps in (for callgrind_annotate)
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/wrk_lib.sh

count_arg "$@"
CONNS=${1:-10}
PROCS=${GMAXPROCS:-2}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-5}
whole_numbers 600 PROCS:GMAXPROCS WARMUP:WARMUP DURATION:DURATION
need valgrind callgrind_control wrk curl
hyper_pair

work=$(mktemp -d)
vg_pid=""
cleanup() {
    if [ -n "$vg_pid" ]; then
        kill "$vg_pid" 2>/dev/null || true
        wait "$vg_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# measure NAME BIN PORT: sets RESULT to "NAME requests instructions instructions/request".
# (Not run in a command substitution: the EXIT trap must see vg_pid.)
RESULT=""
measure() {
    local name=$1 bin=$2 port=$3 out="$work/$1.cg" i reqs total
    GMAXPROCS=$PROCS valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$bin" "$HOST:$port" >"$work/$name.stdout" 2>"$work/$name.stderr" &
    vg_pid=$!
    for i in $(seq 300); do
        if curl -s -o /dev/null "http://$HOST:$port/"; then
            break
        fi
        if ! kill -0 "$vg_pid" 2>/dev/null; then
            echo "http_instr.sh: $name server exited; its stderr:" >&2
            cat "$work/$name.stderr" >&2
            exit 1
        fi
        sleep 0.2
    done
    wrk -t1 -c"$CONNS" -d"${WARMUP}s" "http://$HOST:$port/" >/dev/null
    callgrind_control -z "$vg_pid" >/dev/null
    reqs=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://$HOST:$port/" | awk '/requests in/ {print $1}')
    callgrind_control -d "$vg_pid" >/dev/null
    # The dump is written by the server's own threads: wait for it.
    for i in $(seq 100); do
        [ -s "$out.1" ] && grep -q '^totals:' "$out.1" && break
        sleep 0.1
    done
    kill "$vg_pid" 2>/dev/null || true
    wait "$vg_pid" 2>/dev/null || true
    vg_pid=""
    total=$(awk '/^totals:/ {print $2}' "$out.1")
    if [ -z "$reqs" ] || [ "$reqs" -eq 0 ] || [ -z "$total" ]; then
        echo "http_instr.sh: $name: no requests or no callgrind dump" >&2
        exit 1
    fi
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP"
        cp "$out.1" "$KEEP/$name.callgrind"
    fi
    RESULT="$name $reqs $total $((total / reqs))"
}

echo "instructions per request (user space, callgrind), wrk -t1 -c$CONNS -d${DURATION}s, $PROCS workers"
printf '%-6s %10s %16s %10s\n' runtime requests instructions per_req
measure gmp "$GMP_BIN" "${GMP_PORT:-18192}"
g=$RESULT
measure tokio "$TOKIO_BIN" "${TOKIO_PORT:-18193}"
t=$RESULT
printf '%-6s %10s %16s %10s\n' $g
printf '%-6s %10s %16s %10s\n' $t
python3 -c "import sys; print('gmp/tokio instructions per request: %.3f' % (int(sys.argv[1]) / int(sys.argv[2])))" \
    "${g##* }" "${t##* }"
