#!/usr/bin/env bash
# pg-stop.sh — stop a cluster started by pg-start.sh and delete its directory.
#
# Usage: scripts/pg-stop.sh [DIR]   (default: $DESKPLANE_PG_DIR)
#
# Idempotent: a missing DIR or an already stopped cluster is not an error.
# Refuses to delete a directory that pg-start.sh did not create.
set -euo pipefail

PGVER=${PGVER:-15}
BIN=${PGBIN:-/usr/lib/postgresql/$PGVER/bin}
MARKER=.deskplane-pg

log() { echo "pg-stop: $*" >&2; }
die() { log "error: $*"; exit 1; }

DIR=${1:-${DESKPLANE_PG_DIR:-}}
[ -n "$DIR" ] || die "usage: $0 DIR (or set DESKPLANE_PG_DIR)"
if [ ! -e "$DIR" ]; then
	log "$DIR does not exist; nothing to do"
	exit 0
fi
[ -e "$DIR/$MARKER" ] || die "$DIR was not created by pg-start.sh (no $MARKER); refusing to delete it"

# alive PID: the process exists and is not a zombie (a killed postmaster
# whose parent has not reaped it yet still answers kill -0).
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

pidfile=$DIR/data/postmaster.pid
if [ -e "$pidfile" ]; then
	pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
	if [ -n "$pid" ] && alive "$pid" && grep -qx postgres "/proc/$pid/comm" 2>/dev/null; then
		owner=$(stat -c %U "$DIR/data")
		if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
			if command -v runuser >/dev/null; then
				as_owner() { (cd / && runuser -u "$owner" -- "$@"); }
			else
				as_owner() { (cd / && su "$owner" -s /bin/bash -c "$(printf '%q ' "$@")"); }
			fi
		else
			as_owner() { (cd / && "$@"); }
		fi
		if [ -x "$BIN/pg_ctl" ]; then
			as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >&2 ||
				as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 stop >&2 || true
		fi
		# Last resort (pg_ctl missing or failed).
		if alive "$pid"; then
			log "killing postmaster $pid"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	else
		log "postmaster not running (stale pid file)"
	fi
fi
rm -rf -- "$DIR"
log "stopped and removed $DIR"
