#!/usr/bin/env bash
# Fuzzes the REST API against its own OpenAPI document (/api/v1/openapi.json) with
# schemathesis: examples, coverage, fuzzing and stateful phases (the document's links), a
# fixed seed and a bounded budget. Fails on any 5xx, any response that breaks the document
# (schema or content type), and any response that carries a secret value stored in an
# account. Starts a debug `patchbay serve` on a free loopback port with a fresh SQLite data
# dir, and seeds a tenant and accounts first so there is data to read.
# Usage: scripts/schemathesis.sh   (SCHEMATHESIS_SEED, SCHEMATHESIS_MAX_EXAMPLES to vary)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/peers.sh

ensure_schemathesis
seed="${SCHEMATHESIS_SEED:-5}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-20}"

cargo build --quiet -p patchbay
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
work=$(mktemp -d "$PEERS_DIR/schemathesis.XXXXXX")
port=$(free_port)
base="http://127.0.0.1:$port/api/v1"
# Throwaway values made for this run only.
token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
sentinel_a="sentinel-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
sentinel_b="sentinel-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

PATCHBAY_ADMIN_TOKEN="$token" "$target_dir/debug/patchbay" serve --data-dir "$work/data" \
  --listen "127.0.0.1:$port" --egress-timeout 2 >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

api() {
  curl -fsS -H "Authorization: Bearer $token" -H 'content-type: application/json' "$@"
}
api "$base/tenants" -d '{"id": "acme", "name": "Acme Support", "enabled_types": ["aws"]}' >/dev/null
api "$base/tenants/acme/integration-accounts" -d '{"type": "messenger", "provider": "facebook", "name": "Facebook main",
  "properties": {"page_username": "acme", "page_id": "1234567890", "token": "'"$sentinel_a"'"}}' >/dev/null
api "$base/tenants/acme/integration-accounts" -d '{"type": "zapier", "name": "Zapier",
  "properties": {"username": "zap", "password": "'"$sentinel_b"'"}}' >/dev/null
api "$base/tokens" -d '{"name": "acme viewer", "role": "tenant_viewer", "tenant": "acme"}' >/dev/null

export PATCHBAY_SENTINELS="$sentinel_a
$sentinel_b"
PATCHBAY_OWN_TOKEN_ID=$(api "$base/whoami" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token_id"])')
export PATCHBAY_OWN_TOKEN_ID PATCHBAY_SEED_TENANT=acme
export SCHEMATHESIS_HOOKS=schemathesis_hooks
export PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"
started=$SECONDS
status=0
# From the run's own directory: schemathesis keeps a cache in the working directory.
(cd "$work" && "$SCHEMATHESIS" run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --seed "$seed" --max-examples "$max_examples" --generation-database none \
  --phases examples,coverage,fuzzing,stateful \
  --checks not_a_server_error,response_schema_conformance,content_type_conformance,no_stored_secret_in_response \
  --request-timeout 20 --workers 1 --no-color "$@" \
  --exclude-path '/tenants/{tenant}/live/stream' \
  --report junit --report-dir "$work/report") || status=$?
echo "schemathesis: exit $status after $((SECONDS - started)) s; server log and report in $work"
if [ "$status" != 0 ]; then tail -n 50 "$work/server.log" >&2; fi
exit "$status"
