#!/usr/bin/env bash
# The ingest benchmark, in one command: bench/ingest.sh
#
# In one run on this machine, posts the Railz full-payload fixture (a unique
# requestId per request) to:
#   - syncwatch with durable storage, signature verification on and off,
#     with 1, 100 and 1,000 rules;
#   - syncwatch with the in-memory store (what durability costs);
#   - SQLite and PostgreSQL (storage.postgres, a throwaway local server
#     started by bench/postgres.sh) in pairs run back to back, with the
#     benchmark's one connection id and with a new connection id per event
#     (many customers, as Railz sends them);
#   - a bare warp server that only reads and parses the JSON (examples/bare_warp.rs);
#   - adnanh/webhook (Debian package `webhook`) with a two-clause trigger rule;
# then measures latency at a fixed 1,000 events/s, notification latency at
# 100 events/s, and syncwatch's memory. Prints Markdown tables.
#
# Knobs: SECONDS_PER_RUN (default 10), CONNECTIONS (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-32}
work=$(mktemp -d)
pids=()
source bench/postgres.sh
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; stop_postgres; rm -rf "$work"; }
trap cleanup EXIT

command -v webhook >/dev/null || { apt-get update -qq && apt-get install -y -qq webhook >/dev/null; }
cargo build --release --quiet --bin syncwatch --example bare_warp --example loadgen
bin=target/release/syncwatch
loadgen=target/release/examples/loadgen

# rules-N.yaml: one rule that fires on the fixture, N-1 that do not (each
# kind of condition); record only, so the runs measure ingest, not Slack.
python3 bench/make_rules.py "$work" 1 100 1000

wait_for() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

