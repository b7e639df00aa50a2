#!/usr/bin/env bash
# Start an MLflow tracking server for sertext sweeps (see mlflow/README.md).
#
# usage: mlflow/server.sh [--backend URI] [--artifacts DIR] [--host HOST] [--port PORT]
#
# Defaults come from the environment, else from this folder:
#   SERTEXT_MLFLOW_BACKEND    backend store URI     (sqlite:///<this folder>/mlflow.db)
#   SERTEXT_MLFLOW_ARTIFACTS  artifact destination  (<this folder>/artifacts)
#   SERTEXT_MLFLOW_HOST       address to bind       (127.0.0.1: only this machine can reach it)
#   SERTEXT_MLFLOW_PORT       port                  (5000)
# Load settings (why each value: the comments below, measured by bench/tracking_load.py):
#   SERTEXT_MLFLOW_WORKERS    uvicorn worker processes                    (1)
#   SERTEXT_MLFLOW_POOLCLASS  SQLAlchemy pool: NullPool or QueuePool      (NullPool)
#   SERTEXT_MLFLOW_POOL_SIZE, SERTEXT_MLFLOW_MAX_OVERFLOW  QueuePool only (40, 40)
#   SERTEXT_MLFLOW_GRACE_S    seconds SIGTERM waits for open requests     (10)
#   SERTEXT_MLFLOW_KEEP_ALIVE_S  idle keep-alive connection timeout       (30)
# PostgreSQL: --backend postgresql://USER@HOST:PORT/DB, the password in ~/.pgpass (or the file
# PGPASSFILE names, or PGPASSWORD): never on a command line, where `ps` shows it to everyone.
# On a cluster head, bind the private address (--host 10.0.0.12) or 0.0.0.0 inside a private
# network; never expose the server to the internet, it has no authentication.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
backend="${SERTEXT_MLFLOW_BACKEND:-sqlite:///$here/mlflow.db}"
artifacts="${SERTEXT_MLFLOW_ARTIFACTS:-$here/artifacts}"
host="${SERTEXT_MLFLOW_HOST:-127.0.0.1}"
port="${SERTEXT_MLFLOW_PORT:-5000}"
# One worker.  Each costs ~250 MB, and every worker may hold up to 80 PostgreSQL connections at once
# (below), so with PostgreSQL's default max_connections = 100 a second one needs that raised
# (workers × 80 + a few for psql); one worker held 256 concurrent trials, 54-66 calls/s, on 2 cores.
workers="${SERTEXT_MLFLOW_WORKERS:-1}"
# NullPool: a fresh database connection for each session, none kept.  MLflow's default pool
# (QueuePool, 5 + 10 overflow, 30 s timeout) deadlocks under load: create_run and log_batch open a
# second session while holding a first, so 15 requests each holding one connection and waiting for
# another block until the 30 s timeout, and answer "400 QueuePool limit of size 5 overflow 10 reached"
# in waves.  bench/tracking_load.py, 64 trials: on SQLite 80 such answers and 92 s (p50) to open a
# trial's run; on PostgreSQL none of the 64 had opened its run after 240 s.  NullPool: 256 trials,
# nothing lost or failed, p95 17 s (SQLite) and 14 s (PostgreSQL) to open a run (mlflow/README.md).
# A request runs on one of uvicorn's 40 worker threads, so NullPool opens at most 2 × 40 = 80
# connections per worker.
poolclass="${SERTEXT_MLFLOW_POOLCLASS:-NullPool}"
# For a QueuePool instead: one connection per worker thread plus as many again for the nested session,
# so no request waits for a connection that another waiting request holds.
pool_size="${SERTEXT_MLFLOW_POOL_SIZE:-40}"
max_overflow="${SERTEXT_MLFLOW_MAX_OVERFLOW:-40}"
# SIGTERM: uvicorn stops accepting, then waits for open requests; without a limit, requests stuck
# waiting for the database kept the stalled server up (PostgreSQL, 64 trials: still up 15 s after
# SIGTERM, then SIGKILLed).  After 10 s it cancels them and exits; 256 trials' server stopped in
# 1-2 s.  ("off": no limit, as MLflow's default.)
grace_s="${SERTEXT_MLFLOW_GRACE_S:-10}"
# A trial's connection stays open across the gap between two of its epochs up to 30 s (uvicorn's
# default of 5 s closes it between most real epochs, and every reconnect is a new TCP handshake).
keep_alive_s="${SERTEXT_MLFLOW_KEEP_ALIVE_S:-30}"
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend="$2"; shift 2 ;;
    --artifacts) artifacts="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "server.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

redacted() {  # URI $1 with any password replaced by ***
  if [[ "$1" =~ ^([A-Za-z0-9+.-]+://[^/@:]*):[^/@]*@(.*)$ ]]; then
    echo "${BASH_REMATCH[1]}:***@${BASH_REMATCH[2]}"
  else
    echo "$1"
  fi
}

shown="$(redacted "$backend")"
if [ "$shown" != "$backend" ]; then
  echo "server.sh: the backend URI holds a password, which every user sees in \`ps\`; put it in" \
       "~/.pgpass (or PGPASSFILE, PGPASSWORD) and give --backend without it" >&2
  if [[ "$backend" == postgres* ]]; then  # keep it off mlflow's command line at least: libpq reads it
    [[ "$backend" =~ ^[^/]*//[^:]*:([^@]*)@ ]]
    printf -v PGPASSWORD '%b' "${BASH_REMATCH[1]//%/\\x}"  # URIs %-escape special characters
    export PGPASSWORD
    backend="${shown/:\*\*\*@/@}"
  fi
fi

# SQLAlchemy 2.1 reads postgresql:// as psycopg (version 3), which sertext does not install: name
# the driver it does install (psycopg2-binary, in pyproject.toml), unless the URI names one.
case "$backend" in
  postgresql://*) backend="postgresql+psycopg2://${backend#postgresql://}" ;;
  postgres://*) backend="postgresql+psycopg2://${backend#postgres://}" ;;
esac

case "$poolclass" in
  NullPool) unset MLFLOW_SQLALCHEMYSTORE_POOL_SIZE MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW ;;  # NullPool rejects them
  QueuePool) export MLFLOW_SQLALCHEMYSTORE_POOL_SIZE="$pool_size" MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW="$max_overflow" ;;
  *) echo "server.sh: SERTEXT_MLFLOW_POOLCLASS must be NullPool or QueuePool, not $poolclass" >&2; exit 2 ;;
esac
export MLFLOW_SQLALCHEMYSTORE_POOLCLASS="$poolclass"
mkdir -p "$artifacts"
# Low-memory settings: no background job workers (13 processes, 2.6 GB otherwise).
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
export MLFLOW_DISABLE_TELEMETRY="${MLFLOW_DISABLE_TELEMETRY:-true}"
echo "MLflow server on http://$host:$port (backend $shown, artifacts $artifacts; $workers worker(s)," \
     "$poolclass, SIGTERM grace: $grace_s)"
# exec: this script's pid is the server's, so a SIGTERM to it reaches `mlflow server`, which passes
# it on to uvicorn; uvicorn then ends within grace_s.
uvicorn_opts="--timeout-keep-alive $keep_alive_s"
[ "$grace_s" = off ] || uvicorn_opts="--timeout-graceful-shutdown $grace_s $uvicorn_opts"
exec mlflow server --backend-store-uri "$backend" --artifacts-destination "$artifacts" \
  --host "$host" --port "$port" --workers "$workers" --uvicorn-opts "$uvicorn_opts"
