#!/usr/bin/env bash
# Benchmarks of `coex` commands as a user runs them.
#
# Section "cxz build": a generated library with N C files in two FFI units
# (sharing one header), packed with `coex cxz pack`, then built with
# `coex cxz build`: cold -j1, cold -j2 (each on an empty private cache) and
# warm (everything cached). Prints the times and the ratios cold/warm and
# (-j1)/(-j2) measured in this one run. Touches nothing outside a temp dir.
#
#   scripts/bench.sh                 # uses target/debug/coex (builds it if missing)
#   COEX=/path/to/coex N=40 scripts/bench.sh
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
COEX="${COEX:-$here/target/debug/coex}"
if [ ! -x "$COEX" ]; then
  (cd "$here" && cargo build --quiet)
fi
N="${N:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset COEX_REMOTE_CACHE COEX_CC

# --- the library -----------------------------------------------------------
lib="$work/benchlib"
mkdir -p "$lib/src" "$lib/ffi/src/left" "$lib/ffi/src/right"
echo '// benchmark library' > "$lib/src/benchlib.coex"
cat > "$lib/manifest.toml" <<'M'
[library]
name = "benchlib"
version = "1.0.0"

[ffi.left]
source  = ["left/*.c"]
headers = ["."]
cflags  = ["-std=c99"]

[ffi.right]
source  = ["right/*.c"]
headers = ["."]
cflags  = ["-std=c99"]
M
cat > "$lib/ffi/src/common.h" <<'H'
#ifndef COMMON_H
#define COMMON_H
#include <stdint.h>
#endif
H
for i in $(seq 0 $((N - 1))); do
  side=left; [ $((i % 2)) -eq 1 ] && side=right
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
  } > "$lib/ffi/src/$side/f$i.c"
done
COEX_CACHE_DIR="$work/unused" "$COEX" cxz pack "$lib" -o "$work/benchlib.cxz" >/dev/null

# --- cxz build: cold -j1, cold -j2, warm -----------------------------------
now() { date +%s.%N; }
run() { # $1 = cache dir, rest = extra args; prints elapsed seconds
  local t0 t1
  t0=$(now)
  COEX_CACHE_DIR="$1" "$COEX" cxz build "$work/benchlib.cxz" -o "$work/out" "${@:2}" >/dev/null
  t1=$(now)
  echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}

cold1=$(run "$work/cache1" -j 1)
cold2=$(run "$work/cache2" -j 2)
warm=$(run "$work/cache2" -j 2)
actions=$((N + 2))

echo "coex cxz build benchmark: $N C files in 2 units, $actions actions, $(nproc) cores"
echo "cold -j1:        ${cold1}s"
echo "cold -j2:        ${cold2}s"
echo "warm (cached):   ${warm}s"
awk -v c="$cold2" -v w="$warm" 'BEGIN { printf "cold/warm ratio: %.1fx\n", c / w }'
awk -v a="$cold1" -v b="$cold2" 'BEGIN { printf "-j1/-j2 ratio:   %.2fx\n", a / b }'
