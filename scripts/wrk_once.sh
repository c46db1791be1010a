#!/usr/bin/env bash
# One wrk run against one server binary, printed as microseconds per request (lower is
# better), so that `scripts/abba.sh` can compare two servers:
#
#   scripts/wrk_once.sh SERVER_BINARY PORT [SECONDS]
#
# Starts SERVER_BINARY 127.0.0.1:PORT with GMAXPROCS workers (default 2), waits for it to
# answer, runs `wrk -t2 -c50 -dSECONDS` (default 2), stops the server and prints
# 1e6 / (requests/s) (WRK_CONNS=N for another -c). With METRIC=cpu it prints the server's
# CPU time per request instead (utime+stime from /proc/PID/stat across the wrk run, in µs,
# divided by the requests wrk completed), which does not depend on how the CPUs are shared
# with wrk. Example, the hyper pair in 12 A B B A quadruples:
#   cargo build --release --features hyper --example hyper_server --example hyper_server_tokio
#   scripts/abba.sh 12 'scripts/wrk_once.sh target/release/examples/hyper_server_tokio 18093' \
#                      'scripts/wrk_once.sh target/release/examples/hyper_server 18094'
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
bin=$1 port=$2 secs=${3:-2}
if [ "${METRIC:-time}" != time ] && [ "${METRIC:-time}" != cpu ]; then
    echo "wrk_once.sh: METRIC must be time or cpu (got '$METRIC')" >&2
    exit 2
fi
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

# utime + stime of the server, in clock ticks (fields 14 and 15 of /proc/PID/stat, counted
# after the command name, which may hold spaces).
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat"; }
t0=$(ticks)
out=$(wrk -t2 -c"${WRK_CONNS:-50}" -d"${secs}s" "http://127.0.0.1:$port/")
t1=$(ticks)
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
reqs=$(awk '/requests in/ {print $1}' <<<"$out")
if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
    echo "wrk_once.sh: wrk reported no requests" >&2
    exit 1
fi
case ${METRIC:-time} in
time) python3 -c "print('%.4f' % (1e6 / $rps))" ;;
cpu) python3 -c "print('%.4f' % (($t1 - $t0) * 1e6 / $(getconf CLK_TCK) / $reqs))" ;;
esac
