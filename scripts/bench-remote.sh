#!/usr/bin/env bash
# A second builder with an empty local cache, through a shared cache, against
# a cold local build (issue "remote caches the ecosystem runs").
#
#   1. cold local build of examples/regex_demo.coex (empty cache, no remote)
#   2. the same with an empty local cache and a warm remote: nginx (Bazel HTTP
#      protocol) and BuildGrid (REAPI over gRPC), best of 3 each
#   3. the round trips each of those made ("remote cache: N requests, …")
#   4. build without the bytes: a program importing a library whose C unit
#      has a large table (object file and image of about 2 MB each), a
#      second builder through nginx: bytes downloaded and time, as built now
#      (the image and the executable) and with COEX_REMOTE_DOWNLOAD=all
#      (every blob of every hit, as before), best of 3 each
#
# Figures are ratios to (1), measured in this one run. Needs nginx and
# BuildGrid (`./dev bench` installs both; BuildGrid lives in
# ${COEX_DEV_TOOLS:-~/.cache/coex-dev}/buildgrid-0.4.4).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${COEX:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  COEX="$here/target/release/coex"
fi
. "$(dirname "$0")/bench-lib.sh"
unset COEX_REMOTE_CACHE COEX_CC
BGD="${COEX_BGD:-${COEX_DEV_TOOLS:-$HOME/.cache/coex-dev}/buildgrid-0.4.4/bin/bgd}"
[ -x "$BGD" ] || { echo "error: BuildGrid not found at $BGD; run ./dev bench (it installs it)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # $1 = port: up to 30 s
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "error: nothing listens on 127.0.0.1:$1" >&2; exit 1
}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# --- the servers ---------------------------------------------------------------
ng="$work/nginx"; ng_port=$(free_port)
mkdir -p "$ng/logs" "$ng/tmp" "$ng/data/cache"
cat > "$ng/nginx.conf" <<CONF
worker_processes 1; daemon off; master_process off; pid $ng/nginx.pid;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
error_log $ng/logs/error.log warn;
events { worker_connections 256; }
http { access_log off;
  client_body_temp_path $ng/tmp/cb; proxy_temp_path $ng/tmp/p; fastcgi_temp_path $ng/tmp/f;
  uwsgi_temp_path $ng/tmp/u; scgi_temp_path $ng/tmp/s;
  server { listen 127.0.0.1:$ng_port; root $ng/data;
    location /cache/ { dav_methods PUT; create_full_put_path on; client_max_body_size 0; } } }
CONF
nginx -p "$ng" -c "$ng/nginx.conf" & pids+=($!)
bg_port=$(free_port)
cat > "$work/bgd.yml" <<CONF
server:
  - !channel
    address: "127.0.0.1:$bg_port"
    insecure-mode: true
storages:
  - !lru-storage &cas
    size: 512MB
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 10000
    allow-updates: true
instances:
  - name: ''
    services:
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
      - !action-cache
        cache: *ac
CONF
"$BGD" server start "$work/bgd.yml" >"$work/bgd.log" 2>&1 & pids+=($!)
wait_port "$ng_port"; wait_port "$bg_port"
http_url="http://127.0.0.1:$ng_port/cache"
grpc_url="grpc://127.0.0.1:$bg_port"

# --- the builds ------------------------------------------------------------------
mkdir -p "$work/lib" "$work/prog"
"$COEX" cxz pack "$here/examples/libs/posix_regex" -o "$work/lib/posix_regex.cxz" >/dev/null
build() { # $1 = cache dir, rest = extra flags; prints coex's status (its stderr)
  rm -rf "$1"
  local c="$1"; shift
  COEX_CACHE_DIR="$c" "$COEX" build "$here/examples/regex_demo.coex" -L "$work/lib" \
    -o "$work/prog/regex_demo" "$@" 2>&1
}
best_of3() { # rest = build arguments; prints the best seconds
  local best=999 t
  for _ in 1 2 3; do
    t=$(timed 4 build "$@")
    best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
  done
  echo "$best"
}
# Fill both remotes (one writer each).
build "$work/w-http" --remote-cache "$http_url" >/dev/null
build "$work/w-grpc" --remote-cache "$grpc_url" >/dev/null

cold=$(best_of3 "$work/c-local")
via_http=$(best_of3 "$work/c-http" --remote-cache "$http_url" --remote-upload=false)
via_grpc=$(best_of3 "$work/c-grpc" --remote-cache "$grpc_url" --remote-upload=false)
summary_http=$(build "$work/c-http" --remote-cache "$http_url" --remote-upload=false)
summary_grpc=$(build "$work/c-grpc" --remote-cache "$grpc_url" --remote-upload=false)
trips() { echo "$1" | sed -n 's/.*(remote cache: \([0-9]*\) requests.*/\1/p'; }
downloaded() { echo "$1" | sed -n 's/.*, \([0-9]*\) bytes downloaded)$/\1/p'; }
actions() { echo "$1" | grep -oE '[0-9]+ actions: [^)]*'; }

