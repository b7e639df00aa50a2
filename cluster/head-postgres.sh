#!/usr/bin/env bash
# The cluster head's PostgreSQL: the MLflow server's backend store (see cluster/README.md).  The
# cluster configs run `install` in head_setup_commands, `start` in head_start_ray_commands, and
# pass `uri` to cluster/head-mlflow.sh as its --backend.  For Debian and Ubuntu heads.
#
# usage: cluster/head-postgres.sh install|start|uri|stop
#
#   install  installs the distribution's postgresql (apt-get; nothing happens when PostgreSQL is
#            installed already) and creates the distribution's cluster (pg_createcluster
#            <newest version> main) where the package did not.
#   start    starts that cluster if it is down (pg_ctlcluster, which hands over to systemd where
#            systemd runs), creates the login role and the database `sertext` (UTF-8, whatever
#            the head's locale) if they are missing, and sets the role's password to the one in
#            ~/.pgpass (mode 600) or, where that holds none, to a new random one written there.
#            libpq, so psycopg2 and the MLflow server, reads it from there: the password is never
#            on a command line, in `ps`, or in the repository.
#   uri      prints the backend URI for mlflow/server.sh --backend (no password in it).
#   stop     stops the cluster (PostgreSQL outlives `ray down`: see cluster/README.md).
#
# Root runs the commands of the postgres user with runuser, any other user through passwordless
# sudo (`sudo -n`, as cloud images set up their default user).  Every step is idempotent: a
# second `ray up` finds everything in place and keeps the password.  The cluster keeps the
# distribution's listen_addresses = 'localhost': only the head itself, where the MLflow server
# runs, can reach it.
set -euo pipefail
role=sertext
database=sertext
pgpass="${PGPASSFILE:-$HOME/.pgpass}"

say() { echo "head-postgres: $*" >&2; }
fail() { say "$*"; exit 1; }

as_root() {  # run "$@" as root
  if [ "$(id -u)" = 0 ]; then "$@"
  else sudo -n true 2>/dev/null || fail "needs root for '$1': give $(id -un) passwordless sudo, or use an" \
         "existing PostgreSQL (cluster/README.md)"
       sudo -n "$@"
  fi
}

as_postgres() {  # run "$@" as the postgres user, from / (it may not read this user's home)
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@")
  else as_root true && (cd / && sudo -n -u postgres "$@")
  fi
}

installed() {  # postgresql-common's cluster tools and a server are installed
  command -v pg_lsclusters > /dev/null && command -v pg_ctlcluster > /dev/null &&
    compgen -G "/usr/lib/postgresql/*/bin/postgres" > /dev/null
}

main_cluster() {  # "version name port status" of the newest version's cluster "main" (empty: none)
  installed || fail "PostgreSQL is not installed: run '$0 install' (Debian or Ubuntu heads only)"
  pg_lsclusters --no-header | awk '$2 == "main" {print $1, $2, $3, $4}' | sort -V | tail -n 1
}

cluster_info() {  # sets version, name, port and status of the main cluster, or fails
  local found
  found="$(main_cluster)"
  [ -n "$found" ] || fail "no PostgreSQL cluster 'main': run '$0 install'"
  read -r version name port status <<< "$found"
}

stored_password() {  # the password ~/.pgpass holds for this role on this cluster (empty: none)
  [ -f "$pgpass" ] || return 0
  grep -m 1 "^127\.0\.0\.1:$port:$database:$role:" "$pgpass" | cut -d: -f5- || true
}

new_password() {  # 48 hex digits from a cryptographic generator (no quoting issues in SQL or pgpass)
  if command -v openssl > /dev/null; then openssl rand -hex 24
  else python3 -c 'import secrets; print(secrets.token_hex(24))'
  fi
}

# --- the commands ---------------------------------------------------------------------------------
install() {
  if installed; then
    say "PostgreSQL is installed"
  else
    command -v apt-get > /dev/null || fail "no apt-get: on this distribution install and start PostgreSQL" \
      "yourself and point the MLflow server at it (cluster/README.md)"
    say "installing the distribution's postgresql"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q postgresql
  fi
  if [ -z "$(main_cluster)" ]; then
    local newest
    newest="$(compgen -G "/usr/lib/postgresql/*/bin/postgres" | cut -d/ -f5 | sort -V | tail -n 1)"
    say "creating the PostgreSQL $newest cluster 'main'"
    as_root pg_createcluster "$newest" main
  fi
}

start() {
  cluster_info
  if [[ "$status" != online* ]]; then
    say "starting the PostgreSQL $version cluster '$name' (port $port)"
    as_root pg_ctlcluster "$version" "$name" start
  fi
  local pw  # the role's password
  pw="$(stored_password)"
  if [ -z "$pw" ]; then
    pw="$(new_password)"
    ( umask 077 && printf '127.0.0.1:%s:%s:%s:%s\n' "$port" "$database" "$role" "$pw" >> "$pgpass" )
    say "a new password for role $role is in $pgpass"
  fi
  chmod 600 "$pgpass"  # libpq ignores a pgpass file that others can read
  # The SQL, password included, goes to psql on its standard input, never on its command line.
  printf '%s\n' \
    "SELECT 'CREATE ROLE $role LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')\\gexec" \
    "ALTER ROLE $role WITH LOGIN PASSWORD '$pw';" \
    "SELECT 'CREATE DATABASE $database OWNER $role ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C''" \
    "  TEMPLATE template0' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$database')\\gexec" |
    as_postgres psql --quiet --no-psqlrc --set ON_ERROR_STOP=1 --port "$port" --dbname postgres > /dev/null
  say "PostgreSQL $version/$name on localhost:$port: database $database, role $role (password in $pgpass)"
}

uri() {
  cluster_info
  echo "postgresql+psycopg2://$role@127.0.0.1:$port/$database"  # +psycopg2: SQLAlchemy 2.1 means psycopg 3 otherwise
}

stop() {
  cluster_info
  if [[ "$status" == online* ]]; then
    as_root pg_ctlcluster "$version" "$name" stop
    say "stopped the PostgreSQL $version cluster '$name'"
  fi
}

case "${1:-}" in
  install|start|uri|stop) "$1" ;;
  -h|--help) sed -n '2,24p' "$0" ;;
  *) sed -n '6s/^# //p' "$0" >&2; exit 2 ;;
esac
