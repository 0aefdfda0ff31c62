#!/usr/bin/env bash
# Benchmarks deskplane against moto_server (the peer) and a trivial Go
# handler (the machine's ceiling), side by side in one run, on loopback.
#
# Usage: bench/run.sh [peer run flags...]
#   bench/run.sh                       # the standard run (10,000 desktops)
#   bench/run.sh -desktops 100000 -only create -moto ''   # the 100k RSS check, deskplane only
#   bench/run.sh -store sqlite         # deskplane on the embedded SQLite store (default pebble, serve's default for a new data dir)
#   bench/run.sh -interleave 1         # describe and create in slices alternating between the servers (see docs/benchmarks.md, session 7)
#
# Needs: go, moto_server (pip install 'moto[server]'). Writes bench/results.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# -store sqlite|pebble (anywhere in the arguments): the embedded store
# deskplane serves from and whose ceiling peer measures.
store=pebble
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = "-store" ] || [ "$1" = "--store" ]; then
    store="$2"; shift 2; continue
  fi
  args+=("$1"); shift
done
set -- "${args[@]+"${args[@]}"}"

go build -o "$tmp/deskplane" ./cmd/deskplane
go build -o "$tmp/peer" ./bench/peer

# wait_url LOG PATTERN: the first URL a server prints that matches.
wait_url() {
  local log=$1 pid=$2 url=""
  for _ in $(seq 300); do
    url="$(grep -o 'http://[0-9.:]*' "$log" | head -n1 || true)"
    [ -n "$url" ] && { echo "$url"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  cat "$log" >&2
  return 1
}

"$tmp/deskplane" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --store "$store" --timing instant >"$tmp/deskplane.log" 2>&1 &
dp_pid=$!; pids+=("$dp_pid")
dp_url="$(wait_url "$tmp/deskplane.log" "$dp_pid")"

"$tmp/peer" trivial -listen 127.0.0.1:0 >"$tmp/trivial.log" 2>&1 &
tr_pid=$!; pids+=("$tr_pid")
tr_url="$(wait_url "$tmp/trivial.log" "$tr_pid")"

moto_args=()
if command -v moto_server >/dev/null; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
  mo_pid=$!; pids+=("$mo_pid")
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
    kill -0 "$mo_pid" || { cat "$tmp/moto.log" >&2; exit 1; }
    sleep 0.2
  done
  # moto_server is a wrapper script: find the python process that serves.
  mo_srv="$(pgrep -P "$mo_pid" | head -n1 || true)"
  moto_args=(-moto "http://127.0.0.1:$port" -moto-pid "${mo_srv:-$mo_pid}")
else
  echo "moto_server not found: running without the peer" >&2
fi

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "deskplane $dp_url (pid $dp_pid, store $store), trivial $tr_url (pid $tr_pid), moto ${moto_args[*]:-none}"
"$tmp/peer" run -deskplane "$dp_url" -deskplane-pid "$dp_pid" -trivial "$tr_url" -trivial-pid "$tr_pid" \
  -store "$store" "${moto_args[@]}" -json "$root/bench/results.json" "$@"
