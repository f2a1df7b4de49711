#!/usr/bin/env bash
# Makes the base image the project image builds FROM, without any registry but Debian's:
# a Debian bookworm rootfs by debootstrap (from the mirror this machine's apt uses), plus this
# machine's Node (>= 20.19) and npm, imported into podman as $BASE_IMAGE (default
# localhost/mediator-base:bookworm-node20).
#
# Why the host's Node: bookworm's own nodejs is 18.19 and the apps need >= 20.19. The host runs
# Debian bookworm too, so its node binary links against the same glibc and libstdc++ the rootfs has;
# the script refuses a host that is not bookworm or a Node that is too old.
#
# Needs root, debootstrap, podman and runc (scripts/image/install-deps.sh). The rootfs is cached in
# .cache/image/ (debootstrap takes minutes); delete it to start over.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
BASE_IMAGE="${BASE_IMAGE:-localhost/mediator-base:bookworm-node20}"
cache="$root/.cache/image"
rootfs_tar="$cache/bookworm-minbase.tar"

log() { printf '== %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "build-base: run as root (debootstrap)" >&2; exit 1; }
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || { echo "build-base: the host is $PRETTY_NAME, not Debian bookworm: its node binary may not run in the rootfs" >&2; exit 1; }
node_bin="$(readlink -f "$(command -v node)")"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "build-base: node $(node -v) is older than 20.19" >&2; exit 1; }
npm_dir="$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")"

# The first Debian mirror of apt's sources (deb822 or one-line format).
mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)"
[ -n "$mirror" ] || mirror="$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
[ -n "$mirror" ] || { echo "build-base: no Debian mirror found in apt's sources" >&2; exit 1; }

mkdir -p "$cache"
if [ ! -s "$rootfs_tar" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  log "debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"
  trap - EXIT
fi

log "adding node $(node -v) and npm $(npm -v) from this machine"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/usr/bin" "$stage/usr/lib/node_modules" "$stage/usr/include"
cp "$node_bin" "$stage/usr/bin/node"
cp -a "$npm_dir" "$stage/usr/lib/node_modules/npm"
[ -d /usr/include/node ] && cp -a /usr/include/node "$stage/usr/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/bin/npx"
cp "$rootfs_tar" "$stage/base.tar"
tar -C "$stage" -rf "$stage/base.tar" ./usr/bin/node ./usr/bin/npm ./usr/bin/npx ./usr/lib/node_modules/npm $([ -d "$stage/usr/include/node" ] && echo ./usr/include/node)

. "$root/scripts/image/podman-env.sh"
log "importing as $BASE_IMAGE"
pod import --change 'CMD ["node"]' --change 'ENV LANG=C.UTF-8' "$stage/base.tar" "$BASE_IMAGE" >/dev/null
pod run --rm --network none "${PODMAN_LIMITS[@]}" "$BASE_IMAGE" node -e 'console.log("base image: node " + process.version)'
echo "$BASE_IMAGE"
