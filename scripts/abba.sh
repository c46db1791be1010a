#!/usr/bin/env bash
# A/B of two commands that each print one number (a time, lower is better) on stdout, for a
# machine whose speed drifts: N quadruples run in the order A B B A, each compared on its
# own, (B1 + B2) / (A1 + A2). A drift that is linear over a quadruple cancels out.
#
#   scripts/abba.sh N 'COMMAND A' 'COMMAND B'
#
# Prints the N ratios B/A (sorted), their median and mean, and in how many B was faster.
# Example (gmp vs tokio on tcp_echo's work; see examples/echo_rounds.rs):
#   cargo build --release --example echo_rounds
#   scripts/abba.sh 30 'target/release/examples/echo_rounds tokio 1200' \
#                      'target/release/examples/echo_rounds gmp 1200'
set -euo pipefail

if [ $# -ne 3 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
n=$1 a=$2 b=$3

one() {
    local out
    out=$(bash -c "$1")
    if ! [[ $out =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        echo "abba.sh: '$1' printed '$out', not one number" >&2
        exit 1
    fi
    echo "$out"
}

ratios=()
for _ in $(seq "$n"); do
    a1=$(one "$a")
    b1=$(one "$b")
    b2=$(one "$b")
    a2=$(one "$a")
    ratios+=("$(python3 -c "print(($b1 + $b2) / ($a1 + $a2))")")
done

python3 - "${ratios[@]}" <<'EOF'
import statistics
import sys

r = sorted(float(x) for x in sys.argv[1:])
print("B/A per quadruple:", " ".join("%.3f" % x for x in r))
print(
    "B/A median %.3f, mean %.3f; B faster in %d of %d"
    % (statistics.median(r), statistics.mean(r), sum(x < 1 for x in r), len(r))
)
EOF
