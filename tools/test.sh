#!/bin/bash
# The test command: installs the Debian packages that are missing, builds, runs every test suite.
#
#   tools/test.sh                       build in ./build and run all suites
#   tools/test.sh --suite unit          arguments go to `meson test`
#   BUILD_DIR=build-asan MESON_OPTIONS=-Db_sanitize=address,undefined tools/test.sh
#
# BUILD_DIR (default: build, relative to the source tree) is reused when it exists;
# MESON_OPTIONS are passed to `meson setup` each time, so they also change an existing
# build directory (options left out keep their earlier value).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$SRC/$BUILD_DIR
read -r -a MESON_SETUP_OPTIONS <<< "${MESON_OPTIONS:-}"

TEST_PACKAGES=(
  dbus-daemon dbus-bin     # private buses (dbus-daemon, dbus-run-session, dbus-send)
  systemd                  # busctl, systemd-analyze
  libglib2.0-bin           # gdbus
  util-linux passwd        # setpriv/runuser and useradd: tests that act as another user
  polkitd                  # pkaction and the policy DTD
  python3-dbusmock python3-gi python3-websockets
  curl gcovr libxml2-utils clang-format
  gdb                      # stacks of a daemon that does not stop, in the failing test's log
)

say() { printf 'test.sh: %s\n' "$*" >&2; }
# shellcheck source=tools/lib/packages.sh
source "$SRC/tools/lib/packages.sh"

# Sets up BUILD_DIR, or reconfigures it with MESON_SETUP_OPTIONS; a directory that
# cannot be reconfigured (made by another meson, half-written) is wiped and set up anew.
setup_build_dir() {
  if [[ -f $BUILD_DIR/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "${MESON_SETUP_OPTIONS[@]}" "$BUILD_DIR" "$SRC" && return 0
    say "reconfiguring $BUILD_DIR failed; wiping it and setting it up again"
    meson setup --wipe "${MESON_SETUP_OPTIONS[@]}" "$BUILD_DIR" "$SRC"
    return
  fi
  meson setup "${MESON_SETUP_OPTIONS[@]}" "$BUILD_DIR" "$SRC"
}

main() {
  ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  setup_build_dir
  meson compile -C "$BUILD_DIR"
  meson test -C "$BUILD_DIR" --print-errorlogs "$@"
}

main "$@"
