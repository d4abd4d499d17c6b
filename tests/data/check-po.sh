#!/bin/bash
# Every translation compiles, keeps the format directives of its msgid and is finished.
set -euo pipefail

if ! command -v msgfmt >/dev/null; then
  echo "msgfmt is not installed"
  exit 77
fi

failed=0
for po in "$@"; do
  # --check compares the format directives of msgid and msgstr and checks the header.
  if ! stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$po" 2>&1); then
    echo "FAIL: $po:"
    echo "$stats"
    failed=1
    continue
  fi
  echo "$po: $stats"
  if grep -Eq 'fuzzy|untranslated' <<<"$stats"; then
    echo "FAIL: $po has fuzzy or untranslated messages"
    failed=1
  fi
done
exit $failed
