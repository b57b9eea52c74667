#!/usr/bin/env bash
# A storm, in one command: bench/storm.sh [CONNECTIONS] [SPREAD_SECONDS]
# (default 1000 connections failing within 30 s). Starts the release build
# with one Slack channel on the default digest (after 5, window 1m,
# max_items 20) and runs bench/storm.py against it.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
cargo build --release --quiet --bin syncwatch
cat > "$work/rules.yaml" <<RULES
server: { listen: 127.0.0.1:9650 }
storage: { path: $work/db }
security: { signing_secret: bench-secret }
channels:
  ops:
    slack: { webhook_url: "http://127.0.0.1:9798/hook" }
defaults: { notify: [ops] }
rules:
  - name: production-sync-failed
    severity: critical
    when: { environment: production, failed: { above: 0 } }
RULES
start_daemon "$work/rules.yaml"
python3 bench/storm.py "${1:-1000}" "${2:-30}"
