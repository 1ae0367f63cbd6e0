#!/usr/bin/env bash
# Build upstream erofs-utils 1.9.3 from the release vendored in third_party/erofs-utils/ (the tools the
# tests and the benchmark compare against: mkfs.erofs --xattr-inode-digest, fsck.erofs, dump.erofs).
#
#   bash scripts/build-erofs-utils.sh [PREFIX]
#
# PREFIX (where the tools are installed; PREFIX/bin holds them) defaults to $ISHARE_EROFS_UTILS_PREFIX,
# else ${XDG_CACHE_HOME:-$HOME/.cache}/ishare/erofs-utils-1.9.3 — one cache for every clone and every
# test process of this user. The last line printed on stdout is the bin directory; everything else
# goes to stderr. Idempotent: when the tools are there the script only prints the path. Concurrent
# calls wait for each other (flock). The first build needs the C toolchain and the library headers;
# missing Debian packages are installed with apt-get (as root, or through sudo).
set -euo pipefail

version=1.9.3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$here/third_party/erofs-utils"
tarball="$vendor/erofs-utils-$version.tar.gz"
prefix="${1:-${ISHARE_EROFS_UTILS_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/ishare/erofs-utils-$version}}"

built() { [ -x "$prefix/bin/mkfs.erofs" ] && "$prefix/bin/mkfs.erofs" --version 2>&1 | grep -q "$version"; }

if built; then
  echo "$prefix/bin"
  exit 0
fi

mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
flock 9
# Another process may have finished the build while this one waited for the lock.
if built; then
  echo "$prefix/bin"
  exit 0
fi

# The vendored release must be the one its README names.
(cd "$vendor" && sha256sum --quiet -c "erofs-utils-$version.tar.gz.sha256") >&2 || {
  echo "build-erofs-utils: $tarball does not match its recorded sha256" >&2
  exit 1
}

deps="autoconf automake libtool pkg-config make gcc uuid-dev liblz4-dev liblzma-dev libzstd-dev zlib1g-dev"
missing=""
for p in $deps; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "build-erofs-utils: missing build packages:$missing (apt-get install them as root)" >&2
      exit 1
    fi
  fi
  echo "build-erofs-utils: installing build packages:$missing" >&2
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing; } </dev/null >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/erofs-utils-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
echo "build-erofs-utils: building erofs-utils $version into $prefix" >&2
(
  cd "$work/erofs-utils-$version"
  ./autogen.sh
  # No FUSE front end and no SELinux labels: the tests use mkfs, fsck and dump only.
  ./configure --prefix="$prefix" --disable-fuse --without-selinux
  make -j"$(nproc 2>/dev/null || echo 2)"
  make install
) >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  echo "build-erofs-utils: the build failed (last lines above)" >&2
  exit 1
}
built || {
  echo "build-erofs-utils: $prefix/bin/mkfs.erofs is not version $version after the build" >&2
  exit 1
}
"$prefix/bin/mkfs.erofs" --version >&2
echo "$prefix/bin"
