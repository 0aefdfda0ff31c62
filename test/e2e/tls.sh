#!/usr/bin/env bash
# Serves HTTPS with a generated certificate and calls it with the AWS CLI.
#
# Usage: test/e2e/tls.sh BIN
#
# Starts `BIN serve --tls auto` on a free loopback port with a temporary data
# dir, reads the https URL and the CA bundle from its banner, checks that the
# CLI trusts the server with --ca-bundle (and refuses it without), that the
# generated keys are private, and that a restart on the same data dir keeps
# the certificate authority the CLI was given. Exits non-zero on failure.
set -euo pipefail

bin="${1:?usage: tls.sh BIN}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }

tmp="$(mktemp -d)"
pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  pid=""
}
cleanup() { stop; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- server log" >&2; cat "$tmp/serve.log" >&2 || true; exit 1; }

start() {
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$tmp/data" --timing fast --tls auto >"$tmp/serve.log" 2>&1 &
  pid=$!
  endpoint=""
  for _ in $(seq 300); do
    endpoint="$(sed -n 's/.*listening on \(https:\/\/[^ ]*\).*/\1/p' "$tmp/serve.log" | head -n1)"
    [ -n "$endpoint" ] && break
    kill -0 "$pid" 2>/dev/null || fail "deskplane exited"
    sleep 0.1
  done
  [ -n "$endpoint" ] || fail "deskplane did not start with an https URL"
  ca="$(sed -n 's/^ *CA bundle: *\([^ ]*\).*/\1/p' "$tmp/serve.log" | head -n1)"
  [ -f "$ca" ] || fail "the banner names no CA bundle file ($ca)"
}

export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_DEFAULT_REGION=us-east-1
unset AWS_CA_BUNDLE AWS_PROFILE || true

start
echo "deskplane at $endpoint (CA bundle $ca)"
account="$(aws --endpoint-url "$endpoint" --ca-bundle "$ca" sts get-caller-identity --query Account --output text)"
[ "$account" = "111122223333" ] || fail "get-caller-identity over TLS: $account"
aws --endpoint-url "${endpoint/127.0.0.1/localhost}" --ca-bundle "$ca" workspaces describe-workspaces >/dev/null \
  || fail "describe-workspaces at localhost over TLS"
if aws --endpoint-url "$endpoint" sts get-caller-identity >"$tmp/untrusted.log" 2>&1; then
  fail "the CLI accepted the generated certificate without --ca-bundle"
fi
grep -qi "certificate" "$tmp/untrusted.log" || fail "unexpected error without --ca-bundle: $(cat "$tmp/untrusted.log")"
for f in "$tmp/data/tls/key.pem" "$tmp/data/tls/ca-key.pem"; do
  mode="$(stat -c %a "$f")"
  [ "$mode" = "600" ] || fail "$f has mode $mode, want 600"
done
sum="$(sha256sum "$ca" | cut -d' ' -f1)"
first_ca="$tmp/first-ca.pem"
cp "$ca" "$first_ca"

stop
start
[ "$(sha256sum "$ca" | cut -d' ' -f1)" = "$sum" ] || fail "the CA changed on restart"
aws --endpoint-url "$endpoint" --ca-bundle "$first_ca" sts get-caller-identity >/dev/null \
  || fail "the first start's CA bundle is not trusted after a restart"
echo "tls: ok"
