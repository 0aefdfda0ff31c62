#!/usr/bin/env bash
# Runs the partner guide's journey with the boto3 client against a fresh
# deskplane server: test/e2e/boto3.sh BIN (see walkthrough.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python3 -c 'import boto3' 2>/dev/null || { echo "boto3 is not installed (pip install boto3)" >&2; exit 1; }
exec bash "$here/walkthrough.sh" "${1:?usage: boto3.sh BIN}" boto3
