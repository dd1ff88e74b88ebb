#!/usr/bin/env bash
# Soak test: a release `patchbay serve` on loopback with a fresh data dir under mixed load for
# a long time, to find leaks (memory, fds, threads, tasks), 5xx answers and lost writes.
#
# At once, for the whole run (bench/soak.py does the load):
# - API reads and writes with every role: tenants created, renamed (If-Match) and deleted by
#   the service-provider admin; accounts created, updated and deleted with If-Match (and
#   stale If-Match answered 412) by tenant admins; tokens created, used and revoked; audit
#   pages, account reads, recording search and Range playback by viewers; 403 for a viewer's
#   write; key status;
# - event intake: `patchbay simulate` on three tenants (50 events/s each by default);
# - live feeds (Aspect RTA over TCP, statistics over TCP, WFM HTTP POST, Loxysoft, NICE) to
#   local receivers that are stopped and started again every minute or so;
# - recordings taken in through the API (metadata, then audio; every 150th one over the 8 MiB
#   multipart boundary) and an export job (every 60 s, plus a manual run every 2.5 min) to a
#   local S3 server (s3s-fs) that is killed (SIGKILL or SIGTERM) every 100 s and comes back
#   40 s later;
# - `patchbay keys rotate --retire-old` every 3 minutes.
# Every minute: patchbay's RSS, open fds, threads, tokio tasks alive and /metrics counters,
# into samples.csv. At the end: the S3 server and receivers stay up, patchbay gets SIGTERM
# and starts again on the same data dir, a final export run drains what is left, and every
# acknowledged write is checked (accounts at their last acknowledged version and name,
# deleted ones gone, tenants, tokens alive or revoked, recordings with the same SHA-256 and
# exactly one object in the bucket with those bytes, exported once according to the runs'
# metadata files). The report: the samples, the least-squares slope per hour of RSS, fds,
# threads and tasks (absolute and % of the mean), requests by kind and outcome (5xx, and
# 429/503 with Retry-After from limits, apart), events, rotations, flaps, lost writes.
# Exit 1 on a lost write, a recording not exported, any 5xx or a failed restart.
#
# Usage: bench/soak.sh [--minutes N] [--postgres URL] [--sample-seconds S] [--keep]
# PATCHBAY_BIN=path soaks that binary instead of a release build of this tree.
#   --minutes N       length of the load (default 30)
#   --postgres URL    use PostgreSQL: a fresh database is created on that server (and dropped
#                     afterwards); default SQLite in the data dir
#   --sample-seconds  sampling period (default 60)
#   --keep            keep the work dir (always kept when the run fails)
# Installs s3s-fs when missing (cargo install, about 1.5 min). Needs python3, curl, psql for
# --postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/peers.sh

minutes=30
pg_url=
sample_seconds=60
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --postgres) pg_url=$2; shift 2 ;;
    --sample-seconds) sample_seconds=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "--minutes must be a number" >&2; exit 2; }

S3_UP=100
S3_DOWN=40
RECEIVERS_UP=50
RECEIVERS_DOWN=15
AK=soakak
SK=soaksecretkey
BUCKET=soak

ensure_s3s_fs
PB="${PATCHBAY_BIN:-}"
if [ -z "$PB" ]; then
  cargo build --release -q -p patchbay
  PB=$PWD/target/release/patchbay
fi
SOAK_PY=$PWD/bench/soak.py
work=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-soak.XXXXXX")
data=$work/data

