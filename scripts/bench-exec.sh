#!/usr/bin/env bash
# Benchmark of the action executor on a generated 20-file FFI unit.
# Prints: cold -j1, cold -j2, warm (all cached) wall times, and the ratios
# cold/warm and (-j1)/(-j2). Uses a private temp cache; touches nothing else.
#
#   scripts/bench-exec.sh            # uses target/debug/coex (builds it if missing)
#   COEX=/path/to/coex scripts/bench-exec.sh
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
COEX="${COEX:-$here/target/debug/coex}"
if [ ! -x "$COEX" ]; then
  (cd "$here" && cargo build --quiet)
fi
N="${N:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
src="$work/src"
mkdir -p "$src"

cat > "$src/common.h" <<'H'
#ifndef COMMON_H
#define COMMON_H
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
int64_t coex_bench_mix(int64_t x);
#endif
H
for i in $(seq 0 $((N - 1))); do
  {
    echo '#include "common.h"'
    # Enough code per file that clang does real work at -O2.
    for j in $(seq 0 39); do
      cat <<C
static int64_t f${i}_${j}(int64_t x) {
  int64_t acc = x;
  for (int k = 0; k < 64; k++) {
    acc = acc * 6364136223846793005LL + ${j};
    if (acc & 1) acc ^= (acc >> 7); else acc += (acc << 3);
    switch (k % 4) { case 0: acc -= k; break; case 1: acc *= 3; break; default: acc ^= ${i}; }
  }
  return acc;
}
C
    done
    echo "int64_t coex_bench_${i}(int64_t x) { int64_t s = 0;"
    for j in $(seq 0 39); do echo "  s += f${i}_${j}(x + ${j});"; done
    echo "  return s; }"
  } > "$src/f$i.c"
done

now() { date +%s.%N; }
run() { # $1 = cache dir, rest = extra args; prints elapsed seconds
  local t0 t1
  t0=$(now)
  COEX_CACHE_DIR="$1" "$COEX" debug build-unit "$src" -o "$work/out" --unit bench "${@:2}" >/dev/null
  t1=$(now)
  echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}

cold1=$(run "$work/cache1" -j 1)
cold2=$(run "$work/cache2" -j 2)
warm=$(run "$work/cache2" -j 2)
actions=$((N + 1))

echo "executor benchmark: $N C files, $actions actions, $(nproc) cores"
echo "cold -j1:        ${cold1}s"
echo "cold -j2:        ${cold2}s"
echo "warm (cached):   ${warm}s"
awk -v c="$cold2" -v w="$warm" 'BEGIN { printf "cold/warm ratio: %.1fx\n", c / w }'
awk -v a="$cold1" -v b="$cold2" 'BEGIN { printf "-j1/-j2 ratio:   %.2fx\n", a / b }'
