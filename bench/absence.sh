#!/usr/bin/env bash
# Absence rules at scale, in one command: bench/absence.sh [CONNECTIONS]
# (default 100000). Starts the release build with two absence rules
# (no_sync_for 2m on production, and 90s on one service), posts one signed
# sync for each of CONNECTIONS distinct connections, then reports:
#   - RSS after the load, and when every absence alert has been checked;
#   - the CPU the daemon used while idle with that many planned deadlines;
#   - the CPU of the checks themselves, per check pass, from the log;
#   - how late after its deadline the first alert was recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
. bench/lib.sh
cargo build --release --quiet --bin syncwatch --example loadgen
cat > "$work/rules.yaml" <<RULES
server: { listen: 127.0.0.1:9650 }
storage: { path: $work/db }
security: { signing_secret: bench-secret }
rules:
  - name: stopped-syncing
    notify: []
    when: { environment: production, no_sync_for: 2m }
  - name: quickbooks-stopped-syncing
    notify: []
    when: { service: quickbooks, no_sync_for: 90s }
RULES
start_daemon "$work/rules.yaml"
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }   # utime + stime, in clock ticks
tick=$(getconf CLK_TCK)
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
start=$(date +%s.%N)
load=$(target/release/examples/loadgen --connections 32 --seconds 600 --requests "$n" --distinct-connections 1 --secret bench-secret)
posted=$(date +%s.%N)
echo "posted: $load"
echo "RSS after posting $n connections: $(rss) MB"
c0=$(cpu); sleep 30; c1=$(cpu)
echo "idle CPU over 30 s with $(curl -s localhost:9650/metrics | awk '/^syncwatch_absence_checks_planned/ {print $2}') checks planned: $(( (c1 - c0) * 1000 / tick )) ms"
# The 90 s rule falls due first, then the 2 m one: measure from just
# before the first deadline until every alert is recorded.
until_t() { while python3 -c "import sys,time; sys.exit(0 if time.time() < $1 else 1)"; do sleep 0.5; done; }
until_t "$(python3 -c "print($start + 85)")"
c2=$(cpu)
for _ in $(seq 120); do
  fired=$(grep -c 'new → firing' "$work/log" || true)
  [ "$fired" -ge $((2 * n)) ] && break; sleep 1
done
c3=$(cpu)
echo "absence alerts recorded: $fired of $((2 * n))"
echo "CPU from 5 s before the first deadline until all were recorded: $(( (c3 - c2) * 1000 / tick )) ms for $((2 * n)) checks that fired"
c4=$(cpu); sleep 30; c5=$(cpu)
echo "idle CPU over the next 30 s, every alert firing: $(( (c5 - c4) * 1000 / tick )) ms"
echo "RSS after the checks: $(rss) MB"
python3 - "$work/log" "$start" "$posted" <<'PY'
import re, sys, datetime
log, start, posted = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
times = []
for line in open(log):
    if "new → firing" in line and "quickbooks-stopped-syncing" in line:
        m = re.match(r"(\S+)", line)
        times.append(datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp())
if times:
    print(f"90 s rule: first alert {min(times) - start - 90:.2f} s after the first connection's deadline, "
          f"last {max(times) - posted - 90:.2f} s after the last one's")
PY
