#!/usr/bin/env bash
# Compile time of a translation unit that makes one join.me API call: through the type-erased
# any_client, through basic_client<ssl_stream>, and written by hand with Beast (the baseline).
# Each is compiled RUNS times (default 3) with g++ -O2; the median is reported with its ratio
# to the baseline.
#
# Usage: compile_time.sh [--json]
#   default: a readable table
#   --json:  one JSON object per translation unit, one per line:
#            {"tu": ..., "runs": N, "median_s": ..., "object_bytes": ..., "ratio_vs_beast": ...}
set -euo pipefail
cd "$(dirname "$0")/.."
json=0
case "${1:-}" in
"") ;;
--json) json=1 ;;
*)
    echo "usage: $0 [--json]" >&2
    exit 2
    ;;
esac
runs=${RUNS:-3}
cxx=${CXX:-g++}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med size
for tu in beast_call any_client_call basic_client_call; do
    times=()
    for _ in $(seq "$runs"); do
        start=$(date +%s.%N)
        "$cxx" -std=c++20 -O2 -Iinclude -c "benchmarks/compile_time/$tu.cpp" -o "$out/$tu.o"
        end=$(date +%s.%N)
        times+=("$(awk -v a="$start" -v b="$end" "BEGIN {print b - a}")")
    done
    med[$tu]=$(printf '%s\n' "${times[@]}" | median)
    size[$tu]=$(stat -c %s "$out/$tu.o")
    if [ "$json" -eq 1 ]; then
        printf '{"tu":"%s","runs":%d,"median_s":%.3f,"object_bytes":%d,"ratio_vs_beast":%.3f}\n' \
            "$tu" "$runs" "${med[$tu]}" "${size[$tu]}" \
            "$(awk -v a="${med[$tu]}" -v b="${med[beast_call]}" "BEGIN {print a / b}")"
    else
        printf '%-20s median %6.2f s  object %8d bytes\n' "$tu" "${med[$tu]}" "${size[$tu]}"
    fi
done
if [ "$json" -eq 0 ]; then
    for tu in any_client_call basic_client_call; do
        printf '%-20s %.2fx the Beast baseline\n' "$tu" "$(awk -v a="${med[$tu]}" -v b="${med[beast_call]}" "BEGIN {print a / b}")"
    done
fi
