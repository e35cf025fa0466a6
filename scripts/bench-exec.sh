#!/usr/bin/env bash
# Benchmark of the action executor on a generated 20-file FFI unit.
# Prints: cold -j1, cold -j2, warm (all cached) wall times, and the ratios
# cold/warm and (-j1)/(-j2). Uses a private temp cache; touches nothing else.
#
#   scripts/bench-exec.sh            # uses target/debug/coex (builds it if missing)
#   COEX=/path/to/coex scripts/bench-exec.sh
set -euo pipefail
. "$(dirname "$0")/bench-lib.sh"

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
  bench_c_file "$i" > "$src/f$i.c"
done

build_unit() { # $1 = cache dir, rest = extra args
  COEX_CACHE_DIR="$1" "$COEX" debug build-unit "$src" -o "$work/out" --unit bench "${@:2}"
}
cold_warm_report "executor benchmark: $N C files, $((N + 1)) actions, $(nproc) cores" build_unit
