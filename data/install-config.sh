#!/bin/sh
# meson install: puts the documented configuration in place only where none is yet.

# Installing again so keeps what an administrator changed; the same file is always
# installed as an example beside the documentation.
set -eu

example=$1 dir=$2
target=${DESTDIR:-}$dir/smartrag.conf

if [ -e "$target" ]; then
  [ -n "${MESON_INSTALL_QUIET:-}" ] || echo "Keeping $target"
  exit 0
fi
install -D -m 0644 "$example" "$target"
[ -n "${MESON_INSTALL_QUIET:-}" ] || echo "Installing $example to $target"
