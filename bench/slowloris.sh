#!/usr/bin/env bash
# Slowloris measurement in one command: bench/slowloris.sh [STALLED]
# Starts the release build with its default limits (1,024 connections,
# 10 s to send the headers) and runs bench/slowloris.py against it.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 8192
work=$(mktemp -d)
cargo build --release --quiet --bin syncwatch
python3 bench/make_rules.py "$work" 100
target/release/syncwatch serve --config "$work/rules-100-signed.yaml" 2>"$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:9650/healthz && break; sleep 0.1; done
python3 bench/slowloris.py "${1:-1000}"
echo "RSS during the attack: $(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status) MB (peak)"
