#!/usr/bin/env bash
# Runs README.md's runnable blocks — those fenced as ```sh (the quick start,
# the steps by hand and their clean-up, the broker) — in order, in one bash
# session, against a fresh server; then restarts the server on the same data
# dir and runs them all again (the server keeps its state on purpose, so every
# block must run twice as written). The broker sequence must end with an
# active session for alice. Blocks fenced as ```shell are not run.
#
# Usage: test/e2e/readme.sh BIN
#
# The blocks run in a scratch copy of the repository's examples/ with the
# README's addresses (the server's 127.0.0.1:4599, the broker's
# 127.0.0.1:4700) replaced by free ports, so the test never touches a server
# a developer runs; `go build -o bin/deskplane ./cmd/deskplane` is answered
# with BIN.
set -euo pipefail

bin="${1:?usage: readme.sh BIN}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
command -v aws >/dev/null || { echo "the aws CLI is not installed" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }

tmp="$(mktemp -d)"
pid=""
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  pid=""
}
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The runnable blocks, in order.
awk '/^```sh$/ {on=1; next} /^```/ {if (on) print ""; on=0; next} on {print}' "$root/README.md" >"$tmp/blocks.sh"
[ -s "$tmp/blocks.sh" ] || { echo "no runnable blocks in README.md" >&2; exit 1; }
grep -q 'broker serve' "$tmp/blocks.sh" || { echo "README.md's runnable blocks lack the broker sequence" >&2; exit 1; }

work="$tmp/work"
mkdir -p "$work/bin"
cp "$bin" "$work/bin/deskplane"
broker_port="$(free_port)"

# run PASS: starts the server on the data dir, runs the blocks, stops it.
run() {
  local pass=$1 endpoint addr
  : >"$tmp/serve.log"
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --timing fast >"$tmp/serve.log" 2>&1 &
  pid=$!
  endpoint=""
  for _ in $(seq 300); do
    endpoint="$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$tmp/serve.log" | head -n1)"
    [ -n "$endpoint" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; echo "deskplane exited" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$endpoint" ] || { echo "deskplane did not start" >&2; return 1; }
  addr="${endpoint#http://}"
  echo "=== pass $pass: deskplane at $endpoint (pid $pid), broker on 127.0.0.1:$broker_port"
  rm -rf "$work/examples"
  cp -r "$root/examples" "$work/examples"
  local subst="s#127\.0\.0\.1:4599#$addr#g; s#127\.0\.0\.1:4700#127.0.0.1:$broker_port#g"
  find "$work/examples" -type f -exec sed -i "$subst" {} +
  {
    echo 'set -euo pipefail'
    echo 'export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null'
    echo 'unset AWS_PROFILE AWS_SESSION_TOKEN DESKPLANE_ENDPOINT'
    # go build of the CLI is answered with the binary under test.
    echo 'go() { if [ "$*" = "build -o bin/deskplane ./cmd/deskplane" ]; then return 0; fi; command go "$@"; }'
    # A background job (broker serve) left by a failing block is stopped.
    echo 'trap '"'"'kill $(jobs -p) 2>/dev/null || true'"'"' EXIT'
    sed "$subst" "$tmp/blocks.sh"
  } >"$work/run.sh"
  rm -f "$work/session.json"
  local rc=0
  (cd "$work" && timeout 1500 bash "$work/run.sh") || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "--- pass $pass failed ($rc); server log (tail):" >&2
    tail -n 40 "$tmp/serve.log" >&2
    [ -f "$work/broker.log" ] && { echo "--- broker log (tail):" >&2; tail -n 40 "$work/broker.log" >&2; }
    return "$rc"
  fi
  python3 - "$work/session.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s.get("user") == "alice" and s.get("state") == "active" and s.get("ip") and s.get("port"), s
print("    alice's session:", s["session_id"], s["workspace_id"], "%s:%s" % (s["ip"], s["port"]), s["protocol"])
PY
  stop_server
}

run 1
run 2
echo "README blocks passed twice on one data dir"
