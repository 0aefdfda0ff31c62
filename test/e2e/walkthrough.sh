#!/usr/bin/env bash
# Runs the partner guide's journey against a fresh deskplane server.
#
# Usage: test/e2e/walkthrough.sh BIN [cli|boto3|js]
#
# Starts `BIN serve` on a free loopback port with a temporary data dir and the
# fast timing profile, runs one client's walkthrough against it with
# DESKPLANE_ENDPOINT set (cli: examples/partner-walkthrough.sh, boto3:
# test/e2e/walkthrough.py, js: test/e2e/js/walkthrough.mjs), stops the server
# and removes the data dir. Exits non-zero when the walkthrough fails.
set -euo pipefail

bin="${1:?usage: walkthrough.sh BIN [cli|boto3|js]}"
client="${2:-cli}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }

tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --timing fast >"$tmp/serve.log" 2>&1 &
pid=$!
endpoint=""
for _ in $(seq 300); do
  endpoint="$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$tmp/serve.log" | head -n1)"
  [ -n "$endpoint" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; echo "deskplane exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$endpoint" ] || { cat "$tmp/serve.log" >&2; echo "deskplane did not start" >&2; exit 1; }
echo "deskplane at $endpoint (pid $pid, $client walkthrough)"
export DESKPLANE_ENDPOINT="$endpoint"

rc=0
case "$client" in
  cli) bash "$root/examples/partner-walkthrough.sh" || rc=$? ;;
  boto3) python3 "$here/walkthrough.py" || rc=$? ;;
  js) node "$here/js/walkthrough.mjs" || rc=$? ;;
  *) echo "unknown client $client" >&2; rc=2 ;;
esac
if [ "$rc" -ne 0 ]; then
  echo "--- server log (tail)" >&2
  tail -n 50 "$tmp/serve.log" >&2
  exit "$rc"
fi
