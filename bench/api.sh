#!/usr/bin/env bash
# API throughput on SQLite: list and get of integration accounts at 64 connections, side by
# side with the same server's trivial handler (/healthz) in the same run, then creates/s.
# Needs wrk (Debian package). Usage: bench/api.sh [seconds per run, default 10]
# PATCHBAY_BIN=path runs that binary instead of building this tree (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/peers.sh
secs="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bin="${PATCHBAY_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release -q -p patchbay
  bin=target/release/patchbay
fi
dir=$(mktemp -d)
port=$(free_port)
"$bin" serve --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
T=$(cat "$dir/data/admin-token")
curl -fs -H "Authorization: Bearer $T" -H 'Content-Type: application/json' "$base/api/v1/tenants" -d '{"id":"acme"}' >/dev/null
for i in $(seq 20); do
  curl -fs -H "Authorization: Bearer $T" -H 'Content-Type: application/json' "$base/api/v1/tenants/acme/integration-accounts" \
    -d "{\"type\":\"messenger\",\"provider\":\"line\",\"name\":\"line $i\",\"properties\":{\"token\":\"t$i\"}}" >/dev/null
done
id=$(curl -fs -H "Authorization: Bearer $T" "$base/api/v1/tenants/acme/integration-accounts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

cat >"$dir/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $T"
LUA
cat >"$dir/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $T"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"type":"messenger","provider":"line","name":"bench %d-%d","properties":{"token":"secret-%d"}}', tid, n, n)
  return wrk.format(nil, nil, nil, body)
end
LUA

run() { # label, extra wrk args...
  local label=$1; shift
  local out; out=$(wrk -t2 -c64 -d"${secs}s" --latency "$@")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errors; errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
  printf '%-22s %12s req/s   p99 %8s   %s\n' "$label" "$rps" "$p99" "$errors"
}
echo "patchbay API on SQLite, 64 connections, ${secs}s each ($(nproc) cores, wrk on the same machine)"
run "trivial (/healthz)" "$base/healthz"
run "list (20 accounts)" -s "$dir/auth.lua" "$base/api/v1/tenants/acme/integration-accounts"
run "get one account" -s "$dir/auth.lua" "$base/api/v1/tenants/acme/integration-accounts/$id"
run "create" -s "$dir/create.lua" "$base/api/v1/tenants/acme/integration-accounts"
