# Shared by the bench scripts: one wrk run at 64 connections, printed on one line.
# Needs `secs` (seconds per run).
run() { # label, extra wrk args...
  local label=$1; shift
  local out; out=$(wrk -t2 -c64 -d"${secs}s" --latency "$@")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errors; errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   %s\n' "$label" "$rps" "$p50" "$p99" "$errors"
}
