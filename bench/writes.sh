#!/usr/bin/env bash
# What durable ingest writes per event, in one command: bench/writes.sh [N]
# Posts N signed webhooks (CONNECTIONS at once, default 32; the fixture with a fresh
# requestId each) to the release build on a fresh database with 100 rules,
# then reports the bytes the daemon wrote to disk per event (from
# /proc/PID/io: WAL appends and checkpoints), the transactions it took
# (group commits), and the database's size per event.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50000}
conns=${CONNECTIONS:-32}
. bench/lib.sh
cargo build --release --quiet --bin syncwatch --example loadgen
python3 bench/make_rules.py "$work" 100
start_daemon "$work/rules-100-signed.yaml"
before=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
load=$(target/release/examples/loadgen --connections "$conns" --seconds 600 --requests "$n" --secret bench-secret)
after=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
commits=$(curl -s localhost:9650/metrics | awk '/^syncwatch_store_commits_total/ {print $2}')
writes=$(curl -s localhost:9650/metrics | awk '/^syncwatch_store_writes_total/ {print $2}')
sync
db=$(stat -c %s "$work/rules-100-signed.db")
python3 - "$load" "$before" "$after" "$db" "$n" "$commits" "$writes" <<'PY'
import json, sys
load, before, after, db, n = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
commits, writes = int(sys.argv[6]), int(sys.argv[7])
print(f"{n} events at {load['rps']:.0f} req/s (p99 {load['p99_ms']} ms)")
print(f"written to disk: {(after - before) / n:.0f} bytes per event ({(after - before) / 2**20:.0f} MiB)")
print(f"database file: {db / n:.0f} bytes per event")
print(f"group commit: {writes} writes in {commits} transactions, {writes / max(commits, 1):.1f} per transaction")
PY
