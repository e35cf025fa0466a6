#!/usr/bin/env bash
# Generated code against C: each benches/lang/NAME.coex is built by coex
# and the same algorithm in benches/lang/NAME.c by `clang -O2`; both must
# print the same, then both are timed in this one run (hyperfine, or a
# best-of loop without it) and the table gives the times and the ratio
# Coex / C next to its target:
#
#   sieve      primes below 2,000,000 (element writes)         target <= 3x
#   quicksort  in-place quicksort of 1,000,000 ints            target <= 3x
#   numeric    a float loop with int -> float conversions      target <= 2x
#
# Ratios use the median wall time; "cpu" is the ratio of user+system time,
# which other load on the machine disturbs less.
#
#   scripts/bench-lang.sh            # uses target/debug/coex (builds it if missing)
#   RUNS=30 scripts/bench-lang.sh
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"

RUNS="${RUNS:-15}"
src="$here/benches/lang"
export COEX_CACHE_DIR="$work/cache"

for name in sieve quicksort numeric; do
  "$COEX" build "$src/$name.coex" -o "$work/$name" >/dev/null
  clang -O2 -o "$work/$name-c" "$src/$name.c"
  if [ "$("$work/$name")" != "$("$work/$name-c")" ]; then
    echo "error: $name: the Coex and C programs print different results" >&2
    exit 1
  fi
done

# Prints "median_seconds cpu_seconds" of running $1 $RUNS times.
measure() {
  if command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$work/h.json" "$1" >/dev/null 2>&1
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["user"] + r["system"])' "$work/h.json"
  else
    local times=() t
    for _ in $(seq "$RUNS"); do times+=("$(timed 6 "$1")"); done
    t=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$t $t"
  fi
}

echo "generated code vs clang -O2: median of $RUNS runs each, $(nproc) cores"
printf '%-10s %10s %10s %7s %7s %8s\n' program "coex ms" "C ms" ratio cpu target
for row in "sieve 3" "quicksort 3" "numeric 2"; do
  set -- $row
  read -r cw cc <<<"$(measure "$work/$1")"
  read -r w c <<<"$(measure "$work/$1-c")"
  awk -v n="$1" -v cw="$cw" -v cc="$cc" -v w="$w" -v c="$c" -v t="$2" 'BEGIN {
    r = cw / w
    printf "%-10s %10.1f %10.1f %6.2fx %6.2fx %7s%s\n", n, cw * 1000, w * 1000, r, cc / c, "<= " t "x", (r <= t ? "" : "  (over)")
  }'
done
