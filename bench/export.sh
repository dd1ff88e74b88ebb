#!/usr/bin/env bash
# Recording export throughput and memory: a release `patchbay serve` exports a set of random
# audio files (default 2 GiB, 1×500 MiB, 2×300 MiB, 4×100 MiB, 45 of 5 to 20 MiB, 40 of
# 0.25 to 2.5 MiB) to a local s3s-fs S3 server, and rclone copies the same files to the same
# server in the same run, with the same part size (8 MiB) and 4 files at once.
#
# Reported per round: export seconds and MiB/s (POST run to the run's end, and the run's
# own started_at -> finished_at), rclone seconds and MiB/s, the throughput ratio, patchbay's
# idle RSS before the export and its peak RSS during it (VmHWM reset through clear_refs, and
# VmRSS sampled every 50 ms), and the CPU seconds of each client and of the S3 server.
# Round 1 also reads every object patchbay wrote back through S3 and compares it with the
# local file (rclone check --download). The targets checked at the end: throughput at least
# 1.0x rclone's in every round, and peak RSS at most 64 MiB above round 1's idle RSS (memory
# kept after a round raises the next round's idle, so later rounds are held to round 1's).
#
# Usage: bench/export.sh [SIZE] [ROUNDS]
#   SIZE    total size of the set: 2G (default), or e.g. 256M for a quick run (the mix is
#           scaled; the 8 MiB and 8 MiB + 1 byte files at the multipart boundary stay)
#   ROUNDS  export + rclone rounds, patchbay first in each (default 1)
# Environment: BENCH_DIR (work dir, default a temp dir under $TMPDIR or target/),
#   RCLONE_UPLOAD_CONCURRENCY (parts of one file rclone sends at once, default rclone's 4),
#   PROFILE=1 (perf record of patchbay during round 1's export; report in the work dir,
#   which is then kept), KEEP=1 (keep the work dir).
# Installs what it lacks: s3s-fs (cargo install, about 1.5 min) and rclone (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/peers.sh

size_arg="${1:-2G}"
rounds="${2:-1}"
case "$size_arg" in
  *[Gg]) total_mib=$(( ${size_arg%[Gg]} * 1024 )) ;;
  *[Mm]) total_mib=${size_arg%[Mm]} ;;
  *) echo "SIZE must be like 2G or 256M" >&2; exit 2 ;;
esac
[[ "$total_mib" =~ ^[0-9]+$ ]] && [ "$total_mib" -ge 32 ] || { echo "SIZE must be at least 32M" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive number" >&2; exit 2; }

MiB=$((1024 * 1024))
AK=benchak
SK=benchsecretkey
BUCKET=bench
TENANT=acme
CONCURRENCY=4

# ---------------------------------------------------------------- tools
if ! command -v rclone >/dev/null; then
  echo "installing rclone (apt-get)" >&2
  apt-get install -y -qq rclone >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq rclone >/dev/null; } \
    || { echo "cannot install rclone: apt-get install rclone" >&2; exit 1; }
fi
ensure_s3s_fs
cargo build --release -q -p patchbay
clk=$(getconf CLK_TCK)

# ---------------------------------------------------------------- work dir
need_kib=$(( total_mib * 1024 * 4 + 1024 * 1024 ))
if [ -n "${BENCH_DIR:-}" ]; then
  mkdir -p "$BENCH_DIR"
  work=$(mktemp -d "$BENCH_DIR/export.XXXXXX")
else
  tmp="${TMPDIR:-/tmp}"
  if [ "$(df -Pk "$tmp" | awk 'NR==2 {print $4}')" -lt "$need_kib" ]; then tmp="$PWD/target"; fi
  work=$(mktemp -d "$tmp/patchbay-export-bench.XXXXXX")
fi
avail_kib=$(df -Pk "$work" | awk 'NR==2 {print $4}')
if [ "$avail_kib" -lt "$need_kib" ]; then
  echo "$work has $((avail_kib / 1024)) MiB free; the run needs about $((need_kib / 1024)) MiB (set BENCH_DIR)" >&2
  rm -rf "$work"
  exit 1
fi

