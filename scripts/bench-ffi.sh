#!/usr/bin/env bash
# FFI benchmarks, one run, figures and ratios:
#   - extern call overhead vs a direct C call (int argument)
#   - pool acquire + reset + release (a task scope reusing a pooled instance)
#   - fresh instance create + destroy (pool off)
#   - `task for` speed-up on 2 threads for a CPU-bound C function
# The measured executables are built by the real back end: Cranelift code,
# the runtime and the unit image compiled by clang -O2 (the cargo profile
# only changes how fast the test harness itself builds them).
# A C reference loop (clang -O2, call into a shared object) is printed too.
#
#   scripts/bench-ffi.sh
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Reference: a direct C call into a shared object (no Coex at all).
cat > "$work/lib.c" <<'C'
#include <stdint.h>
int64_t add1(int64_t x) { return x + 1; }
C
cat > "$work/main.c" <<'C'
#include <stdint.h>
#include <stdio.h>
#include <time.h>
int64_t add1(int64_t x);
int main(void) {
    struct timespec a, b;
    int64_t s = 0, n = 200000000;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int64_t i = 0; i < n; i++) s += add1(i);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
    printf("bench c_reference_call_ns %.1f ns (checksum %lld)\n", ns, (long long)(s & 1));
    return 0;
}
C
clang -O2 -fPIC -shared -o "$work/libadd.so" "$work/lib.c"
clang -O2 -o "$work/ref" "$work/main.c" -L"$work" -ladd -Wl,-rpath,"$work"
"$work/ref"

cd "$here"
cargo test --quiet --test ffi_bench -- --ignored --nocapture 2>/dev/null | grep '^bench ' | tee "$work/out"

fig() { awk -v k="$1" '$2 == k { print $3 }' "$work/out"; }
echo "== targets"
printf 'extern call overhead %s ns (target <= 5 ns)\n' "$(fig ffi_call_overhead_ns)"
printf 'pool acquire+reset+release %s us (target < 2 us)\n' "$(fig pool_acquire_reset_release_plus_call_us)"
printf 'fresh create+destroy %s us (target < 100 us)\n' "$(fig fresh_create_destroy_plus_call_us)"
printf 'task for speed-up on 2 threads %s x (target >= 1.8 x; shared machine: see load above)\n' "$(fig task_for_speedup)"
