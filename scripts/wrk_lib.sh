# Shared by scripts/bad_neighbour.sh and scripts/http_cpu.sh (source it; not a command):
# start/stop one server binary on loopback, parse wrk's output, build or locate the
# hyper hello pair.
#
# Callers set HOST (default 127.0.0.1) and PROCS (worker count, exported as GMAXPROCS),
# and read SERVER_PID after start_server.

HOST=${HOST:-127.0.0.1}
SERVER_PID=""
# NICE: niceness of the servers and wrk (default 0; negative needs root). It gives the
# benchmark the CPUs before other jobs of the same session only: with autogroups
# (kernel.sched_autogroup_enabled=1) each session keeps its fair share whatever its nice.
NICE=${NICE:-0}
if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
    echo "$(basename "$0"): NICE must be a whole number, -20..19 (got '$NICE')" >&2
    exit 2
fi

# need TOOL...: exit with an install hint if a tool is missing.
need() {
    local t
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "$(basename "$0"): $t is not installed (Debian/Ubuntu: apt-get install -y $t)" >&2
            exit 1
        fi
    done
}

# count_arg "$@": at most one argument, a positive whole number; otherwise print the
# calling script's header (line 2 down to `set -euo`) as its usage and exit 2.
count_arg() {
    if [ $# -gt 1 ] || { [ $# -eq 1 ] && ! [[ $1 =~ ^[1-9][0-9]*$ ]]; }; then
        sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2
        exit 2
    fi
}

# whole_numbers MAX VAR:NAME...: exit 2 unless each shell variable VAR holds a whole number
# in 1..MAX; the message names the environment variable NAME it came from.
whole_numbers() {
    local max=$1 v var
    shift
    for v in "$@"; do
        var=${v%%:*}
        if ! [[ ${!var} =~ ^[1-9][0-9]*$ ]] || [ "${!var}" -gt "$max" ]; then
            echo "$(basename "$0"): ${v#*:} must be a whole number, 1..$max (got '${!var}')" >&2
            exit 2
        fi
    done
}

# hyper_pair DIR: set GMP_BIN and TOKIO_BIN, unless already set. With BIN_DIR set, the
# binaries are taken from there (copies made once, so that another build cannot swap them
# mid-run); otherwise the release examples are built into DIR's target.
hyper_pair() {
    if [ -n "${BIN_DIR:-}" ]; then
        GMP_BIN=${GMP_BIN:-$BIN_DIR/hyper_server}
        TOKIO_BIN=${TOKIO_BIN:-$BIN_DIR/hyper_server_tokio}
    elif [ -z "${GMP_BIN:-}" ] || [ -z "${TOKIO_BIN:-}" ]; then
        echo "building the hyper pair (release) ..." >&2
        local log
        log=$(mktemp)
        if ! cargo build --release --features hyper --example hyper_server \
            --example hyper_server_tokio >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            exit 1
        fi
        rm -f "$log"
        local dir=${CARGO_TARGET_DIR:-target}
        GMP_BIN=${GMP_BIN:-$dir/release/examples/hyper_server}
        TOKIO_BIN=${TOKIO_BIN:-$dir/release/examples/hyper_server_tokio}
    fi
    local b
    for b in "$GMP_BIN" "$TOKIO_BIN"; do
        if [ ! -x "$b" ]; then
            echo "$(basename "$0"): server binary $b is missing or not executable" >&2
            exit 1
        fi
    done
}

# start_server NAME BINARY PORT LOG: start it with GMAXPROCS=$PROCS (GOMAXPROCS for Go) and
# wait up to 30 s for it to answer "/" (exits, showing LOG, if it does not).
start_server() {
    local name=$1 bin=$2 port=$3 log=$4 deadline
    if curl -s -o /dev/null --max-time 1 "http://$HOST:$port/"; then
        echo "$(basename "$0"): port $port is already in use (set ${name^^}_PORT)" >&2
        exit 1
    fi
    # nice execs the server, so $! is the server's pid.
    GMAXPROCS=$PROCS GOMAXPROCS=$PROCS nice -n "$NICE" "$bin" "$HOST:$port" >"$log" 2>&1 &
    SERVER_PID=$!
    deadline=$((SECONDS + 30))
    until curl -s -o /dev/null --max-time 1 "http://$HOST:$port/"; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            echo "$(basename "$0"): the $name server ($bin) did not answer on port $port; its output:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.05
    done
}

# stop_server: stop the server started last, if any.
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

# to_ms "1.23ms" | "456.78us" | "1.02s" | "2.00m" -> milliseconds
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v == "") exit
        n = v + 0
        if (v ~ /us$/) n = n / 1000
        else if (v ~ /ms$/) n = n
        else if (v ~ /m$/) n = n * 60000
        else if (v ~ /s$/) n = n * 1000
        printf "%.3f", n
    }'
}

# wrk_field FILE rps|p50|p99|max|requests|errors: one figure from `wrk --latency` output
# (latencies in ms; errors: socket errors and non-2xx counts, or 0).
wrk_field() {
    local f=$1
    case $2 in
    rps) awk '/^Requests\/sec:/ { print $2 }' "$f" ;;
    p50) to_ms "$(awk '$1 == "50%" { print $2 }' "$f")" ;;
    p99) to_ms "$(awk '$1 == "99%" { print $2 }' "$f")" ;;
    max) to_ms "$(awk '$1 == "Latency" { print $4; exit }' "$f")" ;;
    requests) awk '/requests in/ { print $1 }' "$f" ;;
    errors) awk '/Socket errors/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
                 /Non-2xx/ { e += $NF }
                 END { print e + 0 }' "$f" ;;
    esac
}

# load1: the 1-minute load average, recorded beside every figure.
load1() {
    cut -d' ' -f1 /proc/loadavg
}
