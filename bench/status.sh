#!/usr/bin/env bash
# The status page with many connections, in one command:
# bench/status.sh [CONNECTIONS]   (default 10000)
# Starts the release build, posts one failing sync for each of CONNECTIONS
# distinct connections (every one fires, the worst case for the alert
# table), then times 20 requests each of /api/status (first page, and a
# filtered one) and /ui with curl, and reports the median and the slowest.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
. bench/lib.sh
cargo build --release --quiet --bin syncwatch --example loadgen
cat > "$work/rules.yaml" <<RULES
server: { listen: 127.0.0.1:9650 }
storage: { path: $work/db }
security: { signing_secret: bench-secret }
rules:
  - name: production-sync-failed
    notify: []
    severity: critical
    when: { environment: production, failed: { above: 0 } }
  - name: stopped-syncing
    notify: []
    when: { no_sync_for: 26h }
RULES
start_daemon "$work/rules.yaml"
target/release/examples/loadgen --connections 32 --seconds 600 --requests "$n" --distinct-connections 1 --secret bench-secret >/dev/null
time_of() { # path -> "median_ms max_ms bytes"
  for _ in $(seq 20); do curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:9650$1"; done |
    sort -n | awk '{ t[NR] = $1 * 1000; b = $2 } END { printf "%.1f ms median, %.1f ms slowest, %d bytes\n", t[int((NR + 1) / 2)], t[NR], b }'
}
echo "with $n known connections, every one firing:"
echo "  /api/status                 $(time_of /api/status)"
echo "  /api/status?q=CON-bench-99  $(time_of '/api/status?q=CON-bench-99')"
echo "  /api/status?page=100        $(time_of '/api/status?page=100')"
echo "  /ui                         $(time_of /ui)"
echo "  RSS: $(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status) MB"
