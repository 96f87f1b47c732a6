#!/usr/bin/env bash
# Compile time of a translation unit that makes one join.me API call: through any_client,
# through basic_client<ssl_stream>, and written by hand with Beast (the baseline). The joinme
# TUs are compiled header-only and with JOINME_SEPARATE_COMPILATION (joinme's src.hpp then
# compiled elsewhere, once per program; not counted). Rounds interleave the TUs; each is
# compiled RUNS times (default 3) with g++ -O2, and the median CPU time (user + system) is
# reported with its ratio to the baseline.
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
declare -A med size times
variants="beast_call any_client_call any_client_call:sep basic_client_call basic_client_call:sep"
for _ in $(seq "$runs"); do
    for v in $variants; do
        tu=${v%%:*}
        flags=()
        [ "$v" != "$tu" ] && flags=(-DJOINME_SEPARATE_COMPILATION)
        t=$( { TIMEFORMAT='%U %S'; time "$cxx" -std=c++20 -O2 -Iinclude "${flags[@]}" \
            -c "benchmarks/compile_time/$tu.cpp" -o "$out/$tu.o"; } 2>&1 | tail -1)
        times[$v]+="$(awk -v t="$t" 'BEGIN {split(t, a, " "); print a[1] + a[2]}') "
        size[$v]=$(stat -c %s "$out/$tu.o")
    done
done
for tu in $variants; do
    med[$tu]=$(printf '%s\n' ${times[$tu]} | median)
    if [ "$json" -eq 1 ]; then
        printf '{"tu":"%s","runs":%d,"median_s":%.3f,"object_bytes":%d,"ratio_vs_beast":%.3f}\n' \
            "$tu" "$runs" "${med[$tu]}" "${size[$tu]}" \
            "$(awk -v a="${med[$tu]}" -v b="${med[beast_call]}" "BEGIN {print a / b}")"
    else
        printf '%-24s median %6.2f s CPU  object %8d bytes\n' "$tu" "${med[$tu]}" "${size[$tu]}"
    fi
done
if [ "$json" -eq 0 ]; then
    for tu in any_client_call any_client_call:sep basic_client_call basic_client_call:sep; do
        printf '%-24s %.2fx the Beast baseline\n' "$tu" "$(awk -v a="${med[$tu]}" -v b="${med[beast_call]}" "BEGIN {print a / b}")"
    done
fi
