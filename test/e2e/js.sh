#!/usr/bin/env bash
# Runs the partner guide's journey with the js client against a fresh
# deskplane server: test/e2e/js.sh BIN (see walkthrough.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${1:?usage: js.sh BIN}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
# Install the locked SDK clients (npm's cache makes repeated runs offline).
(cd "$here/js" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
exec bash "$here/walkthrough.sh" "$bin" js
