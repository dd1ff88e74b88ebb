#!/usr/bin/env bash
# The runtime gateway's cost: sentiment through patchbay (selection, quota reservation,
# secrets, the vendor call, usage) side by side with the same NLU stand-in called directly,
# at 64 connections over HTTPS, in one run: once with a stand-in that answers at once (the
# gateway's whole cost per call shows) and once with one that takes 20 ms, as a cloud API
# does; then the latency the speech-to-text relay adds per audio message (the WSS stand-in
# directly vs through GET …/gateway/transcribe); then quota reservations per second on
# SQLite (and PostgreSQL when PATCHBAY_TEST_DATABASE_URL names a server).
# Needs wrk (Debian package). Usage: bench/gateway.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/peers.sh
. bench/wrk.sh
secs="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p patchbay
cargo build --release -q -p patchbay-testkit --features tls,vendors --example standin --example sttbench
dir=$(mktemp -d)
mkdir "$dir/fast" "$dir/slow" "$dir/stt"
target/release/examples/standin nlu "$dir/fast" 0 &
fast_pid=$!
target/release/examples/standin nlu "$dir/slow" 20 &
slow_pid=$!
target/release/examples/standin stt "$dir/stt" &
stt_pid=$!
trap 'kill $fast_pid $slow_pid $stt_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/fast/port" ] && [ -s "$dir/slow/port" ] && [ -s "$dir/stt/port" ] && break; sleep 0.1; done
cat "$dir/fast/ca.pem" "$dir/slow/ca.pem" "$dir/stt/ca.pem" >"$dir/ca.pem"
port=$(free_port)
target/release/patchbay serve --data-dir "$dir/data" --listen "127.0.0.1:$port" \
  --egress-allow loopback --egress-ca-file "$dir/ca.pem" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid $fast_pid $slow_pid $stt_pid 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
T=$(cat "$dir/data/admin-token")
curl -fs -H "Authorization: Bearer $T" -H 'Content-Type: application/json' "$base/api/v1/tenants" -d '{"id":"acme"}' >/dev/null
# NLU's Limit is 100 calls a day per account: enough accounts that each run stays under it.
basic=$(printf '%s' '3d5a0c1e-watson-user:watson-password-s3cr3t' | base64 -w0)
prepare() { # name, stand-in dir, accounts
  local name=$1 standin="https://127.0.0.1:$(cat "$2/port")" accounts=$3
  seq "$accounts" | xargs -P 8 -I{} curl -fs -o /dev/null -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
    "$base/api/v1/tenants/$name/integration-accounts" \
    -d "{\"type\":\"nlu\",\"name\":\"nlu {}\",\"properties\":{\"url\":\"$standin/natural-language-understanding/api/v1/analyze?version=2017-02-27\",\"username\":\"3d5a0c1e-watson-user\",\"password\":\"watson-password-s3cr3t\"}}"
  local ids
  ids=$(curl -fs -H "Authorization: Bearer $T" "$base/api/v1/tenants/$name/integration-accounts?type=nlu" \
    | python3 -c 'import json,sys; print(",".join("\"%s\"" % a["id"] for a in json.load(sys.stdin)["items"]))')
  cat >"$dir/$name.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $T"
wrk.headers["Content-Type"] = "application/json"
local ids = {$ids}
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"text":"I love this service","account":"%s"}', ids[(n % #ids) + 1])
  return wrk.format(nil, nil, nil, body)
end
LUA
}
curl -fs -H "Authorization: Bearer $T" -H 'Content-Type: application/json' "$base/api/v1/tenants" -d '{"id":"slow"}' >/dev/null
prepare acme "$dir/fast" "${GATEWAY_BENCH_ACCOUNTS:-1200}"
prepare slow "$dir/slow" 400
cat >"$dir/direct.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic $basic"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text":"I love this service","features":{"sentiment":{"document":true}}}'
LUA

echo "sentiment, 64 connections, ${secs}s each ($(nproc) cores; wrk, patchbay and the stand-in on one machine)"
analyze="natural-language-understanding/api/v1/analyze?version=2017-02-27"
run "stand-in (0 ms) directly" -s "$dir/direct.lua" "https://127.0.0.1:$(cat "$dir/fast/port")/$analyze"
run "  through the gateway" -s "$dir/acme.lua" "$base/api/v1/tenants/acme/gateway/sentiment"
run "stand-in (20 ms) directly" -s "$dir/direct.lua" "https://127.0.0.1:$(cat "$dir/slow/port")/$analyze"
run "  through the gateway" -s "$dir/slow.lua" "$base/api/v1/tenants/slow/gateway/sentiment"
echo
curl -fs -o /dev/null -H "Authorization: Bearer $T" -H 'Content-Type: application/json' "$base/api/v1/tenants/acme/integration-accounts" \
  -d "{\"type\":\"stt\",\"provider\":\"watson\",\"name\":\"stt\",\"properties\":{\"url\":\"wss://localhost:$(cat "$dir/stt/port")\",\"username\":\"5c1e-stt-user\",\"password\":\"stt-password-s3cr3t\",\"default_account\":true}}"
target/release/examples/sttbench "$dir/stt" "ws://127.0.0.1:$port/api/v1/tenants/acme/gateway/transcribe?format=l16&rate=16000" "$T" "${STT_BENCH_MESSAGES:-5000}"
echo
cargo bench -q -p patchbay-gateway --bench quota
