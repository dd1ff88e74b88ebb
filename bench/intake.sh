#!/usr/bin/env bash
# Event intake throughput on loopback: a release `patchbay serve` and `patchbay simulate`
# sending NDJSON batches of realistic agent churn. Usage: bench/intake.sh [events] [agents]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/peers.sh
events="${1:-2000000}"
agents="${2:-10000}"
cargo build --release -q -p patchbay
dir=$(mktemp -d)
port=$(free_port)
target/release/patchbay serve --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
export PATCHBAY_SERVER="http://127.0.0.1:$port" PATCHBAY_TOKEN="$(cat "$dir/data/admin-token")"
target/release/patchbay tenants create acme >/dev/null
echo "event intake, $events events of $agents agents in NDJSON batches of 1000, 4 requests in flight ($(nproc) cores, client on the same machine)"
target/release/patchbay simulate --tenant acme --agents "$agents" --events "$events" --batch 1000 --concurrency 4
