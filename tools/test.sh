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

# Debian 12 package names; the design's Dependencies section is the reference.
BUILD_PACKAGES=(
  meson ninja-build pkg-config gcc g++ gettext
  libsystemd-dev libglib2.0-dev libsqlite3-dev libjson-glib-dev libsoup-3.0-dev
  libhnswlib-dev libpolkit-gobject-1-dev libxml2-dev libpoppler-glib-dev libarchive-dev
  libseccomp-dev
)
TEST_PACKAGES=(
  dbus-daemon dbus-bin     # private buses (dbus-daemon, dbus-run-session, dbus-send)
  systemd                  # busctl, systemd-analyze
  libglib2.0-bin           # gdbus
  util-linux passwd        # setpriv/runuser and useradd: tests that act as another user
  polkitd                  # pkaction and the policy DTD
  python3-dbusmock python3-gi python3-websockets
  curl gcovr libxml2-utils clang-format
)

say() { printf 'test.sh: %s\n' "$*" >&2; }

# Installs whichever of the given packages are missing: as root directly, otherwise
# through sudo when there is one; else says what to install and fails.
ensure_packages() {
  if ! command -v dpkg-query > /dev/null || ! command -v apt-get > /dev/null; then
    say "not a Debian system: make sure the equivalents of these are installed: $*"
    return 0
  fi
  local missing=() package
  for package in "$@"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$package" 2> /dev/null) == installed ]] \
      || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0

  local sudo=()
  if ((EUID != 0)); then
    if ! command -v sudo > /dev/null; then
      say "these packages are missing; install them as root, then run this again:"
      say "  apt-get install ${missing[*]}"
      return 1
    fi
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

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
