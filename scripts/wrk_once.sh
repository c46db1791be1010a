#!/usr/bin/env bash
# One wrk run against one server binary, printed as microseconds per request (lower is
# better), so that `scripts/abba.sh` can compare two servers:
#
#   scripts/wrk_once.sh SERVER_BINARY PORT [SECONDS]
#
# Starts SERVER_BINARY 127.0.0.1:PORT with GMAXPROCS workers (default 2), waits for it to
# answer, runs `wrk -t2 -c50 -dSECONDS` (default 2), stops the server and prints
# 1e6 / (requests/s) (WRK_CONNS=N for another -c). Example, the hyper pair in 12 A B B A quadruples:
#   cargo build --release --features hyper --example hyper_server --example hyper_server_tokio
#   scripts/abba.sh 12 'scripts/wrk_once.sh target/release/examples/hyper_server_tokio 18093' \
#                      'scripts/wrk_once.sh target/release/examples/hyper_server 18094'
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
bin=$1 port=$2 secs=${3:-2}
for tool in wrk curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "wrk_once.sh: $tool is not installed (Debian: apt-get install -y $tool)" >&2
        exit 1
    fi
done

GMAXPROCS=${GMAXPROCS:-2} "$bin" "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

deadline=$((SECONDS + 30))
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "wrk_once.sh: $bin exited before answering on port $port" >&2
        exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "wrk_once.sh: $bin did not answer on port $port within 30 s" >&2
        exit 1
    fi
    sleep 0.05
done

rps=$(wrk -t2 -c"${WRK_CONNS:-50}" -d"${secs}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
if [ -z "$rps" ]; then
    echo "wrk_once.sh: wrk reported no Requests/sec" >&2
    exit 1
fi
python3 -c "print('%.4f' % (1e6 / $rps))"
