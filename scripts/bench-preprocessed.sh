#!/usr/bin/env bash
# The preprocessed-text key (docs/cache.md, "Preprocessed text"): a comment
# edit in one large generated C file (LINES lines, default 200000) that keeps
# every line where it was. Times, in this one run: the cold build of the
# library (`coex cxz build`), the rebuild after the edit (a preprocess, no
# compile: `cached (preprocessed)`), and, when ccache is installed, ccache's
# own figures for the same file and edit (cold compile, then the edit).
#
#   scripts/bench-preprocessed.sh               # target/debug/coex
#   LINES=50000 COEX=/path/to/coex scripts/bench-preprocessed.sh
set -euo pipefail

. "$(dirname "$0")/bench-lib.sh"
unset COEX_REMOTE_CACHE COEX_CC
LINES="${LINES:-200000}"

lib="$work/big"
mkdir -p "$lib/src" "$lib/ffi/src"
echo '# benchmark library' > "$lib/src/big.coex"
printf '[library]\nname = "big"\nversion = "1.0.0"\n\n[ffi.big]\nsource = ["big.c"]\n' > "$lib/manifest.toml"
gen() { # $1 = the comment's word; 10 lines per function
  echo "/* generated: $1 */"
  awk -v n="$((LINES / 10))" 'BEGIN {
    for (i = 0; i < n; i++) {
      printf "long g%d(long x) {\n  long a = x * %d;\n  for (int k = 0; k < 8; k++) {\n", i, i + 1
      printf "    a = a * 6364136223846793005L + k;\n    if (a & 1) a ^= a >> 7;\n"
      printf "    else a += a << 3;\n  }\n  return a;\n}\n\n"
    }
  }'
}
gen one > "$lib/ffi/src/big.c"
echo "C file: $(wc -l < "$lib/ffi/src/big.c") lines, $(du -k "$lib/ffi/src/big.c" | cut -f1) KiB"

build() { # the report goes to $work/report
  COEX_CACHE_DIR="$work/cache" "$COEX" cxz pack "$lib" -o "$work/big.cxz" >/dev/null
  COEX_CACHE_DIR="$work/cache" "$COEX" cxz build -v "$work/big.cxz" -o "$work/out" >"$work/report" 2>&1
}
# How the compile was satisfied, from its `-v` status line: `Compiling`,
# `Cached`, `Cached (preprocessed)` or `Remote`.
word() {
  sed -n -E 's@^ *([A-Za-z]+) compile:big/big/big\.c( \(preprocessed\))?$@\1\2@p' "$work/report"
}
cold=$(timed 2 build)
cold_word=$(word)
gen two > "$lib/ffi/src/big.c"
edit=$(timed 2 build)
edit_word=$(word)
build
echo "coex: cold build ${cold} s ($cold_word); after a comment edit ${edit} s ($edit_word: pack + preprocess); next build: $(word)"

if command -v ccache >/dev/null; then
  cc=(env CCACHE_DIR="$work/ccache" CCACHE_NOHASHDIR=1 ccache clang -c -O2 -fPIC -o "$work/big.o" "$work/big.c")
  gen one > "$work/big.c"
  ccold=$(timed 2 "${cc[@]}")
  gen two > "$work/big.c"
  # ccache's direct mode misses (the source changed), its preprocessor mode hits.
  cedit=$(timed 2 "${cc[@]}")
  echo "ccache: cold compile ${ccold} s; after the comment edit ${cedit} s"
  CCACHE_DIR="$work/ccache" ccache -s | grep -Ei 'hits|misses' | head -4
else
  echo "ccache: not installed (apt-get install -y ccache), no figure"
fi
