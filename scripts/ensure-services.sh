#!/usr/bin/env bash
# Makes sure the Redis and PostgreSQL the tests use answer, starting local ones
# where the binaries exist. A service that cannot be had is a failure, not a skip.
set -euo pipefail

REDIS_HOST=${TETHER_TEST_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${TETHER_TEST_REDIS_PORT:-6379}
PG_HOST=${TETHER_TEST_PG_HOST:-127.0.0.1}
PG_PORT=${TETHER_TEST_PG_PORT:-5432}

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {  # name host port
  for _ in $(seq 1 50); do
    answers "$2" "$3" && { echo "$1 answers on $2:$3"; return 0; }
    sleep 0.2
  done
  echo "error: $1 does not answer on $2:$3" >&2
  return 1
}

if ! answers "$REDIS_HOST" "$REDIS_PORT"; then
  command -v redis-server >/dev/null || {
    echo "error: Redis is not running on $REDIS_HOST:$REDIS_PORT and redis-server is not installed (apt-get install redis-server)" >&2
    exit 1
  }
  echo "starting redis-server on port $REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no
fi
wait_for Redis "$REDIS_HOST" "$REDIS_PORT"

if ! answers "$PG_HOST" "$PG_PORT"; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  else
    echo "error: PostgreSQL is not running on $PG_HOST:$PG_PORT and no local cluster can be started (apt-get install postgresql)" >&2
    exit 1
  fi
fi
wait_for PostgreSQL "$PG_HOST" "$PG_PORT"
