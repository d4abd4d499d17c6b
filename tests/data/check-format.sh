#!/bin/bash
# Checks that every C file in the repository follows .clang-format.
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format is not installed; skipping"; exit 77; }
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null || find src tests tools -name '*.[ch]')
[ "${#files[@]}" -gt 0 ] || { echo "no C files found"; exit 1; }
if ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "Run: clang-format -i \$(git ls-files '*.c' '*.h' '*.cpp')" >&2
  exit 1
fi
echo "${#files[@]} files follow .clang-format"
