# Sourced by bench/ingest.sh: a throwaway PostgreSQL server from Debian's
# binaries (apt-get install postgresql), as the postgres user, in
# $work/pg on port 9760, with the server's default durability
# (fsync and synchronous_commit on). `fresh_database` empties it between
# runs; `stop_postgres` runs on exit.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
pg_port=9760
pg_url="postgres://postgres@127.0.0.1:$pg_port/bench"

start_postgres() {
  [ -x "$pg_bin/postgres" ] || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }
  # The server runs as postgres, which must reach its directory.
  chmod o+x "$work"; mkdir -p "$work/pg" && chown postgres:postgres "$work/pg"
  runuser -u postgres -- "$pg_bin/initdb" -A trust -U postgres -D "$work/pg/data" >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w start \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=100" >/dev/null
}

fresh_database() {
  runuser -u postgres -- "$pg_bin/psql" -qAt -h 127.0.0.1 -p "$pg_port" -U postgres \
    -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" >/dev/null
}

stop_postgres() {
  [ -d "$work/pg/data" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true
}
