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

. "$(dirname "$0")/bench-lib.sh"
unset COEX_REMOTE_CACHE COEX_CC

# --- the library -----------------------------------------------------------
lib="$work/benchlib"
mkdir -p "$lib/src" "$lib/ffi/src/left" "$lib/ffi/src/right"
echo '# benchmark library' > "$lib/src/benchlib.coex"
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
  bench_c_file "$i" > "$lib/ffi/src/$side/f$i.c"
done
COEX_CACHE_DIR="$work/unused" "$COEX" cxz pack "$lib" -o "$work/benchlib.cxz" >/dev/null

# --- cxz build: cold -j1, cold -j2, warm -----------------------------------
cxz_build() { # $1 = cache dir, rest = extra args
  COEX_CACHE_DIR="$1" "$COEX" cxz build "$work/benchlib.cxz" -o "$work/out" "${@:2}"
}
cold_warm_report "coex cxz build benchmark: $N C files in 2 units, $((N + 2)) actions, $(nproc) cores" cxz_build

# --- programs ----------------------------------------------------------------
# Section "programs": the regex example (examples/regex_demo.coex with the
# posix_regex library packed into a temp folder) built cold on an empty cache
# and then rebuilt warm with nothing changed (best of 5; target < 50 ms);
# Coex compile throughput of `coex tool codegen` (front end + bridge +
# Cranelift, no cache) on a generated program; and the cost of one extern
# call, FFI (through the program's FFI instance) and bare libc, against a
# direct C call to a function in another translation unit.
mkdir -p "$work/lib" "$work/prog"
COEX_CACHE_DIR="$work/unused" "$COEX" cxz pack "$here/examples/libs/posix_regex" -o "$work/lib/posix_regex.cxz" >/dev/null
COEX_CACHE_DIR="$work/unused" "$COEX" cxz pack "$here/examples/libs/counter" -o "$work/lib/counter.cxz" >/dev/null
build_regex() { # $1 = cache dir
  COEX_CACHE_DIR="$1" "$COEX" build "$here/examples/regex_demo.coex" -L "$work/lib" -o "$work/prog/regex_demo"
}
pcold=$(timed 4 build_regex "$work/pcache")
pwarm=9
for _ in 1 2 3 4 5; do
  t=$(timed 4 build_regex "$work/pcache")
  pwarm=$(awk -v a="$pwarm" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
done

# A generated program: F functions of ~12 lines each, all called from main.
F="${F:-400}"
gen="$work/prog/gen.coex"
{
  for i in $(seq 0 $((F - 1))); do
    cat <<C
func f$i(n: int) -> int
    acc = n
    for k in 0..8
        if acc % 2 == 0
            acc = acc / 2 + k * $i
        else
            acc = acc * 3 + 1
        ~
    ~
    return acc
~

C
  done
  echo "func main() -> int"
  echo "    total = 0"
  for i in $(seq 0 $((F - 1))); do echo "    total += f$i($i)"; done
  echo "    print(total)"
  echo "    return 0"
  echo "~"
} > "$gen"
lines=$(wc -l < "$gen")
cg=$(timed 3 "$COEX" tool codegen --main "$gen" -o "$work/prog/gen.o")

# Extern call overhead: K calls in a loop, minus the same loop without the call.
K="${K:-10000000}"
loop_prog() { # $1 = name, $2 = statement in the loop, $3 = extra top-level line
  cat > "$work/prog/$1.coex" <<C
import "counter"
$3

func main() -> int
    i = 0
    s = 0
    while i < $K
        $2
        i += 1
    ~
    print(s)
    return 0
~
C
  COEX_CACHE_DIR="$work/pcache" "$COEX" build "$work/prog/$1.coex" -L "$work/lib" -o "$work/prog/$1" >/dev/null
}
loop_prog base "s += i" ""
loop_prog ffi "s += coex_counter_increment()" ""
loop_prog bare "s += labs(i)" "extern labs(x: int) -> int"
cat > "$work/prog/callee.c" <<'C'
long coex_bench_callee(long x) { return x + 1; }
C
cat > "$work/prog/direct.c" <<C
#include <stdio.h>
long coex_bench_callee(long x);
int main(void) { long s = 0; for (long i = 0; i < $K; i++) s += coex_bench_callee(i); printf("%ld\n", s); return 0; }
C
cat > "$work/prog/cbase.c" <<C
#include <stdio.h>
int main(void) { volatile long s = 0; for (long i = 0; i < $K; i++) s += i; printf("%ld\n", s); return 0; }
C
clang -O2 -fno-lto -o "$work/prog/direct" "$work/prog/direct.c" "$work/prog/callee.c"
clang -O2 -o "$work/prog/cbase" "$work/prog/cbase.c"
tb=$(timed 4 "$work/prog/base"); tf=$(timed 4 "$work/prog/ffi"); tl=$(timed 4 "$work/prog/bare")
td=$(timed 4 "$work/prog/direct"); tc=$(timed 4 "$work/prog/cbase")

echo
echo "program benchmark: examples/regex_demo.coex (+ posix_regex.cxz)"
echo "cold build:             ${pcold}s"
echo "warm no-op rebuild:     ${pwarm}s (best of 5; target < 0.050s)"
awk -v c="$pcold" -v w="$pwarm" 'BEGIN { printf "cold/warm ratio:        %.1fx\n", c / w }'
echo "codegen of $lines generated lines: ${cg}s"
awk -v l="$lines" -v t="$cg" 'BEGIN { printf "Coex compile throughput: %.0f lines/s (coex tool codegen, one process)\n", l / t }'
awk -v a="$tf" -v b="$tb" -v k="$K" 'BEGIN { printf "FFI extern call:        %.1f ns/call\n", (a - b) / k * 1e9 }'
awk -v a="$tl" -v b="$tb" -v k="$K" 'BEGIN { printf "bare libc extern call:  %.1f ns/call\n", (a - b) / k * 1e9 }'
awk -v a="$td" -v b="$tc" -v k="$K" 'BEGIN { printf "direct C call:          %.1f ns/call\n", (a - b) / k * 1e9 }'
