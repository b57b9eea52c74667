# Sourced by the bench scripts: a work directory removed on exit, and the
# release daemon started on a config and waited for (its PID in $pid, its
# log in $work/log). A daemon that does not start says why and stops the
# script, rather than measuring whatever else holds the port.
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

start_daemon() { # config
  target/release/syncwatch serve --config "$1" 2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { echo "syncwatch did not start: $(tail -3 "$work/log")" >&2; exit 1; }
    curl -s -o /dev/null http://127.0.0.1:9650/healthz && return 0
    sleep 0.1
  done
  echo "syncwatch did not answer /healthz" >&2
  exit 1
}