ms() { awk -v s="$1" 'BEGIN { printf "%7.1f ms", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "second builder, empty local cache, regex_demo (best of 3; ratios to the cold local build):"
printf '  %-34s %s  1.00\n' "cold local build (no remote)" "$(ms "$cold")"
printf '  %-34s %s  %s   %s round trips  [%s]\n' "through nginx (HTTP)" "$(ms "$via_http")" \
  "$(ratio "$via_http" "$cold")" "$(trips "$summary_http")" "$(actions "$summary_http")"
printf '  %-34s %s  %s   %s round trips  [%s]\n' "through BuildGrid (gRPC)" "$(ms "$via_grpc")" \
  "$(ratio "$via_grpc" "$cold")" "$(trips "$summary_grpc")" "$(actions "$summary_grpc")"

# --- build without the bytes -------------------------------------------------------
big="$work/big"; mkdir -p "$big/src" "$big/ffi/src" "$work/bigprog/libs"
cat > "$big/manifest.toml" <<'TOML'
[library]
name = "big"
version = "0.1.0"
source = ["big.coex"]

[ffi.big]
source = ["big.c"]
headers = ["."]

[[ffi.big.symbols]]
name = "coex_big_sum"
params = ["int"]
returns = "int"
TOML
printf 'extern coex_big_sum(n: int) -> int\n~\n\nfunc big_total(n: int) -> int\n    return coex_big_sum(n)\n~\n' > "$big/src/big.coex"
python3 - "$big/ffi/src/big.c" <<'PY'
import sys
n = 250000
with open(sys.argv[1], "w") as f:
    f.write("#include <stdint.h>\nstatic const int64_t table[%d] = {\n" % n)
    f.write(",\n".join(str((i * 2654435761) % 1000003) for i in range(n)))
    f.write("};\nint64_t coex_big_sum(int64_t n) {\n  int64_t s = 0;\n"
            "  for (int64_t i = 0; i < n; i++) s += table[i %% %d];\n  return s;\n}\n" % n)
PY
printf 'import "big"\n\nfunc main() -> int\n    print(big_total(5))\n    return 0\n~\n' > "$work/bigprog/app.coex"
"$COEX" cxz pack "$big" -o "$work/bigprog/libs/big.cxz" >/dev/null
big_url="$http_url/big"   # a namespace of its own: its files are this build's
big_build() { # $1 = cache dir, rest = extra flags
  rm -rf "$1"
  local c="$1"; shift
  (cd "$work/bigprog" && COEX_CACHE_DIR="$c" "$COEX" build app.coex -L libs -o app "$@" 2>&1)
}
big_cold=$(timed 3 big_build "$work/b-writer" --remote-cache "$big_url")
stored=$(find "$ng/data/cache/big/cas" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
COEX_CACHE_DIR="$work/b-writer" "$COEX" cxz build "$work/bigprog/libs/big.cxz" -o "$work/bigimg" -q
outputs=$(( $(stat -c %s "$work/bigprog/app") + $(stat -c %s "$work/bigimg/libbig.so") ))
best_big() { # rest = flags (and env through `env`); prints the best seconds
  local best=999 t
  for _ in 1 2 3; do
    t=$(timed 4 "$@")
    best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
  done
  echo "$best"
}
lazy_t=$(best_big big_build "$work/b-lazy" --remote-cache "$big_url" --remote-upload=false)
lazy_s=$(big_build "$work/b-lazy" --remote-cache "$big_url" --remote-upload=false)
export COEX_REMOTE_DOWNLOAD=all
all_t=$(best_big big_build "$work/b-all" --remote-cache "$big_url" --remote-upload=false)
all_s=$(big_build "$work/b-all" --remote-cache "$big_url" --remote-upload=false)
unset COEX_REMOTE_DOWNLOAD
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }
echo
echo "build without the bytes: program importing a library with a 250,000-entry C table (best of 3):"
printf '  %-50s %s\n' "cold build, writing the remote" "$(ms "$big_cold")"
printf '  %-50s %s   %s downloaded  [%s]\n' "second builder, now (outputs only)" "$(ms "$lazy_t")" \
  "$(mb "$(downloaded "$lazy_s")")" "$(actions "$lazy_s")"
printf '  %-50s %s   %s downloaded  [%s]\n' "second builder, COEX_REMOTE_DOWNLOAD=all (before)" "$(ms "$all_t")" \
  "$(mb "$(downloaded "$all_s")")" "$(actions "$all_s")"
printf '  %-50s %s (executable + unit image: %s)\n' "blobs stored by the writer" "$(mb "$stored")" "$(mb "$outputs")"
