#!/usr/bin/env bash
# Server CPU time per request (issue 21 part 1): the hyper hello pair (gmp::hyper vs tokio +
# hyper-util; examples/hyper_server.rs, examples/hyper_server_tokio.rs) under wrk, measured
# by the server's own accounting, which does not depend on how the CPUs are shared with wrk.
#
#   scripts/http_cpu.sh [ROUNDS]        (default 2 rounds)
#
# For each connection count (WRK_CONNS, default "50 500") and round, the servers run A B B A
# (one server start each): the server's utime+stime (/proc/PID/stat) and its threads'
# context switches (/proc/PID/task/*/status, voluntary + involuntary) are read before and
# after one `wrk -t2 -cC -dSECONDS` run and divided by the requests wrk completed:
#   us CPU/req, of it user and system, and context switches/request (a thread that sleeps
#   and is woken is one voluntary switch: a proxy for wakeups).
# Then, where perf can count tracepoints (PERF=0 to skip), one A B B A per connection
# count with `perf stat -p` on the server: per request, its task-clock, context switches,
# CPU migrations, wakeups it issued (sched:sched_wakeup, fired by the waking thread: its own
# threads and wrk's), system calls in all, and by call (epoll_wait, futex, recv*, send*, ...),
# epoll_waits that did not block (timeout 0) and that returned no event, and reads that found
# nothing (EAGAIN). These counters cost little, so the server runs at nearly full speed.
# Last, with STRACE=1 (default when strace is installed; skipped with a message otherwise),
# one more run per server and connection count under `strace -f -c` (attached after start,
# detached after wrk): system calls per request, total and by call, epoll_wait calls among
# them. strace slows the server many times over, so these counts describe a slower
# server (more requests find their socket ready, fewer waits); compare the runtimes with
# each other, not with the untraced run.
#
# Environment (all optional):
#   GMAXPROCS       server workers (default 2)
#   WRK_CONNS       connection counts (default "50 500")
#   WRK_DURATION    seconds per run (default 10; strace runs: STRACE_DURATION, default 5)
#   BIN_DIR, GMP_BIN, TOKIO_BIN   server binaries (default: build the release examples)
#   GMP_PORT, TOKIO_PORT          loopback ports (default 18190, 18191)
#   PERF=0          skip the perf pass
#   NICE            niceness of the servers and wrk (default 0; negative needs root). It
#                   only weighs against jobs of the same session: with
#                   kernel.sched_autogroup_enabled=1 another session's jobs keep their share
#   STRACE=0        skip the strace pass
#   OUT             per-run rows (default: $CARGO_TARGET_DIR or target, http_cpu.tsv)
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/wrk_lib.sh

count_arg "$@"
ROUNDS=${1:-2}
PROCS=${GMAXPROCS:-2}
CONNS_LIST=${WRK_CONNS:-"50 500"}
DURATION=${WRK_DURATION:-10}
SDURATION=${STRACE_DURATION:-5}
whole_numbers 600 PROCS:GMAXPROCS DURATION:WRK_DURATION SDURATION:STRACE_DURATION
for c in $CONNS_LIST; do
    if ! [[ $c =~ ^[1-9][0-9]*$ ]]; then
        echo "http_cpu.sh: WRK_CONNS must be positive whole numbers (got '$CONNS_LIST')" >&2
        exit 2
    fi
done
need wrk curl python3
TCK=$(getconf CLK_TCK)

TMP=$(mktemp -d)
STRACE_PID=""
cleanup() {
    if [ -n "$STRACE_PID" ]; then
        kill -INT "$STRACE_PID" 2>/dev/null || true
        wait "$STRACE_PID" 2>/dev/null || true
    fi
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hyper_pair
declare -A BIN=([gmp]=$GMP_BIN [tokio]=$TOKIO_BIN)
declare -A PORT=([gmp]=${GMP_PORT:-18190} [tokio]=${TOKIO_PORT:-18191})
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/http_cpu.tsv}
mkdir -p "$(dirname "$OUT")"
printf 'runtime\tconns\tround\trequests\trps\tutime_s\tstime_s\tvol_cs\tinvol_cs\tthreads\tload1\n' >"$OUT"

# cpu_ticks PID: "utime stime" in clock ticks (fields 14 and 15 of /proc/PID/stat; the
# command name in field 2 may hold spaces, so count from the closing parenthesis).
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13 }'
}

