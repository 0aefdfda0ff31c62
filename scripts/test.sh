#!/usr/bin/env bash
# Runs every test of deskplane: go vet, the Go tests with the race detector
# (against the embedded Pebble and SQLite stores and a throwaway PostgreSQL), short fuzz runs, and the
# end-to-end scripts that drive a real server with the aws CLI, boto3 and the
# JavaScript SDK. Used as-is by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

export DESKPLANE_REQUIRE_BOTOCORE="${DESKPLANE_REQUIRE_BOTOCORE:-1}"

# step NAME: a step's header, with the seconds since the run began.
step() { printf '\n==> %s (at %ds)\n' "$*" "$SECONDS"; }

step "go vet"
go vet ./...

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi

step "PostgreSQL for the shared store suite"
pgdir=""
if [ -z "${DESKPLANE_TEST_POSTGRES:-}" ]; then
  eval "$(scripts/pg-start.sh)"
  pgdir="${DESKPLANE_PG_DIR:-}"
fi
cleanup() {
  # The side-by-side step's jobs, when the run stops early.
  kill $(jobs -p) 2>/dev/null || true
  [ -n "$pgdir" ] && scripts/pg-stop.sh "$pgdir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "Chromium for the browser tests"
# The broker's console and portal tests drive headless Chromium (chromedp);
# Debian's chromium package is installed here when missing and we are root.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null || {
    apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
fi
export DESKPLANE_REQUIRE_CHROMIUM="${DESKPLANE_REQUIRE_CHROMIUM:-1}"

step "X11 and noVNC packages for the x11 runtime's and the portal's tests"
# deskplane serve --runtime x11 runs Xvfb, openbox, xterm and x11vnc per
# desktop; its tests find the terminal with xwininfo (x11-utils) and xdotool;
# the broker's portal serves noVNC from Debian's novnc package.
# Installed here when missing and we are root; with DESKPLANE_REQUIRE_X11=1
# (or CI=true) the tests fail without them instead of skipping.
if ! command -v Xvfb >/dev/null 2>&1 || ! command -v x11vnc >/dev/null 2>&1 || ! command -v xterm >/dev/null 2>&1 ||
  ! command -v openbox >/dev/null 2>&1 || ! command -v xwininfo >/dev/null 2>&1 || ! command -v xdotool >/dev/null 2>&1 ||
  [ ! -f /usr/share/novnc/core/rfb.js ]; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends xvfb x11vnc xterm openbox x11-utils xdotool novnc >/dev/null || {
      apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends xvfb x11vnc xterm openbox x11-utils xdotool novnc >/dev/null; }
  fi
fi
export DESKPLANE_REQUIRE_X11="${DESKPLANE_REQUIRE_X11:-1}"

step "go build"
go build -o bin/deskplane ./cmd/deskplane

step "go test -race"
go test -race -timeout 20m ./...

step "fuzz (short)"
scripts/fuzz.sh 200000

step "end-to-end: the suite on the embedded SQLite store, and the scripts, side by side"
# The suite above ran on serve's default store for a new data dir (Pebble); a
# data dir made by an earlier version keeps SQLite, so the suite runs on it too.
# The scripts drive real servers with the aws CLI, boto3, the JavaScript SDK
# and the README's runnable blocks; like the suite, they mostly wait on the
# fast timing profile's steps, so all of them run at once, each into a log of
# its own that is printed, in order, when it ends. walkthrough.sh's CLI run is
# not repeated on its own: readme.sh runs the same
# examples/partner-walkthrough.sh against a fresh server, twice (boto3.sh and
# js.sh run walkthrough.sh with their clients).
logs="$(mktemp -d)"
names=()
pids=()
# background NAME COMMAND...: runs COMMAND with its output in a log of its own.
background() {
  local name=$1
  shift
  (
    t0=$SECONDS rc=0
    "$@" || rc=$?
    echo "(${name}: $((SECONDS - t0))s)"
    exit "$rc"
  ) >"$logs/${#names[@]}.log" 2>&1 &
  names+=("$name")
  pids+=("$!")
}
background "the end-to-end suite on SQLite" env DESKPLANE_TEST_STORE=sqlite go test -timeout 15m ./test/e2e/
for s in test/e2e/*.sh; do
  [ -e "$s" ] || continue
  [ "$(basename "$s")" = walkthrough.sh ] && continue
  background "$s" bash "$s" bin/deskplane
done
failed=()
for i in "${!pids[@]}"; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  echo "--- ${names[$i]}: exit $rc"
  cat "$logs/$i.log"
  [ "$rc" -eq 0 ] || failed+=("${names[$i]}")
done
rm -rf "$logs"
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "all tests passed (${SECONDS}s)"
