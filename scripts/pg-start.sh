#!/usr/bin/env bash
# pg-start.sh — start a throwaway PostgreSQL cluster for deskplane's tests.
#
# Usage:
#   eval "$(scripts/pg-start.sh [DIR])"
#   go test -race ./internal/store/postgres/
#   scripts/pg-stop.sh "$DESKPLANE_PG_DIR"
#
# Without DIR a fresh temporary directory is created. With DIR, an existing
# cluster started there earlier by this script is reused if it still runs (or
# restarted if it was stopped), so the script is idempotent.
#
# Only the two `export` lines go to stdout; progress and errors go to stderr.
# The cluster listens on 127.0.0.1 only (a free port) and a private socket
# directory, with trust authentication — never use it for anything but tests.
# When run as root the server runs as the `postgres` OS user, never as root.
# If the PostgreSQL programs are missing and we are root, postgresql-$PGVER is
# installed with apt-get (without creating Debian's default cluster).
set -euo pipefail

PGVER=${PGVER:-15}
BIN=${PGBIN:-/usr/lib/postgresql/$PGVER/bin}
DBNAME=${DBNAME:-deskplane_test}
MARKER=.deskplane-pg

log() { echo "pg-start: $*" >&2; }
die() { log "error: $*"; exit 1; }

install_pg() {
	[ "$(id -u)" -eq 0 ] || die "$BIN/pg_ctl not found and not root; install postgresql-$PGVER"
	command -v apt-get >/dev/null || die "$BIN/pg_ctl not found and apt-get unavailable"
	log "installing postgresql-$PGVER with apt-get"
	# Don't let the package create and start Debian's default "main" cluster.
	mkdir -p /etc/postgresql-common
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confold "postgresql-$PGVER" >&2
	[ -x "$BIN/pg_ctl" ] || die "postgresql-$PGVER installed but $BIN/pg_ctl is missing"
}

[ -x "$BIN/pg_ctl" ] && [ -x "$BIN/initdb" ] || install_pg

# as_owner runs a command as the cluster's OS user: postgres when we are root,
# ourselves otherwise. It runs from / so the user need not read our cwd.
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=postgres
	id "$RUNAS" >/dev/null 2>&1 || die "OS user $RUNAS does not exist"
	if command -v runuser >/dev/null; then
		as_owner() { (cd / && runuser -u "$RUNAS" -- "$@"); }
	else
		as_owner() { (cd / && su "$RUNAS" -s /bin/bash -c "$(printf '%q ' "$@")"); }
	fi
else
	RUNAS=$(id -un)
	as_owner() { (cd / && "$@"); }
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

wait_ready() {
	local deadline=$((SECONDS + 60))
	until as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U postgres; do
		[ "$SECONDS" -lt "$deadline" ] || die "server on port $PORT not ready after 60s (log: $DIR/log)"
		sleep 0.2
	done
}

# start_server starts the cluster in $DIR on a free loopback port, trying a
# few ports in case another process grabs one between the check and the bind.
start_server() {
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$((20000 + RANDOM % 40000))
		port_busy "$PORT" && continue
		if as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 -o \
			"-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/sock -c fsync=on -c synchronous_commit=on -c max_connections=200" \
			start >&2; then
			echo "$PORT" >"$DIR/port"
			return 0
		fi
		log "start on port $PORT failed (attempt $try); log tail:"
		tail -n 5 "$DIR/log" >&2 || true
	done
	die "could not start PostgreSQL (log: $DIR/log)"
}

CREATED=""
cleanup_on_error() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ -n "$CREATED" ]; then
		log "cleaning up $CREATED after failure"
		as_owner "$BIN/pg_ctl" -D "$CREATED/data" -m immediate -w stop >/dev/null 2>&1 || true
		rm -rf -- "$CREATED"
	fi
	exit "$rc"
}
trap cleanup_on_error EXIT

if [ $# -ge 1 ] && [ -n "$1" ]; then
	DIR=$1
	if [ -e "$DIR" ] && [ ! -e "$DIR/$MARKER" ] && [ -n "$(ls -A "$DIR")" ]; then
		die "$DIR exists, is not empty and was not created by this script"
	fi
	if [ ! -e "$DIR" ]; then
		mkdir -p "$DIR"
		CREATED=$DIR
	fi
	DIR=$(cd "$DIR" && pwd -P)
else
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/deskplane-pg.XXXXXX")
	CREATED=$DIR
fi
touch "$DIR/$MARKER"
mkdir -p "$DIR/sock"
chmod 700 "$DIR"
chown -R "$RUNAS" "$DIR"

if [ ! -s "$DIR/data/PG_VERSION" ]; then
	log "initdb in $DIR/data (as $RUNAS)"
	as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -E UTF8 --no-locale \
		--auth-local=trust --auth-host=trust >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; die "initdb failed"; }
fi

if running && [ -s "$DIR/port" ]; then
	PORT=$(cat "$DIR/port")
	log "reusing running cluster in $DIR on port $PORT"
else
	start_server
	log "started PostgreSQL $PGVER in $DIR on 127.0.0.1:$PORT"
fi
wait_ready

if [ "$(as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -XtAc \
	"SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != 1 ]; then
	as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DBNAME"
fi

CREATED=""
echo "export DESKPLANE_TEST_POSTGRES='postgres://postgres@127.0.0.1:$PORT/$DBNAME?sslmode=disable'"
echo "export DESKPLANE_PG_DIR='$DIR'"
