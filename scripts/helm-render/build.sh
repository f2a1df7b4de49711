#!/usr/bin/env bash
# Builds scripts/helm-render into .cache/helm-render from Debian's Go toolchain and Go libraries
# (golang-go, golang-github-masterminds-sprig-dev, golang-k8s-sigs-yaml-dev): GOPATH mode, no module
# download. Prints the binary's path; does nothing when the binary is newer than its source.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/scripts/helm-render/main.go"
out="$root/.cache/helm-render"
gocode=/usr/share/gocode/src

if [ -x "$out" ] && [ "$out" -nt "$src" ]; then echo "$out"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "helm-render: no Go toolchain (apt-get install golang-go)" >&2; exit 2; }
[ -d "$gocode/github.com/Masterminds/sprig" ] || { echo "helm-render: no sprig (apt-get install golang-github-masterminds-sprig-dev)" >&2; exit 2; }
[ -d "$gocode/sigs.k8s.io/yaml" ] || { echo "helm-render: no sigs.k8s.io/yaml (apt-get install golang-k8s-sigs-yaml-dev)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# GOPATH mode resolves import paths literally; sprig and semver are v3 modules installed without the
# /v3 directory, so give them one.
for mod in github.com/Masterminds/sprig github.com/Masterminds/semver; do
  mkdir -p "$work/gopath/src/$mod"
  ln -s "$gocode/$mod" "$work/gopath/src/$mod/v3"
done
mkdir -p "$work/gopath/src/helm-render" "$(dirname "$out")"
cp "$src" "$work/gopath/src/helm-render/"
(cd "$work/gopath/src/helm-render" && GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOFLAGS= go build -o "$out.$$.tmp" .)
mv "$out.$$.tmp" "$out"
echo "$out"
