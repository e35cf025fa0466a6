#!/usr/bin/env bash
# What `within` deadline checks cost (docs/runtime.md, "Deadlines"):
#   - loops and calls: the same Coex functions run outside any `within`
#     (no check points: the machine code of before deadlines stopped Coex
#     code) and inside `within 1000 * time.second` (a check at every loop
#     round, function entry and call return); overhead in percent;
#   - the same loops in C (clang -O2) for reference;
#   - entering and leaving one `within` (a loop of K of them).
# Figures: best user CPU time of R runs (the test machine is shared).
#
#   scripts/bench-within.sh            # M=300000000 R=5 K=1000000
set -euo pipefail

. "$(dirname "$0")/bench-lib.sh"
unset COEX_REMOTE_CACHE COEX_CC
M="${M:-300000000}"
R="${R:-5}"
K="${K:-1000000}"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Best user CPU seconds of R runs of $1.
best() {
  local b=999 t
  for _ in $(seq "$R"); do
    t=$( { TIMEFORMAT=%U; time "$1" >/dev/null; } 2>&1 )
    b=$(awk -v a="$b" -v c="$t" 'BEGIN { print (c < a) ? c : a }')
  done
  echo "$b"
}

kernels="func add(n: int) -> int
    s = 0
    for i in 0..n
        s = s + i
    ~
    return s
~

func mod7(n: int) -> int
    s = 0
    i = 0
    while i < n
        s = s + i % 7
        i = i + 1
    ~
    return s
~

func fib(n: int) -> int
    if n < 2
        return n
    ~
    return fib(n - 1) + fib(n - 2)
~
"
# $1 = name, $2 = call; builds <name>_plain and <name>_within.
pair() {
  printf '%s\nfunc main() -> int\n    print(%s)\n    return 0\n~\n' "$kernels" "$2" > "$work/$1_plain.coex"
  printf '%s\nfunc main() -> int\n    within 1000 * time.second\n        print(%s)\n    else\n        print(-1)\n    ~\n    return 0\n~\n' \
    "$kernels" "$2" > "$work/$1_within.coex"
  for v in plain within; do
    COEX_CACHE_DIR="$work/cache" "$COEX" build "$work/$1_$v.coex" -o "$work/$1_$v" >/dev/null
  done
}
pair add "add($M)"
pair mod7 "mod7($M)"
pair fib "fib(35)"

cat > "$work/loops.c" <<C
#include <stdio.h>
#include <stdint.h>
int main(void) {
  volatile int64_t n = $M;
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++) { s += i % 7; __asm__ volatile("" : "+r"(s)); }
  printf("%lld\n", (long long)s);
  return 0;
}
C
clang -O2 -o "$work/mod7_c" "$work/loops.c"

printf 'func main() -> int\n    s = 0\n    for i in 0..%s\n        within 1000 * time.second\n            s += 1\n        else\n            s -= 1\n        ~\n    ~\n    print(s)\n    return 0\n~\n' \
  "$K" > "$work/enter.coex"
printf 'func main() -> int\n    s = 0\n    for i in 0..%s\n        s += 1\n    ~\n    print(s)\n    return 0\n~\n' "$K" > "$work/enter_base.coex"
for v in enter enter_base; do
  COEX_CACHE_DIR="$work/cache" "$COEX" build "$work/$v.coex" -o "$work/$v" >/dev/null
done

echo
echo "within deadline checks: best user CPU of $R runs, $M loop rounds, fib(35) (calls)"
report() { # $1 = name, $2 = rounds (for ns/round)
  local p w
  p=$(best "$work/$1_plain")
  w=$(best "$work/$1_within")
  awk -v n="$1" -v p="$p" -v w="$w" -v k="$2" 'BEGIN {
    printf "%-5s outside within %.3fs (%.2f ns/round), checked %.3fs (%.2f ns/round): %+.1f%%\n",
      n, p, p / k * 1e9, w, w / k * 1e9, (w - p) / p * 100 }'
}
report add "$M"
report mod7 "$M"
report fib 29860703
c=$(best "$work/mod7_c")
awk -v c="$c" -v k="$M" 'BEGIN { printf "mod7 in C (clang -O2): %.3fs (%.2f ns/round)\n", c, c / k * 1e9 }'
e=$(best "$work/enter")
b=$(best "$work/enter_base")
awk -v e="$e" -v b="$b" -v k="$K" 'BEGIN { printf "enter + leave one within: %.0f ns\n", (e - b) / k * 1e9 }'