start_syncwatch() { # config, extra args...
  local config=$1; shift
  # A fresh database each run, with the previous runs' writes flushed, so
  # one run's disk work does not slow the next.
  rm -f "$work"/*.db "$work"/*.db-wal "$work"/*.db-shm; sync
  "$bin" serve --config "$config" "$@" 2>"$work/syncwatch.log" &
  pids+=($!); wait_for http://127.0.0.1:9650/healthz
}
stop_last() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

declare -A rps p50 p99
run() { # name, url, loadgen args...
  local name=$1 url=$2; shift 2
  # Every run signs its requests, so the load generator does the same work
  # whatever the server; servers without a signing secret ignore the header.
  local out; out=$("$loadgen" --url "$url" --connections "$conns" --seconds "$secs" --secret bench-secret "$@")
  rps[$name]=$(field "$out" rps); p50[$name]=$(field "$out" p50_ms); p99[$name]=$(field "$out" p99_ms)
  echo "$name: $out" >&2
}

target/release/examples/bare_warp 127.0.0.1:9700 & pids+=($!)
wait_for http://127.0.0.1:9700/
run "bare warp (read + parse JSON)" http://127.0.0.1:9700/
stop_last

cat > "$work/hooks.json" <<'HOOKS'
[{ "id": "railz", "execute-command": "/bin/true", "response-message": "accepted",
   "trigger-rule": { "and": [
     { "match": { "type": "value", "value": "data", "parameter": { "source": "payload", "name": "data.event" } } },
     { "match": { "type": "value", "value": "quickbooks", "parameter": { "source": "payload", "name": "data.serviceName" } } } ] } }]
HOOKS
webhook -hooks "$work/hooks.json" -ip 127.0.0.1 -port 9701 >"$work/webhook.log" 2>&1 & pids+=($!)
wait_for http://127.0.0.1:9701/
run "adnanh/webhook (2-clause rule)" http://127.0.0.1:9701/hooks/railz
stop_last

url=http://127.0.0.1:9650/webhooks/railz
for n in 1 100 1000; do
  start_syncwatch "$work/rules-$n.yaml"
  [ "$n" = 100 ] && idle_rss=$(rss_kb "${pids[-1]}")
  run "syncwatch, durable, no signature, $n rules" "$url"
  [ "$n" = 100 ] && loaded_rss=$(rss_kb "${pids[-1]}")
  stop_last
  start_syncwatch "$work/rules-$n-signed.yaml"
  run "syncwatch, durable, signature, $n rules" "$url"
  stop_last
done
start_syncwatch "$work/rules-100-signed.yaml" --in-memory
run "syncwatch, in-memory, signature, 100 rules" "$url"
stop_last

# PostgreSQL against SQLite: each PostgreSQL run right after its SQLite
# twin, so that both see the same moment of a shared machine.
start_postgres
sed "s|^  path: .*|  postgres: $pg_url|" "$work/rules-100-signed.yaml" > "$work/rules-100-signed-pg.yaml"
for load in "one connection id" "a connection per event"; do
  args=(); [ "$load" = "a connection per event" ] && args=(--distinct-connections 1)
  start_syncwatch "$work/rules-100-signed.yaml"
  run "SQLite, $load" "$url" "${args[@]}"
  stop_last
  fresh_database
  start_syncwatch "$work/rules-100-signed-pg.yaml"
  run "PostgreSQL, $load" "$url" "${args[@]}"
  stop_last
done
fresh_database
start_syncwatch "$work/rules-100-signed-pg.yaml"
fixed_pg=$("$loadgen" --url "$url" --rate 1000 --seconds "$secs" --secret bench-secret)
echo "fixed rate, PostgreSQL: $fixed_pg" >&2
stop_last
stop_postgres

start_syncwatch "$work/rules-100-signed.yaml"
fixed=$("$loadgen" --url "$url" --rate 1000 --seconds "$secs" --secret bench-secret)
echo "fixed rate: $fixed" >&2
stop_last

start_syncwatch "$work/rules-notify.yaml"
notify=$("$loadgen" --url "$url" --rate 100 --seconds "$secs" --sink 127.0.0.1:9799)
echo "notify: $notify" >&2
stop_last

bare=${rps["bare warp (read + parse JSON)"]}
peer=${rps["adnanh/webhook (2-clause rule)"]}
echo "## Ingest throughput ($(nproc) cores, $conns connections, ${secs}s per run, $(date -u +%Y-%m-%d))"
echo
echo "| server | req/s | p50 ms | p99 ms | vs bare warp | vs webhook |"
echo "|---|---:|---:|---:|---:|---:|"
for name in "bare warp (read + parse JSON)" "adnanh/webhook (2-clause rule)" \
  "syncwatch, durable, no signature, 1 rules" "syncwatch, durable, signature, 1 rules" \
  "syncwatch, durable, no signature, 100 rules" "syncwatch, durable, signature, 100 rules" \
  "syncwatch, durable, no signature, 1000 rules" "syncwatch, durable, signature, 1000 rules" \
  "syncwatch, in-memory, signature, 100 rules"; do
  awk -v n="$name" -v r="${rps[$name]}" -v a="${p50[$name]}" -v b="${p99[$name]}" -v bare="$bare" -v peer="$peer" \
    'BEGIN { printf "| %s | %d | %.2f | %.2f | %.0f%% | %.0f%% |\n", n, r, a, b, 100*r/bare, 100*r/peer }'
done
echo
echo "## PostgreSQL against SQLite (signature, 100 rules; each pair run back to back)"
echo
echo "| load | SQLite req/s | PostgreSQL req/s | PostgreSQL p50 / p99 ms | share |"
echo "|---|---:|---:|---:|---:|"
for load in "one connection id" "a connection per event"; do
  awk -v n="$load" -v s="${rps["SQLite, $load"]}" -v p="${rps["PostgreSQL, $load"]}" \
    -v a="${p50["PostgreSQL, $load"]}" -v b="${p99["PostgreSQL, $load"]}" \
    'BEGIN { printf "| %s | %d | %d | %.2f / %.2f | %.0f%% |\n", n, s, p, a, b, 100*p/s }'
done
echo
echo "## Latency at a fixed 1,000 events/s (durable, signature, 100 rules)"
echo
echo "| store | requests | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|"
echo "| SQLite | $(field "$fixed" requests) | $(field "$fixed" p50_ms) | $(field "$fixed" p99_ms) | $(field "$fixed" errors) |"
echo "| PostgreSQL | $(field "$fixed_pg" requests) | $(field "$fixed_pg" p50_ms) | $(field "$fixed_pg" p99_ms) | $(field "$fixed_pg" errors) |"
echo
echo "## Notification latency at 100 events/s (webhook sent → message at a local Slack stand-in)"
echo
echo "| notified | p50 ms | p99 ms |"
echo "|---:|---:|---:|"
echo "| $(field "$notify" notified) | $(field "$notify" notify_p50_ms) | $(field "$notify" notify_p99_ms) |"
echo
echo "## Memory (syncwatch, durable, 100 rules)"
echo
echo "| idle RSS | RSS after the load |"
echo "|---:|---:|"
echo "| $((idle_rss / 1024)) MB | $((loaded_rss / 1024)) MB |"
