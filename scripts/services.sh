#!/usr/bin/env bash
# Make PostgreSQL (with pgvector) and Redis available for FacePass.
#
# With DATABASE_URL / REDIS_URL set, only checks them. Otherwise uses the local
# servers: starts them when installed but stopped, builds pgvector from Debian's
# source package when the extension is missing, creates the database. Exits
# non-zero with a message saying what to install when it cannot.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
DB_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/facepass}"
REDIS="${REDIS_URL:-redis://127.0.0.1:6379/0}"
APT_DIR="${FACEPASS_APT_DIR:-/tmp/facepass-apt}"
DEBIAN_MIRROR="${FACEPASS_DEBIAN_MIRROR:-}"

say() { echo "[services] $*" >&2; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# Split the database URL into the parts psql needs.
db_name="${DB_URL##*/}"; db_name="${db_name%%\?*}"
admin_url="${DB_URL%/*}/postgres"

have_pg() { psql "$admin_url" -tAc 'SELECT 1' >/dev/null 2>&1; }

start_local_postgres() {
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not running and not installed. Install it: apt-get install postgresql-$PG_MAJOR (or set DATABASE_URL)."
  say "starting local PostgreSQL $PG_MAJOR"
  as_root pg_ctlcluster "$PG_MAJOR" main start || true
  for _ in $(seq 30); do have_pg && return 0; sleep 1; done
  die "PostgreSQL did not come up on $admin_url."
}

vector_available() {
  [ "$(psql "$admin_url" -tAc "SELECT count(*) FROM pg_available_extensions WHERE name='vector'")" = 1 ]
}

debian_mirror() {
  if [ -n "$DEBIAN_MIRROR" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -rhoE '^URIs: *\S+/debian/?$|^deb +\S+/debian/? ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | head -1 | sed -E 's/^URIs: *//; s/^deb +//; s/ $//') || true
  echo "${uri:-http://deb.debian.org/debian}"
}

install_pgvector() {
  local local_pg=1
  case "$admin_url" in *@127.0.0.1*|*@localhost*|*@/*) ;; *) local_pg=0 ;; esac
  [ "$local_pg" = 1 ] || die "The vector extension is missing on $admin_url. Install pgvector on that server."
  command -v apt-get >/dev/null || die "pgvector is missing and this is not a Debian system: install pgvector for PostgreSQL $PG_MAJOR."
  say "pgvector missing: building it from Debian's source package (trixie)"
  local pg_config="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
  if [ ! -x "$pg_config" ] || ! dpkg -s "postgresql-server-dev-$PG_MAJOR" >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR" make gcc >/dev/null
  fi
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) trixie main" > "$APT_DIR/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$APT_DIR/lists")
  apt-get "${opts[@]}" update -qq
  (cd "$APT_DIR/src" && rm -rf pgvector* && apt-get "${opts[@]}" source --download-only -qq pgvector)
  local orig; orig=$(ls "$APT_DIR"/src/pgvector_*.orig.tar.gz | head -1)
  [ -n "$orig" ] || die "could not download Debian's pgvector source package."
  (cd "$APT_DIR/src" && tar xzf "$orig" && cd pgvector-*/ && make -s PG_CONFIG="$pg_config" >/dev/null && as_root make -s install PG_CONFIG="$pg_config" >/dev/null)
  vector_available || die "pgvector was built but PostgreSQL does not list it."
  say "pgvector installed"
}

ensure_database() {
  if [ "$(psql "$admin_url" -tAc "SELECT count(*) FROM pg_database WHERE datname='$db_name'")" != 1 ]; then
    say "creating database $db_name"
    psql "$admin_url" -qc "CREATE DATABASE \"$db_name\""
  fi
  # The extension is not trusted: create it as superuser here and in template1 so
  # the test database (a copy of template1) has it too.
  psql "${DB_URL%%\?*}" -qc "CREATE EXTENSION IF NOT EXISTS vector" 2>/dev/null \
    || die "could not create the vector extension in $db_name (needs a superuser)."
  psql "${admin_url%/*}/template1" -qc "CREATE EXTENSION IF NOT EXISTS vector" 2>/dev/null \
    || say "note: could not add vector to template1; tests need a superuser connection"
}

redis_ping() { redis-cli -u "$REDIS" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if command -v redis-cli >/dev/null && redis_ping; then return 0; fi
  if [ -n "${REDIS_URL:-}" ]; then
    command -v redis-cli >/dev/null || { say "redis-cli not installed; assuming $REDIS is reachable"; return 0; }
    die "Redis at $REDIS does not answer."
  fi
  command -v redis-server >/dev/null || die "Redis is not running and not installed. Install it: apt-get install redis-server (or set REDIS_URL)."
  say "starting local Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
  for _ in $(seq 20); do redis_ping && return 0; sleep 0.5; done
  die "Redis did not come up."
}

command -v psql >/dev/null || die "psql is not installed. Install it: apt-get install postgresql-client-$PG_MAJOR."
if ! have_pg; then
  [ -z "${DATABASE_URL:-}" ] || die "PostgreSQL at $admin_url does not answer."
  start_local_postgres
fi
vector_available || install_pgvector
ensure_database
ensure_redis
say "PostgreSQL ($db_name, pgvector) and Redis are ready"
