#!/usr/bin/env bash
# The cluster head's MLflow server, tied to the head's Ray (see cluster/README.md).  The cluster
# configs run it in head_start_ray_commands, right after `ray start --head`.
#
# usage: cluster/head-mlflow.sh [mlflow/server.sh options: --host H --port P --backend URI --artifacts DIR]
#
#   1. It stops the server an earlier run started: the process group whose id it recorded in
#      $SERTEXT_MLFLOW_STATE/server.pid (default ~/mlflow/server.pid), so a repeated `ray up`
#      never leaves two servers.  If the port is still taken after that, it stops with an error.
#   2. It starts mlflow/server.sh in a new session, detached from the SSH session, logging to
#      ~/mlflow/server.log, and waits until the server answers on HOST:PORT (or fails).
#   3. A watcher in that session ends the server when the head's Ray stops, that is when the
#      gcs_server of the Ray session this head just started exits.  `ray down` runs `ray stop` on
#      the head (for the local provider that is all it runs there), and `ray up` starts with
#      `ray stop`: either way the server goes with Ray, a second or two later.
#
# The head's gcs_server is found in Ray's temp dir ($RAY_TMPDIR, else $TMPDIR, else /tmp, then
# /ray/session_latest), as `ray start` without --temp-dir uses it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
server="$here/../mlflow/server.sh"
state="${SERTEXT_MLFLOW_STATE:-$HOME/mlflow}"
pidfile="$state/server.pid"
log="$state/server.log"

say() { echo "head-mlflow: $*"; }

# --- processes, read from /proc with builtins only: no procps needed, and no subshell of this
# script shows up as a member of the process group it scans -------------------------------------
read_stat() {  # st_state, st_pgrp of process $1; fails if it is gone
  local line fields
  { IFS= read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
  read -r -a fields <<< "${line##*) }"
  st_state="${fields[0]}"
  st_pgrp="${fields[2]}"
}

alive() {  # process $1 exists and is not a zombie
  read_stat "$1" && [ "$st_state" != Z ]
}

group_members() {  # members=(live processes of process group $1 other than this shell)
  local dir pid
  members=()
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    [ "$pid" != "$$" ] && read_stat "$pid" && [ "$st_state" != Z ] && [ "$st_pgrp" = "$1" ] && members+=("$pid")
  done
  return 0
}

stop_group() {  # TERM process group $1, KILL what is left of it after $2 seconds
  local waited=0 pid
  kill -TERM -- "-$1" 2>/dev/null || return 0
  group_members "$1"
  while [ "${#members[@]}" -gt 0 ] && [ "$waited" -lt "$(( $2 * 4 ))" ]; do
    sleep 0.25
    waited=$(( waited + 1 ))
    group_members "$1"
  done
  for pid in "${members[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

is_gcs_server() {  # process $1 is a live gcs_server
  local comm=""
  alive "$1" && { IFS= read -r comm < "/proc/$1/comm"; } 2>/dev/null && [ "$comm" = gcs_server ]
}

head_gcs_server() {  # pid of the gcs_server of the newest Ray session of this user
  local tmp="${RAY_TMPDIR:-${TMPDIR:-/tmp}}/ray" session="" dir found=() mine=()
  session="$(readlink "$tmp/session_latest" 2>/dev/null || true)"
  for dir in /proc/[0-9]*; do
    [ -O "$dir" ] && is_gcs_server "${dir#/proc/}" || continue
    mine+=("${dir#/proc/}")
    if [ -n "$session" ] && tr '\0' '\n' < "$dir/cmdline" 2>/dev/null | grep -qxF -e "--session-dir=$session"; then
      found+=("${dir#/proc/}")
    fi
  done
  if [ "${#found[@]}" -eq 1 ]; then echo "${found[0]}"
  elif [ "${#mine[@]}" -eq 1 ]; then echo "${mine[0]}"
  elif [ "${#mine[@]}" -eq 0 ]; then say "no running Ray head (gcs_server) found: run ray start --head first" >&2; return 1
  else say "several gcs_server processes (${mine[*]}) and none of session $session" >&2; return 1
  fi
}

answers() {  # the MLflow server on host $1, port $2 answers /health
  (
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf 'GET /health HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$1" "$2" >&3
    IFS= read -r -t 5 reply <&3 || exit 1
    [[ "$reply" == "HTTP/"*" 200"* ]]
  ) 2>/dev/null
}

port_taken() {  # something accepts connections on host $1, port $2
  ( exec 3<>"/dev/tcp/$1/$2" ) 2>/dev/null
}

# --- the watcher: runs the server in its own session until the head's Ray stops ------------------
if [ "${1:-}" = "--watch" ]; then
  gcs="$2"
  shift 2
  echo "$$" > "$pidfile"
  finish() {
    trap '' TERM INT HUP
    say "$(date -u '+%F %T') $1: stopping the MLflow server"
    stop_group "$$" 20
    [ "$(cat "$pidfile" 2>/dev/null)" = "$$" ] && rm -f "$pidfile"
    exit 0
  }
  trap 'finish "stopped by a signal"' TERM INT HUP
  bash "$server" "$@" &
  srv=$!
  say "$(date -u '+%F %T') MLflow server pid $srv, watching the head's Ray (gcs_server pid $gcs)"
  while kill -0 "$srv" 2>/dev/null; do
    if ! is_gcs_server "$gcs"; then
      finish "the head's Ray stopped (gcs_server $gcs exited)"
    fi
    sleep 1 & wait $! || true
  done
  finish "the MLflow server exited"
fi

# --- the launcher ---------------------------------------------------------------------------------
host="${SERTEXT_MLFLOW_HOST:-127.0.0.1}"
port="${SERTEXT_MLFLOW_PORT:-5000}"
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --host) host="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) shift ;;
  esac
done
probe="$host"
[ "$probe" = 0.0.0.0 ] && probe=127.0.0.1
mkdir -p "$state"

if [ -f "$pidfile" ]; then
  old="$(cat "$pidfile")"
  if [[ "$old" =~ ^[0-9]+$ ]] && alive "$old" && tr '\0' ' ' < "/proc/$old/cmdline" | grep -q "head-mlflow.sh --watch"; then
    say "stopping the MLflow server an earlier start left (process group $old)"
    stop_group "$old" 30
  fi
  rm -f "$pidfile"
fi
if port_taken "$probe" "$port"; then
  say "port $port on $probe is taken by a process this script did not start (an MLflow server started" \
      "another way?); stop it and run ray up again" >&2
  exit 1
fi

gcs="$(head_gcs_server)"
setsid bash "$0" --watch "$gcs" "${args[@]}" < /dev/null >> "$log" 2>&1 &
watcher=$!  # setsid runs the watcher in this process (it is no group leader here); else the pid file has it
for _ in $(seq 240); do
  [ -f "$pidfile" ] && watcher="$(cat "$pidfile")"
  if answers "$probe" "$port"; then
    say "MLflow server on http://$host:$port (process group $watcher, log $log); it stops when this head's Ray stops"
    exit 0
  fi
  alive "$watcher" || break
  sleep 0.5
done
say "the MLflow server did not come up on $host:$port; the end of $log:" >&2
tail -n 30 "$log" >&2 || true
alive "$watcher" && stop_group "$watcher" 10
exit 1
