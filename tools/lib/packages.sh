# Shared by tools/run.sh and tools/test.sh: the Debian 12 packages SmartRAG builds with,
# and installing whichever are missing. Source it; it expects a say() function.

# The design's Dependencies section is the reference.
BUILD_PACKAGES=(
  meson ninja-build pkg-config gcc g++ gettext
  libsystemd-dev libglib2.0-dev libsqlite3-dev libjson-glib-dev libsoup-3.0-dev
  libhnswlib-dev libpolkit-gobject-1-dev libxml2-dev libpoppler-glib-dev libarchive-dev
  libseccomp-dev nettle-dev
)

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
