#!/usr/bin/env bash
# Runs each Go fuzz target for a fixed number of executions (default 200000):
# usage fuzz.sh [COUNT].
#
# The budget is a count, not a duration: with a duration (-fuzztime 10s) the
# Go 1.26 fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when the deadline fires while a worker is mid-call
# (go.dev/issue/75804, fixed in Go 1.27). A count has no deadline to race.
# Minimization is bounded by a count too: the coordinator minimizes every
# input that widens coverage, up to a minute each by default, which stalled
# a run for minutes at 0 executions a second.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200000}"
n="${n%x}"
grep -rl --include='*_test.go' '^func Fuzz' internal | while read -r f; do
  pkg="./$(dirname "$f")"
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $fn (${n} executions)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "${n}x" -fuzzminimizetime 1000x "$pkg"
  done
done
