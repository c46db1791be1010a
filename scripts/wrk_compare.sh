#!/usr/bin/env bash
# HTTP "Hello, world!" under wrk: gmp (examples/http_hello.rs) vs. tokio
# (examples/http_hello_tokio.rs). Both servers get the same worker count
# (GMAXPROCS, default 2), run one at a time on loopback, and face the same wrk
# runs: `wrk -t2 -c50` and `wrk -t2 -c500`, 10 s each, with --latency.
# Prints requests/s and p99 latency for each, and the gmp/tokio ratio.
#
# Environment (all optional):
#   GMAXPROCS      server worker count for both runtimes (default 2)
#   WRK_THREADS    wrk threads (default 2)
#   WRK_CONNS      connection counts to run (default "50 500")
#   WRK_DURATION   seconds per wrk run (default 10)
#   GMP_PORT, TOKIO_PORT   loopback ports (default 18080, 18081)
#   GMP_EXAMPLE, TOKIO_EXAMPLE, FEATURES   which servers (default http_hello and
#                  http_hello_tokio); the hyper pair:
#                  GMP_EXAMPLE=hyper_server TOKIO_EXAMPLE=hyper_server_tokio FEATURES=hyper
#
# Note: on a small machine wrk and the server share the CPUs; the comparison
# is fair (both servers face the same load generator) but absolute numbers are
# lower than on separate machines.
set -euo pipefail

cd "$(dirname "$0")/.."

PROCS=${GMAXPROCS:-2}
THREADS=${WRK_THREADS:-2}
CONNS_LIST=${WRK_CONNS:-"50 500"}
DURATION=${WRK_DURATION:-10}
GMP_PORT=${GMP_PORT:-18080}
TOKIO_PORT=${TOKIO_PORT:-18081}
HOST=127.0.0.1
GMP_EXAMPLE=${GMP_EXAMPLE:-http_hello}
TOKIO_EXAMPLE=${TOKIO_EXAMPLE:-http_hello_tokio}
FEATURES=${FEATURES:-}

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk" >&2
    exit 1
fi
if ! [[ $DURATION =~ ^[0-9]+$ ]] || [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 120 ]; then
    echo "WRK_DURATION must be whole seconds, 1..120 (got '$DURATION')" >&2
    exit 1
fi

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building examples (release) ..." >&2
if ! cargo build --release ${FEATURES:+--features "$FEATURES"} --example "$GMP_EXAMPLE" --example "$TOKIO_EXAMPLE" >"$TMP/build.log" 2>&1; then
    cat "$TMP/build.log" >&2
    exit 1
fi

# wait_port PORT: up to 10 s for something to listen on HOST:PORT.
wait_port() {
    local i
    for i in $(seq 100); do
        if (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# to_ms: from the helpers shared with bad_neighbour.sh and http_cpu.sh.
# shellcheck source=scripts/wrk_lib.sh
. "$(dirname "$0")/wrk_lib.sh"

# run_server NAME BINARY PORT: start it, check one response, run wrk for each
# connection count, stop it. Writes $TMP/NAME.<conns>.{rps,p99,errors}.
run_server() {
    local name=$1 bin=$2 port=$3 conns out
    if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
        echo "port $port is already in use; set ${name^^}_PORT" >&2
        exit 1
    fi
    GMAXPROCS=$PROCS "$bin" "$HOST:$port" >"$TMP/$name.server.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_port "$port"; then
        echo "$name server did not start listening on $HOST:$port; its output:" >&2
        cat "$TMP/$name.server.log" >&2
        exit 1
    fi
    # The exact response bytes, to check both servers answer the same.
    curl -s -i --max-time 5 "http://$HOST:$port/" >"$TMP/$name.response" || true

    for conns in $CONNS_LIST; do
        echo "$name: wrk -t$THREADS -c$conns -d${DURATION}s --latency http://$HOST:$port/" >&2
        out="$TMP/$name.$conns.wrk"
        timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency \
            "http://$HOST:$port/" >"$out" 2>&1 || {
            echo "wrk failed or timed out against $name (-c$conns):" >&2
            cat "$out" >&2
        }
        awk '/^Requests\/sec:/ { print $2 }' "$out" >"$TMP/$name.$conns.rps"
        to_ms "$(awk '$1 == "99%" { print $2 }' "$out")" >"$TMP/$name.$conns.p99"
        awk '/Socket errors|Non-2xx/ { printf "%s ", $0 }' "$out" >"$TMP/$name.$conns.errors"
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the $name server exited during the run; its output:" >&2
            cat "$TMP/$name.server.log" >&2
            exit 1
        fi
    done

    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

run_server gmp "target/release/examples/$GMP_EXAMPLE" "$GMP_PORT"
run_server tokio "target/release/examples/$TOKIO_EXAMPLE" "$TOKIO_PORT"

if ! cmp -s "$TMP/gmp.response" "$TMP/tokio.response"; then
    echo "WARNING: the two servers' responses differ:" >&2
    diff <(cat -A "$TMP/gmp.response") <(cat -A "$TMP/tokio.response") >&2 || true
fi

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

echo
echo "wrk -t$THREADS -d${DURATION}s, servers on $PROCS workers (GMAXPROCS), loopback"
printf '%-6s | %12s %12s %9s | %11s %11s %9s\n' \
    conns "gmp req/s" "tokio req/s" "gmp/tokio" "gmp p99 ms" "tokio p99" "gmp/tokio"
printf '%s\n' "-------+-------------------------------------+--------------------------------"
for conns in $CONNS_LIST; do
    g_rps=$(cat "$TMP/gmp.$conns.rps")
    t_rps=$(cat "$TMP/tokio.$conns.rps")
    g_p99=$(cat "$TMP/gmp.$conns.p99")
    t_p99=$(cat "$TMP/tokio.$conns.p99")
    printf '%-6s | %12s %12s %9s | %11s %11s %9s\n' "$conns" \
        "${g_rps:-n/a}" "${t_rps:-n/a}" "$(ratio "$g_rps" "$t_rps")" \
        "${g_p99:-n/a}" "${t_p99:-n/a}" "$(ratio "$g_p99" "$t_p99")"
done
for name in gmp tokio; do
    for conns in $CONNS_LIST; do
        errs=$(cat "$TMP/$name.$conns.errors")
        if [ -n "$errs" ]; then
            echo "$name -c$conns: $errs"
        fi
    done
done
