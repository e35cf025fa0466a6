#!/usr/bin/env bash
# Coverage-guided fuzzing of one target with AFL++ on the stable toolchain
# (`cargo afl`, see "Fuzzing" in the README):
#
#   scripts/fuzz.sh TARGET [SECONDS]     (what `./dev fuzz` runs)
#   FUZZ_EXECS=10000000 scripts/fuzz.sh TARGET   (stop after ~N executions)
#
# TARGET is cxz, manifest, lang or wire (bodies in src/fuzzing.rs). The
# instrumented build, the seed corpus and AFL++'s findings all live under
# target/fuzz/ (a second run of the same target resumes its queue). Any
# crash is listed at the end: fix it, then copy the input into
# fuzz/regressions/TARGET/ so tests/fuzz_corpus.rs replays it forever.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: scripts/fuzz.sh cxz|manifest|lang|wire [SECONDS]}
seconds=${2:-600}
case "$target" in
  cxz | manifest | lang | wire) ;;
  *) echo "error: unknown fuzz target '$target' (cxz, manifest, lang, wire)" >&2; exit 2 ;;
esac

root=$PWD/target/fuzz
export CARGO_TARGET_DIR=$root
echo "==> cargo afl build --release (instrumented; the first build takes a while)"
(cd fuzz && cargo afl build --release --quiet)

corpus=$root/corpus
"$root/release/seeds" "$corpus" >/dev/null

out=$root/out/$target
mkdir -p "$root/out"
input=$corpus/$target
# Resume an earlier campaign's queue rather than starting over.
[ -d "$out/default/queue" ] && input=-

export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1 AFL_AUTORESUME=1
# FUZZ_EXECS stops after about that many executions instead of a time.
if [ -n "${FUZZ_EXECS:-}" ]; then
  limit=(-E "$FUZZ_EXECS")
  echo "==> fuzzing $target for ~$FUZZ_EXECS executions (findings in $out)"
else
  limit=(-V "$seconds")
  echo "==> fuzzing $target for ${seconds}s (findings in $out)"
fi
cargo afl fuzz "${limit[@]}" -m none -i "$input" -o "$out" "$root/release/$target" \
  > "$root/afl-$target.log" 2>&1 || {
  tail -n 30 "$root/afl-$target.log" >&2
  exit 1
}

stats=$out/default/fuzzer_stats
for key in execs_done execs_per_sec corpus_count edges_found total_edges bitmap_cvg saved_crashes saved_hangs; do
  grep -E "^$key +:" "$stats" || true
done
crashes=$(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
if [ "$crashes" -gt 0 ]; then
  echo "error: $crashes crashing inputs in $out/default/crashes" >&2
  exit 1
fi
