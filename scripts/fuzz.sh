#!/usr/bin/env bash
# Runs each Go fuzz target for a short time (default 10s): usage fuzz.sh [DURATION].
set -euo pipefail
cd "$(dirname "$0")/.."
d="${1:-10s}"
grep -rl --include='*_test.go' '^func Fuzz' internal | while read -r f; do
  pkg="./$(dirname "$f")"
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $fn ($d)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$d" "$pkg"
  done
done