# ctx_switches PID: "voluntary involuntary threads", summed over the process's threads.
ctx_switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '
        /^voluntary_ctxt_switches/ { v += $2; n++ }
        /^nonvoluntary_ctxt_switches/ { i += $2 }
        END { print v + 0, i + 0, n + 0 }'
}

# one NAME CONNS ROUND
one() {
    local name=$1 conns=$2 round=$3 port=${PORT[$1]} out u0 s0 u1 s1 v0 i0 v1 i1 n reqs
    start_server "$name" "${BIN[$name]}" "$port" "$TMP/$name.log"
    out=$TMP/$name.$conns.$round.wrk
    read -r u0 s0 < <(cpu_ticks "$SERVER_PID")
    read -r v0 i0 _ < <(ctx_switches "$SERVER_PID")
    echo "$name -c$conns round $round (load $(load1))" >&2
    timeout $((DURATION + 30)) nice -n "$NICE" wrk -t2 -c"$conns" -d"${DURATION}s" "http://$HOST:$port/" >"$out" 2>&1 || {
        echo "http_cpu.sh: wrk failed against $name (-c$conns):" >&2
        cat "$out" >&2
        exit 1
    }
    read -r u1 s1 < <(cpu_ticks "$SERVER_PID")
    read -r v1 i1 n < <(ctx_switches "$SERVER_PID")
    reqs=$(wrk_field "$out" requests)
    if [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
        echo "http_cpu.sh: wrk completed no requests against $name:" >&2
        cat "$out" >&2
        exit 1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "$round" "$reqs" \
        "$(wrk_field "$out" rps)" \
        "$(awk -v a="$u0" -v b="$u1" -v t="$TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
        "$(awk -v a="$s0" -v b="$s1" -v t="$TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
        $((v1 - v0)) $((i1 - i0)) "$n" "$(load1)" >>"$OUT"
    stop_server
}

for round in $(seq "$ROUNDS"); do
    for conns in $CONNS_LIST; do
        for name in gmp tokio tokio gmp; do
            one "$name" "$conns" "$round"
        done
    done
done

echo
echo "server CPU per request: $(basename "$GMP_BIN") vs $(basename "$TOKIO_BIN"), wrk -t2 -d${DURATION}s, $PROCS workers, $ROUNDS round(s) A B B A"
python3 scripts/http_cpu_table.py cpu "$OUT"
echo "per-run rows: $OUT"

# Phase 2: kernel counters of the same runs, from `perf stat` attached to the server. Each
# counter is a label and its perf arguments; the labels name perf's output lines in order.
PERF_LABELS=() PERF_ARGS=()
perf_event() {
    PERF_LABELS+=("$1")
    shift
    PERF_ARGS+=("$@")
}
perf_event task-clock -e task-clock
perf_event context-switches -e context-switches
perf_event cpu-migrations -e cpu-migrations
perf_event wakeups-issued -e sched:sched_wakeup
perf_event syscalls -e raw_syscalls:sys_enter
for sc in epoll_wait epoll_pwait futex recvfrom recvmsg read sendto sendmsg write writev \
    sched_yield nanosleep clock_nanosleep epoll_ctl accept4; do
    perf_event "$sc" -e "syscalls:sys_enter_$sc"
done
perf_event "epoll_wait(timeout 0)" -e syscalls:sys_enter_epoll_wait --filter 'timeout == 0'
perf_event "epoll_wait->0 events" -e syscalls:sys_exit_epoll_wait --filter 'ret == 0'
perf_event "recv*->EAGAIN" -e syscalls:sys_exit_recvfrom --filter 'ret < 0' \
    -e syscalls:sys_exit_recvmsg --filter 'ret < 0'
PERF_LABELS+=("recv*->EAGAIN") # the second line of the pair above

# perf_one NAME CONNS RUN: one wrk run with perf stat counting on the server's threads.
perf_one() {
    local name=$1 conns=$2 run=$3 port=${PORT[$1]} out=$TMP/$1.$2.$3.perf.wrk csv=$TMP/$1.$2.$3.perf.csv reqs pid
    start_server "$name" "${BIN[$name]}" "$port" "$TMP/$name.log"
    perf stat -x, -o "$csv" "${PERF_ARGS[@]}" -p "$SERVER_PID" 2>"$TMP/perf.err" &
    pid=$!
    sleep 0.2 # perf opens its counters
    echo "$name -c$conns under perf stat (load $(load1))" >&2
    timeout $((DURATION + 30)) nice -n "$NICE" wrk -t2 -c"$conns" -d"${DURATION}s" "http://$HOST:$port/" >"$out" 2>&1 || true
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    reqs=$(wrk_field "$out" requests)
    # perf prints one line per counter, in the order given, after a comment and a blank line.
    grep -v '^#' "$csv" | grep -v '^$' | awk -F, -v n="$name" -v c="$conns" -v r="$run" \
        -v q="${reqs:-0}" -v labels="$(printf '%s\n' "${PERF_LABELS[@]}")" '
        BEGIN { split(labels, L, "\n") }
        { if ($1 ~ /^[0-9.]+$/) printf "%s\t%s\t%s\t%s\t%s\t%s\n", n, c, r, q, L[NR], $1 }' >>"$PERF_OUT"
    stop_server
}

if [ "${PERF:-1}" = 0 ]; then
    echo "http_cpu.sh: PERF=0, no perf counters" >&2
elif ! command -v perf >/dev/null 2>&1 || ! perf stat "${PERF_ARGS[@]}" true >/dev/null 2>&1; then
    echo "http_cpu.sh: perf with syscall tracepoints is not available (Debian: apt-get install -y linux-perf; needs kernel.perf_event_paranoid <= 1 or root), no kernel counters" >&2
else
    PERF_OUT=${OUT%.tsv}.perf.tsv
    printf 'runtime\tconns\trun\trequests\tevent\tcount\n' >"$PERF_OUT"
    for conns in $CONNS_LIST; do
        run=0
        for name in gmp tokio tokio gmp; do
            run=$((run + 1))
            perf_one "$name" "$conns" "$run"
        done
    done
    echo
    echo "kernel counters per request (perf stat on the server's threads, wrk -t2 -d${DURATION}s, A B B A, medians)"
    python3 scripts/http_cpu_table.py perf "$PERF_OUT"
    echo "per-run counters: $PERF_OUT"
fi

# Phase 3: strace -c.
if [ "${STRACE:-1}" = 0 ]; then
    exit 0
fi
if ! command -v strace >/dev/null 2>&1; then
    echo "http_cpu.sh: strace is not installed, no system call counts (Debian: apt-get install -y strace)" >&2
    exit 0
fi

# strace_one NAME CONNS: system calls of one wrk run, strace attached to every thread.
strace_one() {
    local name=$1 conns=$2 port=${PORT[$1]} out=$TMP/$1.$2.strace.wrk deadline
    start_server "$name" "${BIN[$name]}" "$port" "$TMP/$name.log"
    strace -f -c -o "$TMP/$name.$conns.strace" -p "$SERVER_PID" 2>"$TMP/$name.$conns.strace.err" &
    STRACE_PID=$!
    # Attached once strace says so ("Process N attached with T threads").
    deadline=$((SECONDS + 10))
    until grep -q 'attached' "$TMP/$name.$conns.strace.err"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$STRACE_PID" 2>/dev/null; then
            echo "http_cpu.sh: strace did not attach to $name (ptrace not permitted?):" >&2
            cat "$TMP/$name.$conns.strace.err" >&2
            exit 1
        fi
        sleep 0.05
    done
    echo "$name -c$conns under strace -f -c (load $(load1))" >&2
    timeout $((SDURATION + 30)) nice -n "$NICE" wrk -t2 -c"$conns" -d"${SDURATION}s" "http://$HOST:$port/" >"$out" 2>&1 || true
    kill -INT "$STRACE_PID" 2>/dev/null || true
    wait "$STRACE_PID" 2>/dev/null || true
    STRACE_PID=""
    echo "$(wrk_field "$out" requests)" >"$TMP/$name.$conns.strace.reqs"
    stop_server
}

for conns in $CONNS_LIST; do
    strace_one gmp "$conns"
    strace_one tokio "$conns"
    echo
    echo "system calls per request under strace -f -c, -c$conns (wrk -d${SDURATION}s; slowed by strace)"
    python3 scripts/http_cpu_table.py strace \
        gmp "$TMP/gmp.$conns.strace" "$(cat "$TMP/gmp.$conns.strace.reqs")" \
        tokio "$TMP/tokio.$conns.strace" "$(cat "$TMP/tokio.$conns.strace.reqs")"
done
