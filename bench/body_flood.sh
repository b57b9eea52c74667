#!/usr/bin/env bash
# Memory under a flood of unauthenticated bodies, in one command:
# bench/body_flood.sh [CONNECTIONS]   (default 1000)
# Starts the release build with a signing secret and runs
# bench/body_flood.py against it twice: without signatures, then with
# forged ones. Peak RSS is the kernel's VmHWM.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 8192
work=$(mktemp -d)
cargo build --release --quiet --bin syncwatch
python3 bench/make_rules.py "$work" 100
for mode in unsigned forged; do
  target/release/syncwatch serve --config "$work/rules-100-signed.yaml" 2>"$work/log" &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:9650/healthz && break; sleep 0.1; done
  python3 bench/body_flood.py "$pid" "${1:-1000}" "$mode"
  echo "$mode: peak RSS $(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status) MB (VmHWM)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$work"/*.db*
done
rm -rf "$work"
