#!/usr/bin/env bash
# Two syncwatch binaries side by side, in one run: bench/compare.sh OLD NEW
# (e.g. a build of the previous release and target/release/syncwatch).
# Each serves the signed, durable, 100-rule configuration of bench/ingest.sh
# on a fresh database; the load generator measures throughput with 32
# connections, then latency at a fixed 1,000 events/s. The binaries take
# turns (OLD, NEW, OLD, NEW) so that drift in the machine hits both.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "$1"); new=$(realpath "$2")
secs=${SECONDS_PER_RUN:-10}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
cargo build --release --quiet --example loadgen
python3 bench/make_rules.py "$work" 100
url=http://127.0.0.1:9650/webhooks/railz
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
echo "| binary | round | req/s (32 conns) | p50 ms | p99 ms | p99 ms at 1,000/s |"
echo "|---|---:|---:|---:|---:|---:|"
for round in 1 2; do
  for bin in "$old" "$new"; do
    rm -f "$work"/*.db*; sync
    "$bin" serve --config "$work/rules-100-signed.yaml" 2>"$work/log" & pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:9650/healthz && break; sleep 0.1; done
    load=$(target/release/examples/loadgen --url "$url" --connections 32 --seconds "$secs" --secret bench-secret)
    fixed=$(target/release/examples/loadgen --url "$url" --rate 1000 --seconds "$secs" --secret bench-secret)
    kill $pid; wait $pid 2>/dev/null || true; pid=
    echo "| $bin | $round | $(field "$load" rps) | $(field "$load" p50_ms) | $(field "$load" p99_ms) | $(field "$fixed" p99_ms) |"
  done
done