pb_pid=
receivers_pid=
flappers=()
db_name=
ok=0
cleanup() {
  local pid
  touch "$work/stop-flapping"
  for pid in "${flappers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -e "$work/s3.pid" ] && S3S_FS_PID=$(cat "$work/s3.pid")
  [ -e "$work/receivers.pid" ] && receivers_pid=$(cat "$work/receivers.pid")
  for pid in "$pb_pid" "$receivers_pid"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  stop_peers
  if [ -n "$db_name" ]; then psql "$pg_url" -qAtc "drop database if exists $db_name with (force)" >/dev/null 2>&1 || true; fi
  if [ "$keep" = 1 ] || [ "$ok" != 1 ]; then
    rm -rf "$work/data/recordings" "$work/s3"
    echo "work dir kept: $work (samples.csv, report.txt, patchbay.log)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

serve_args=(--data-dir "$data" --egress-allow loopback --log-format json)
backend=SQLite
if [ -n "$pg_url" ]; then
  command -v psql >/dev/null || { echo "--postgres needs psql: apt-get install postgresql-client" >&2; exit 1; }
  db_name="patchbay_soak_$(date +%s)"
  psql "$pg_url" -qAtc "create database $db_name" >/dev/null
  db_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$pg_url" "$db_name")
  serve_args+=(--database-url "$db_url")
  backend="PostgreSQL (database $db_name)"
fi

port=$(free_port)
BASE="http://127.0.0.1:$port"
start_patchbay() {
  "$PB" serve "${serve_args[@]}" --listen "127.0.0.1:$port" >>"$work/patchbay.log" 2>&1 &
  pb_pid=$!
  for _ in $(seq 300); do
    curl -fs "$BASE/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$pb_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "patchbay did not start; the end of its log:" >&2
  tail -n 20 "$work/patchbay.log" >&2
  exit 1
}

# Sleeps N seconds unless the flappers are told to stop (then fails).
nap() {
  local i
  for ((i = 0; i < $1; i++)); do
    [ -e "$work/stop-flapping" ] && return 1
    sleep 1
  done
}

# The S3 server: up S3_UP s, killed (SIGKILL and SIGTERM in turn), down S3_DOWN s, started
# again on the same port and folder. Left up when told to stop.
flap_s3() {
  local n=0 signal
  while nap "$S3_UP"; do
    n=$((n + 1))
    signal=$([ $((n % 2)) = 1 ] && echo KILL || echo TERM)
    kill -s "$signal" "$(cat "$work/s3.pid")" 2>/dev/null || true
    echo "$(date +%s) s3 down $signal" >>"$work/flaps.log"
    nap "$S3_DOWN" || true
    start_s3s_fs "$work/s3" "$AK" "$SK" "$work/s3s-$n.log" "$S3S_FS_PORT"
    disown "$S3S_FS_PID"  # killed on purpose: no job report
    echo "$S3S_FS_PID" >"$work/s3.pid"
    echo "$(date +%s) s3 up" >>"$work/flaps.log"
  done
}

start_receivers() {
  python3 "$SOAK_PY" receivers --aspect "$aspect_port" --stats "$stats_port" --http "$http_port" --out "$work" \
    >>"$work/receivers.log" 2>&1 &
  echo $! >"$work/receivers.pid"
}

# The feed receivers: up RECEIVERS_UP s, stopped, down RECEIVERS_DOWN s, started again.
flap_receivers() {
  while nap "$RECEIVERS_UP"; do
    kill "$(cat "$work/receivers.pid")" 2>/dev/null || true
    echo "$(date +%s) receivers down" >>"$work/flaps.log"
    nap "$RECEIVERS_DOWN" || true
    start_receivers
    echo "$(date +%s) receivers up" >>"$work/flaps.log"
  done
}

# ---------------------------------------------------------------- start
mkdir -p "$work/s3/$BUCKET"
start_s3s_fs "$work/s3" "$AK" "$SK" "$work/s3s-0.log"
disown "$S3S_FS_PID"
echo "$S3S_FS_PID" >"$work/s3.pid"
aspect_port=$(free_port)
stats_port=$(free_port)
http_port=$(free_port)
start_receivers
start_patchbay
echo "soak: $minutes min against $BASE on $backend, work dir $work" >&2
python3 "$SOAK_PY" setup --work "$work" --base "$BASE" --admin-token "$(cat "$data/admin-token")" --pid "$pb_pid" \
  --patchbay "$PB" --backend "$backend" --minutes "$minutes" --s3-url "$S3S_FS_URL" --s3-key "$AK" \
  --s3-secret "$SK" --s3-dir "$work/s3" --bucket "$BUCKET" --aspect-port "$aspect_port" --stats-port "$stats_port" \
  --http-port "$http_port"

# ---------------------------------------------------------------- load
flap_s3 &
flappers+=($!)
flap_receivers &
flappers+=($!)
python3 "$SOAK_PY" load --work "$work" --minutes "$minutes" --sample-seconds "$sample_seconds"
touch "$work/stop-flapping"
for pid in "${flappers[@]}"; do wait "$pid" || true; done
flappers=()
S3S_FS_PID=$(cat "$work/s3.pid")

# ---------------------------------------------------------------- restart
echo "soak: SIGTERM to patchbay, then a start on the same data dir" >&2
t0=$(date +%s%N)
kill -TERM "$pb_pid"
stopped=0
for _ in $(seq 600); do
  kill -0 "$pb_pid" 2>/dev/null || { stopped=1; break; }
  sleep 0.1
done
if [ "$stopped" != 1 ]; then
  echo "FINDING: patchbay did not stop within 60 s of SIGTERM" >&2
  kill -KILL "$pb_pid" 2>/dev/null || true
fi
wait "$pb_pid" 2>/dev/null && stop_status=0 || stop_status=$?
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
start_patchbay

# ---------------------------------------------------------------- verify and report
status=0
python3 "$SOAK_PY" verify --work "$work" || status=$?
panics=$(grep -c 'panicked' "$work/patchbay.log" || true)
echo "shutdown on SIGTERM: ${stop_ms} ms, exit status $stop_status; patchbay log: $panics panics"
echo "patchbay log lines at WARN and ERROR by message (ids replaced by ID):"
python3 - "$work/patchbay.log" <<'PY'
import collections, json, re, sys
seen = collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("level") in ("WARN", "ERROR"):
        text = f'{e["level"]} {e.get("target", "")}: {e.get("message", "")} {e.get("error", "")}'
        seen[re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\b\d+\b", "ID", text)[:200]] += 1
for text, n in seen.most_common(15):
    print(f"  {n:6}  {text}")
PY
if [ "$stopped" != 1 ] || [ "$stop_status" != 0 ] || [ "$panics" != 0 ]; then status=1; fi
[ "$status" = 0 ] && ok=1
exit "$status"
