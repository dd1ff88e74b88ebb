#!/usr/bin/env bash
# The messenger edge on SQLite: verified deliveries per second with 64 concurrent senders
# (Telegram updates, each a new message: secret-token proof; and one Viber callback sent
# again and again: HMAC-SHA256 of the body, kept each time, read once), beside /healthz on
# the same server as the ceiling of the HTTP layer; then the latency from a delivery to its
# event at a long-poll subscriber, at rest and while 64 senders keep the intake busy.
# Needs wrk (Debian package). Usage: bench/edge.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/peers.sh
. bench/wrk.sh
secs="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p patchbay
cargo build --release -q -p patchbay-testkit --features vendors --example edgebench
dir=$(mktemp -d)
port=$(free_port)
target/release/patchbay serve --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
T=$(cat "$dir/data/admin-token")
api() { curl -fs -H "Authorization: Bearer $T" -H 'Content-Type: application/json' "$@"; }
api "$base/api/v1/tenants" -d '{"id":"acme"}' >/dev/null
tg_token='123456:AAH-bench-telegram-token'
tg=$(api "$base/api/v1/tenants/acme/integration-accounts" -d "{\"type\":\"messenger\",\"provider\":\"telegram\",\"name\":\"tg\",\"properties\":{\"bot_username\":\"bench_bot\",\"token\":\"$tg_token\"}}")
tg_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$tg")
tg_hook="$base$(python3 -c 'import json,sys; print(json.load(sys.stdin)["inbound_webhook_url"])' <<<"$tg")"
# The secret token Set Webhook gives Telegram (docs/edge.md): derived from the account and its token.
tg_secret=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(("patchbay telegram webhook\n%s\n%s\n" % (sys.argv[1], sys.argv[2])).encode()).hexdigest()[:32])' "$tg_id" "$tg_token")
vb_token='viber-bench-auth-token'
vb=$(api "$base/api/v1/tenants/acme/integration-accounts" -d "{\"type\":\"messenger\",\"provider\":\"viber\",\"name\":\"vb\",\"properties\":{\"bot_username\":\"bench\",\"token\":\"$vb_token\"}}")
vb_hook="$base$(python3 -c 'import json,sys; print(json.load(sys.stdin)["inbound_webhook_url"])' <<<"$vb")"
vb_body='{"event":"message","timestamp":1700000000000,"message_token":5000000001,"sender":{"id":"01234567890A=","name":"Bench"},"message":{"type":"text","text":"hello"}}'
vb_sig=$(python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$vb_token" "$vb_body")
gw=$(api "$base/api/v1/tokens" -d '{"name":"bench","role":"gateway_client","tenant":"acme"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

cat >"$dir/telegram.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = "$tg_secret"
local thread_id = 0
local counter = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("id", thread_id)
end
function request()
  counter = counter + 1
  local update = id * 100000000 + counter
  local body = string.format('{"update_id":%d,"message":{"message_id":%d,"date":1700000000,"from":{"id":%d,"first_name":"Bench"},"chat":{"id":%d,"type":"private"},"text":"load %d"}}', update, counter, 20000 + counter % 500, 20000 + counter % 500, update)
  return wrk.format(nil, nil, nil, body)
end
LUA
cat >"$dir/viber.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Viber-Content-Signature"] = "$vb_sig"
wrk.body = '$vb_body'
LUA

echo "64 connections, ${secs}s each, SQLite ($(nproc) cores; wrk and patchbay on one machine)"
run "GET /healthz (HTTP layer ceiling)" "$base/healthz"
run "Telegram updates, each new" -s "$dir/telegram.lua" "$tg_hook"
run "Viber callback (HMAC), repeated" -s "$dir/viber.lua" "$vb_hook"
inbox() { sqlite3 "$dir/data/patchbay.db" 'SELECT COUNT(*) FROM edge_inbox' 2>/dev/null || echo "?"; }
for _ in $(seq 600); do [ "$(inbox)" = 0 ] && break; sleep 0.1; done
echo "inbox after the runs: $(inbox) left to read"
echo
target/release/examples/edgebench "$base" "$tg_hook" "$tg_secret" "$gw" "${EDGE_BENCH_DELIVERIES:-2000}"
echo "the same, while 64 senders keep the intake busy:"
wrk -t2 -c64 -d"$((secs + 30))s" -s "$dir/telegram.lua" "$tg_hook" >/dev/null &
load=$!
sleep 1
target/release/examples/edgebench "$base" "$tg_hook" "$tg_secret" "$gw" "${EDGE_BENCH_DELIVERIES:-2000}"
kill $load 2>/dev/null || true
