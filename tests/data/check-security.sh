#!/bin/bash
# The system unit's exposure level as systemd-analyze security rates it (lower is better).
set -euo pipefail

unit=$1 threshold=$2

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed"
  exit 77
fi

# --threshold counts in tenths of the level it prints.
tenths=$(awk -v t="$threshold" 'BEGIN { printf "%d", t * 10 + 0.5 }')
status=0
output=$(systemd-analyze security --offline=true --threshold="$tenths" --no-pager "$unit" 2>&1) ||
  status=$?

# Settings that still leave something open, then the verdict.
grep -v '^✓' <<<"$output" | grep -v '^ *NAME ' || true
level=$(sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$output")
if [ -z "$level" ]; then
  echo "FAIL: no exposure level in the output:"
  echo "$output"
  exit 1
fi
echo "exposure level: $level (threshold $threshold)"

if grep -qF "$unit:" <<<"$output"; then
  echo "FAIL: systemd-analyze could not read every line of $unit"
  exit 1
fi
if [ "$status" -ne 0 ] || ! awk -v l="$level" -v t="$threshold" 'BEGIN { exit !(l <= t) }'; then
  echo "FAIL: exposure $level is above $threshold (exit $status)"
  exit 1
fi
