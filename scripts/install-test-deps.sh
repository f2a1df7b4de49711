#!/usr/bin/env bash
# What the test suite needs beyond npm packages, from Debian: headless Chromium for the invitation
# page test, redis-server for the private Redis that tests (and `npm start`) run, and Go with sprig and
# sigs.k8s.io/yaml for the chart renderer the Helm chart tests build (scripts/helm-render). Idempotent:
# installs only what is missing, and refreshes the package lists at most once.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || missing+=(golang-github-masterminds-sprig-dev)
[ -d /usr/share/gocode/src/sigs.k8s.io/yaml ] || missing+=(golang-k8s-sigs-yaml-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${missing[*]}; install them with your package manager" >&2
  exit 0
fi
echo "install-test-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
