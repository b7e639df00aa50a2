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
# On a cluster head, bind the private address (--host 10.0.0.12) or 0.0.0.0 inside a private
# network; never expose the server to the internet, it has no authentication.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
backend="${SERTEXT_MLFLOW_BACKEND:-sqlite:///$here/mlflow.db}"
artifacts="${SERTEXT_MLFLOW_ARTIFACTS:-$here/artifacts}"
host="${SERTEXT_MLFLOW_HOST:-127.0.0.1}"
port="${SERTEXT_MLFLOW_PORT:-5000}"
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend="$2"; shift 2 ;;
    --artifacts) artifacts="$2"; shift 2 ;;
    --host) host="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "server.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$artifacts"
# Low-memory settings: no background job workers (13 processes, 2.6 GB otherwise), one worker.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
export MLFLOW_DISABLE_TELEMETRY="${MLFLOW_DISABLE_TELEMETRY:-true}"
echo "MLflow server on http://$host:$port (backend $backend, artifacts $artifacts)"
exec mlflow server --backend-store-uri "$backend" --artifacts-destination "$artifacts" \
  --host "$host" --port "$port" --workers 1
