# Shared by the bench scripts (sourced, not run): where the coex binary is,
# a private work folder, the generated C sources and the timing helpers, so
# that every benchmark measures the same work in the same way.
#
# After sourcing: $here (repository root), $COEX (binary, built if missing),
# $N (C files, default 20), $work (temp folder removed on exit).

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COEX="${COEX:-$here/target/debug/coex}"
if [ ! -x "$COEX" ]; then
  (cd "$here" && cargo build --quiet)
fi
N="${N:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }

# Runs CMD (output discarded) and prints the seconds it took with $1
# decimals: `timed 3 CMD ARGS…`.
timed() {
  local d="$1" t0 t1
  shift
  t0=$(now)
  "$@" >/dev/null
  t1=$(now)
  echo "$t0 $t1" | awk -v d="$d" '{printf "%.*f", d, $2 - $1}'
}

# Writes C file number $1 (including "common.h") to stdout: 40 functions
# with enough code each that clang does real work at -O2, and an exported
# `coex_bench_$1` calling them all.
bench_c_file() {
  local i="$1" j
  echo '#include "common.h"'
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
}

# Runs a build three times and prints the report: cold -j1 and cold -j2
# (each on an empty private cache) and warm (everything cached), with the
# ratios cold/warm and (-j1)/(-j2). $1 = title line; the rest is the
# command, called as `CMD CACHE_DIR -j N`, its output discarded.
cold_warm_report() {
  local title="$1" cold1 cold2 warm
  shift
  cold1=$(timed 3 "$@" "$work/cache1" -j 1)
  cold2=$(timed 3 "$@" "$work/cache2" -j 2)
  warm=$(timed 3 "$@" "$work/cache2" -j 2)
  echo "$title"
  echo "cold -j1:        ${cold1}s"
  echo "cold -j2:        ${cold2}s"
  echo "warm (cached):   ${warm}s"
  awk -v c="$cold2" -v w="$warm" 'BEGIN { printf "cold/warm ratio: %.1fx\n", c / w }'
  awk -v a="$cold1" -v b="$cold2" 'BEGIN { printf "-j1/-j2 ratio:   %.2fx\n", a / b }'
}
