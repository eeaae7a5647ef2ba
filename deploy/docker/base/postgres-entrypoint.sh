#!/bin/sh
# Initialises the cluster on first start (password auth over TCP, the database named by POSTGRES_DB), then runs
# postgres in the foreground. No default password: an unset POSTGRES_PASSWORD stops the container with a message.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (docker-compose reads it from .env)}"
PORT="${POSTGRES_PORT:-5432}"
LISTEN="${POSTGRES_LISTEN_ADDRESSES:-127.0.0.1}"
DB="${POSTGRES_DB:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  pwfile="$(mktemp)"
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  # initdb only allows loopback; compose uses the host network, so clients always come from loopback anyway.
  # Other listen addresses need a matching pg_hba line: allow password auth from anywhere the server listens.
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$DB" != "postgres" ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w start >/dev/null
    createdb -h /var/run/postgresql -U postgres "$DB"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "postgres-entrypoint: initialised $PGDATA with database $DB"
fi
exec postgres -D "$PGDATA" -p "$PORT" -c listen_addresses="$LISTEN" -k /var/run/postgresql
