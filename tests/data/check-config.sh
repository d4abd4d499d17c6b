#!/bin/bash
# The shipped smartrag.conf passes smartragd --check-config without a single warning.
set -euo pipefail

smartragd=$1 conf=$2

status=0
output=$(LC_ALL=C.UTF-8 LANGUAGE= "$smartragd" --check-config --config "$conf" 2>&1) || status=$?
echo "$output"
if [ "$status" -ne 0 ]; then
  echo "FAIL: smartragd --check-config exited with $status"
  exit 1
fi
if [ "$output" != "$conf: configuration is valid" ]; then
  echo "FAIL: expected only \"$conf: configuration is valid\""
  exit 1
fi