pb_pid=
sampler_pid=
perf_pid=
cleanup() {
  local pid
  for pid in "$perf_pid" "$sampler_pid" "$pb_pid"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  stop_peers
  if [ "${KEEP:-0}" = 1 ] || [ "${PROFILE:-0}" = 1 ]; then
    rm -rf "$work/data" "$work/s3" "$work/patchbay/recordings"
    echo "work dir kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
rate() { awk -v bytes="$1" -v s="$2" -v m="$MiB" 'BEGIN { if (s > 0) printf "%.1f", bytes / m / s; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_s() { awk -v t="$1" -v c="$clk" 'BEGIN { printf "%.1f", t / c }'; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# An RFC 3339 time as nanoseconds since the epoch.
ts_ns() { date -d "$1" +%s%N; }

api() { # METHOD PATH [JSON]: the answer's body; fails loudly on an HTTP error
  local method=$1 path=$2 out
  local args=(-sS --fail-with-body -X "$method" -H "Authorization: Bearer $TOKEN" "$BASE/api/v1$path")
  if [ $# -ge 3 ]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
  if ! out=$(curl "${args[@]}"); then
    echo "$method $path failed: $out" >&2
    return 1
  fi
  printf '%s' "$out"
}

# The set: "name bytes" lines for SIZE, scaled from the 2 GiB mix. A file `Sales_ID.wav` is
# recording ID of service Sales, which the job's template `$(service)` exports as
# `PREFIX/Sales_ID.wav` (the key template always appends `_{recording id}.{extension}`).
plan() {
  awk -v total="$total_mib" -v M="$MiB" 'BEGIN {
    scale = total / 2048
    n = 0
    split("500 300 300 100 100 100 100", big, " ")
    for (i = 1; i <= 7; i++) size[++n] = big[i] * M
    split("5 6 8 8 10 12 15 16 20", mid, " ")
    for (c = 0; c < 5; c++) for (i = 1; i <= 9; i++) size[++n] = mid[i] * M + (i == 4 ? 1 : 0)
    split("0.25 0.75 1 1.5 2.5", small, " ")
    for (c = 0; c < 8; c++) for (i = 1; i <= 5; i++) size[++n] = int(small[i] * M)
    for (i = 1; i <= n; i++) {
      bytes = int(size[i] * scale)
      if (bytes < 1) bytes = 1
      printf "Sales_r%03d-%d %d\n", i, size[i], bytes
    }
    # The multipart boundary, whatever the scale: one PUT of exactly 8 MiB, and 8 MiB + 1.
    if (scale != 1) { printf "Sales_r%03d-edge %d\n", n + 1, 8 * M; printf "Sales_r%03d-edge %d\n", n + 2, 8 * M + 1 }
  }'
}

# ---------------------------------------------------------------- data set
data="$work/data"
mkdir -p "$data"
echo "generating ~${total_mib} MiB of random files in $data" >&2
files=0
bytes=0
while read -r name size; do
  head -c "$size" /dev/urandom >"$data/$name.wav"
  files=$((files + 1))
  bytes=$((bytes + size))
done < <(plan)
largest=$(ls -S "$data" | head -n 1)

# ---------------------------------------------------------------- S3 server
mkdir -p "$work/s3/$BUCKET"
start_s3s_fs "$work/s3" "$AK" "$SK" "$work/s3s-fs.log"
s3_pid=$S3S_FS_PID
# rclone's remote `s3`, by environment; AWS_CA_BUNDLE (set on some machines) makes rclone
# refuse to start with plain HTTP.
export RCLONE_CONFIG_S3_TYPE=s3 RCLONE_CONFIG_S3_PROVIDER=Other RCLONE_CONFIG_S3_ENV_AUTH=false \
  RCLONE_CONFIG_S3_ENDPOINT="$S3S_FS_URL" RCLONE_CONFIG_S3_ACCESS_KEY_ID="$AK" \
  RCLONE_CONFIG_S3_SECRET_ACCESS_KEY="$SK" RCLONE_CONFIG="$work/rclone.conf"
unset AWS_CA_BUNDLE
: >"$work/rclone.conf"
rclone_flags=(--s3-upload-cutoff 8M --s3-chunk-size 8M --transfers "$CONCURRENCY" --checkers "$CONCURRENCY")
if [ -n "${RCLONE_UPLOAD_CONCURRENCY:-}" ]; then rclone_flags+=(--s3-upload-concurrency "$RCLONE_UPLOAD_CONCURRENCY"); fi

# ---------------------------------------------------------------- patchbay
port=$(free_port)
BASE="http://127.0.0.1:$port"
target/release/patchbay serve --data-dir "$work/patchbay" --listen "127.0.0.1:$port" --egress-allow loopback \
  >"$work/patchbay.log" 2>&1 &
pb_pid=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "$BASE/healthz" >/dev/null || { echo "patchbay did not start; its log:" >&2; cat "$work/patchbay.log" >&2; exit 1; }
TOKEN=$(cat "$work/patchbay/admin-token")
start_rss=$(status_kib "$pb_pid" VmRSS)

api POST /tenants "{\"id\":\"$TENANT\",\"enabled_types\":[\"aws\"]}" >/dev/null
account=$(api POST "/tenants/$TENANT/integration-accounts" "$(jq -nc --arg url "$S3S_FS_URL" --arg ak "$AK" \
  --arg sk "$SK" --arg b "$BUCKET" '{type: "aws", name: "bench", properties: {use_private_s3_storage: true,
  url: $url, access_key_id: $ak, secret_key: $sk, s3_bucket: $b}}')" | jq -r .id)

echo "ingesting $files files through the API" >&2
t0=$(now_ns)
for path in "$data"/*.wav; do
  id=$(basename "$path" .wav)
  id=${id#Sales_}
  api PUT "/tenants/$TENANT/recordings/$id" "{\"global_interaction_id\":\"$id\",\"call_started_at\":\"2024-05-01T09:30:00Z\",\"agent_login\":\"jo\",\"direction\":\"inbound\",\"service\":\"Sales\"}" >/dev/null
  out=$(curl -sS --fail-with-body -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: audio/wav' -H 'Expect:' \
    -T "$path" "$BASE/api/v1/tenants/$TENANT/recordings/$id/audio") || { echo "audio of $id: $out" >&2; exit 1; }
done
ingest_s=$(secs "$t0" "$(now_ns)")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- rounds
sample_rss() { # PID OUT: the largest VmRSS (KiB) seen every 50 ms, kept in OUT
  local max=0 key value _
  while [ -r "/proc/$1/status" ]; do
    while read -r key value _; do
      if [ "$key" = VmRSS: ]; then
        if [ "$value" -gt "$max" ]; then max=$value; echo "$max" >"$2"; fi
        break
      fi
    done <"/proc/$1/status"
    sleep 0.05
  done
}

rows=()
ok=1
for round in $(seq "$rounds"); do
  # --- patchbay
  job=$(api POST "/tenants/$TENANT/recording-export-jobs" "{\"name\":\"bench $round\",\"account_id\":\"$account\",
    \"services\":[\"Sales\"],\"key_prefix\":\"patchbay/$round/\",\"filename_template\":\"\$(service)\",
    \"interval_seconds\":604800,\"concurrency\":$CONCURRENCY}" | jq -r .id)
  sync
  sleep 2
  idle=$(status_kib "$pb_pid" VmRSS)
  first_idle=${first_idle:-$idle}
  echo 5 >"/proc/$pb_pid/clear_refs"
  echo "$idle" >"$work/sampled"
  sample_rss "$pb_pid" "$work/sampled" &
  sampler_pid=$!
  if [ "${PROFILE:-0}" = 1 ] && [ "$round" = 1 ]; then
    perf record -q -F 499 -g -p "$pb_pid" -o "$work/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  pb_cpu0=$(cpu_ticks "$pb_pid")
  s3_cpu0=$(cpu_ticks "$s3_pid")
  echo "round $round: patchbay export" >&2
  t0=$(now_ns)
  run=$(api POST "/tenants/$TENANT/recording-export-jobs/$job/run" | jq -r .id)
  while :; do
    view=$(api GET "/tenants/$TENANT/recording-export-jobs/$job/runs/$run")
    [ "$(jq -r .state <<<"$view")" != running ] && break
    sleep 0.1
  done
  t1=$(now_ns)
  pb_cpu=$(( $(cpu_ticks "$pb_pid") - pb_cpu0 ))
  s3_cpu_pb=$(( $(cpu_ticks "$s3_pid") - s3_cpu0 ))
  hwm=$(status_kib "$pb_pid" VmHWM)
  kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; perf_pid=
    perf report -i "$work/perf.data" --no-children --sort dso,symbol -g none --percent-limit 0.5 --stdio \
      2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 40 >"$work/perf-report.txt" || true
    perf report -i "$work/perf.data" --no-children --sort comm -g none --stdio 2>/dev/null | grep -v '^#' \
      | grep -v '^$' | head -n 20 >"$work/perf-threads.txt" || true
  fi
  sampled=$(cat "$work/sampled")
  peak=$(( hwm > sampled ? hwm : sampled ))
  pb_s=$(secs "$t0" "$t1")
  state=$(jq -r .state <<<"$view")
  exported=$(jq -r .exported <<<"$view")
  failed=$(jq -r .failed <<<"$view")
  run_bytes=$(jq -r .bytes <<<"$view")
  run_s=$(secs "$(ts_ns "$(jq -r .started_at <<<"$view")")" "$(ts_ns "$(jq -r .finished_at <<<"$view")")")
  if [ "$state" != succeeded ] || [ "$exported" != "$files" ] || [ "$run_bytes" != "$bytes" ]; then
    echo "round $round: the run ended $state with $exported of $files files, $failed failed, $run_bytes of $bytes bytes: $(jq -r .error <<<"$view")" >&2
    ok=0
  fi

  # --- rclone
  sync
  sleep 2
  s3_cpu0=$(cpu_ticks "$s3_pid")
  echo "round $round: rclone copy" >&2
  t0=$(now_ns)
  /usr/bin/time -f '%U %S %M' -o "$work/rclone.time" \
    rclone copy "$data" "s3:$BUCKET/rclone/$round/" "${rclone_flags[@]}" 2>"$work/rclone.log" \
    || { echo "rclone copy failed:" >&2; tail -n 20 "$work/rclone.log" >&2; exit 1; }
  t1=$(now_ns)
  s3_cpu_rc=$(( $(cpu_ticks "$s3_pid") - s3_cpu0 ))
  rc_s=$(secs "$t0" "$t1")
  read -r rc_user rc_sys rc_maxrss <"$work/rclone.time"
  rc_cpu=$(awk -v u="$rc_user" -v s="$rc_sys" 'BEGIN { printf "%.1f", u + s }')

  # --- correctness: every object patchbay wrote is the local file, read back through S3
  if [ "$round" = 1 ]; then
    echo "round 1: reading back patchbay's objects (rclone check --download)" >&2
    if rclone check "$data" "s3:$BUCKET/patchbay/1/" --one-way --download --checkers "$CONCURRENCY" \
      >"$work/check.log" 2>&1; then
      check="all $files objects identical to the local files"
    else
      check="MISMATCH: $(grep -E 'ERROR|differences' "$work/check.log" | head -n 5 | tr '\n' ' ')"
      ok=0
    fi
    big_local=$(sha256sum <"$data/$largest" | cut -d' ' -f1)
    big_s3=$(rclone cat "s3:$BUCKET/patchbay/1/$largest" | sha256sum | cut -d' ' -f1)
    meta_sha=$(api GET "/tenants/$TENANT/recordings/$(basename "$largest" .wav | sed 's/^Sales_//')" | jq -r '.audio.sha256 // empty')
  fi
  rm -rf "${work:?}/s3/$BUCKET/patchbay" "${work:?}/s3/$BUCKET/rclone"

  pb_rate=$(rate "$bytes" "$pb_s")
  rc_rate=$(rate "$bytes" "$rc_s")
  ratio=$(awk -v p="$pb_s" -v r="$rc_s" 'BEGIN { printf "%.2f", r / p }')
  rows+=("$round|$pb_s|$pb_rate|$run_s|$rc_s|$rc_rate|$ratio|$(mib "$idle")|$(mib "$peak")|$(mib "$((peak - idle))")|$(mib "$((peak - first_idle))")|$(mib "$hwm")|$(mib "$sampled")|$(ticks_s "$pb_cpu")|$(ticks_s "$s3_cpu_pb")|$rc_cpu|$(ticks_s "$s3_cpu_rc")|$(mib "$rc_maxrss")")
done

# ---------------------------------------------------------------- report
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "recording export: $files files, $bytes bytes ($(rate "$bytes" 1) MiB, largest $(( $(stat -c %s "$data/$largest") / MiB )) MiB)"
echo "to s3s-fs on loopback, 8 MiB parts, $CONCURRENCY files at once; rclone $(rclone version | head -n 1 | awk '{print $2}') ${rclone_flags[*]}"
echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, load average $load_before before the rounds, $load_after after"
echo "ingest through the API took ${ingest_s}s (not timed as export)"
echo
printf '%-5s | %-24s | %-9s | %-18s | %-6s\n' "" "patchbay export" "run" "rclone copy" "ratio"
printf '%-5s | %9s %14s | %9s | %7s %10s | %6s\n' round seconds "MiB/s" "seconds" seconds "MiB/s" "pb/rc"
for row in "${rows[@]}"; do
  IFS='|' read -r r pb_s pb_rate run_s rc_s rc_rate ratio _ <<<"$row"
  printf '%-5s | %9s %14s | %9s | %7s %10s | %6s\n' "$r" "$pb_s" "$pb_rate" "$run_s" "$rc_s" "$rc_rate" "${ratio}x"
done
echo
echo "patchbay RSS (MiB): at start $(mib "$start_rss"); idle is just before the round's export (round 1: after the ingest);"
echo "peak is max(VmHWM reset before the run, VmRSS sampled every 50 ms); delta is peak - idle, and peak - round 1's idle"
printf '%-5s | %8s %8s %8s %10s | %8s %8s\n' round idle peak delta "delta(r1)" VmHWM sampled
for row in "${rows[@]}"; do
  IFS='|' read -r r _ _ _ _ _ _ idle peak delta delta1 hwm sampled _ <<<"$row"
  printf '%-5s | %8s %8s %8s %10s | %8s %8s\n' "$r" "$idle" "$peak" "$delta" "$delta1" "$hwm" "$sampled"
done
echo
echo "CPU seconds (user + system) during each transfer; rclone's own peak RSS in MiB"
printf '%-5s | %9s %12s | %9s %12s %10s\n' round patchbay "s3s-fs" rclone "s3s-fs" "rclone RSS"
for row in "${rows[@]}"; do
  IFS='|' read -r r _ _ _ _ _ _ _ _ _ _ _ _ pb_cpu s3_pb rc_cpu s3_rc rc_rss <<<"$row"
  printf '%-5s | %9s %12s | %9s %12s %10s\n' "$r" "$pb_cpu" "$s3_pb" "$rc_cpu" "$s3_rc" "$rc_rss"
done
echo
echo "read back: $check"
echo "largest object ($largest): local sha256 $big_local, S3 $big_s3, patchbay's record ${meta_sha:-?}"
[ "$big_local" = "$big_s3" ] || ok=0
if [ "${PROFILE:-0}" = 1 ]; then echo "perf report of round 1's export: $work/perf-report.txt, $work/perf-threads.txt"; fi
echo
ratio=
delta=
for row in "${rows[@]}"; do
  IFS='|' read -r _ _ _ _ _ _ r _ _ _ d1 _ <<<"$row"
  ratio=$(awk -v a="${ratio:-$r}" -v b="$r" 'BEGIN { print (b < a ? b : a) }')
  delta=$(awk -v a="${delta:-$d1}" -v b="$d1" 'BEGIN { print (b > a ? b : a) }')
done
echo "targets (worst round): throughput >= 1.0x rclone: ${ratio}x $(awk -v r="$ratio" 'BEGIN { print (r >= 1.0 ? "met" : "NOT met") }');" \
  "peak RSS <= 64 MiB above idle (round 1's): +${delta} MiB $(awk -v d="$delta" 'BEGIN { print (d <= 64 ? "met" : "NOT met") }')"
[ "$ok" = 1 ] || { echo "the export was not correct: see above" >&2; exit 1; }
