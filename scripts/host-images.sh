#!/usr/bin/env bash
# Two container images for the who-pays table of docs/host.md, built offline with umoci as OCI image
# layouts from files of a Debian bookworm machine: both start FROM one base layer (Python 3.11's
# standard library, /usr/lib/python3.11, and the interpreter), then each adds its own app layer —
#   web:   the workspace's typescript-5.6.3 package as /app/node_modules/typescript
#   tools: Debian's Python packages, /usr/lib/python3/dist-packages
# Usage: scripts/host-images.sh [OUT_DIR]   (default .cache/host-images; needs umoci, run as root)
set -euo pipefail
out=${1:-.cache/host-images}
repo=$(cd "$(dirname "$0")/.." && pwd)
ts=$(cd "$repo" && node -e "const p=require('node:path');console.log(p.dirname(require('node:fs').realpathSync(require.resolve('typescript-5.6.3/package.json'))))")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
layer() { # IMAGE DIR-INSIDE SOURCE: one more layer holding SOURCE at DIR-INSIDE
  local image=$1 inside=$2 src=$3
  rm -rf "$tmp/bundle"
  umoci unpack --image "$image" "$tmp/bundle" >/dev/null
  mkdir -p "$tmp/bundle/rootfs$(dirname "$inside")"
  cp -a "$src" "$tmp/bundle/rootfs$inside"
  umoci repack --image "$image" "$tmp/bundle" >/dev/null
}
for name in web tools; do
  rm -rf "${out:?}/$name"
  umoci init --layout "$out/$name"
  umoci new --image "$out/$name:latest"
  layer "$out/$name:latest" /usr/lib/python3.11 /usr/lib/python3.11
  layer "$out/$name:latest" /usr/bin/python3.11 /usr/bin/python3.11
done
layer "$out/web:latest" /app/node_modules/typescript "$ts"
layer "$out/tools:latest" /usr/lib/python3/dist-packages /usr/lib/python3/dist-packages
echo "$out/web $out/tools"
